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
