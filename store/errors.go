package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the server maps each to one status.
var (
	// ErrNotFound means the project, user, token or session does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the thing to create already exists.
	ErrConflict = errors.New("already exists")
	// ErrForbidden means the actor may not make this change.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable means the database could not commit; nothing was written.
	ErrUnavailable = errors.New("database unavailable")
	// ErrClosed means the store is closed or closing.
	ErrClosed = errors.New("store closed")
	// ErrBadCredentials means a login's user name or password is wrong.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrWrongType is what a store type's UnmarshalJSON returns for a JSON value of the wrong
	// kind (a Date given a number): a decoder of requests reports a value of the wrong type.
	ErrWrongType = errors.New("wrong type")
)

// ValidationError says which field of an input is wrong and why.
type ValidationError struct {
	Field   string
	Message string
	// Type is true when the value had the wrong JSON type rather than a bad value.
	Type bool
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// VersionMismatchError is returned when an update names a version that is no longer current.
type VersionMismatchError struct {
	Current Project
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("project %s is at version %d", e.Current.ID, e.Current.Version)
}

// wrapWrite marks a failed commit as ErrUnavailable unless it is one of ours.
func wrapWrite(err error) error {
	if err == nil || isDomainError(err) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("commit: %v: %w", err, ErrUnavailable)
}

// isDomainError reports whether err is one of the refusals a caller is told as it is.
func isDomainError(err error) bool {
	for _, e := range []error{ErrNotFound, ErrConflict, ErrForbidden, ErrBadCredentials, ErrLastAdmin} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ve *ValidationError
	return errors.As(err, &ve)
}
