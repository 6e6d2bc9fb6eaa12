package sheet

import (
	"errors"
	"fmt"
)

// Whole-file refusals. Read wraps each in a *FileError with the message in both languages;
// callers test them with errors.Is. ErrTooLarge is the only one that means 413 (the upload
// itself is too big); every other one means the file cannot be read as a register (422).
var (
	// ErrTooLarge: the file has more bytes than Limits.MaxBytes.
	ErrTooLarge = errors.New("file too large")
	// ErrNotSpreadsheet: neither XLSX nor CSV text (e.g. a PDF, an image, an old .xls).
	ErrNotSpreadsheet = errors.New("not a spreadsheet")
	// ErrBrokenFile: an XLSX whose zip or XML cannot be read.
	ErrBrokenFile = errors.New("broken file")
	// ErrInflatedTooLarge: an XLSX that inflates beyond the limits (a zip bomb, or far more
	// markup than a register needs).
	ErrInflatedTooLarge = errors.New("inflates too large")
	// ErrNoHeader: no row near the top names enough known columns.
	ErrNoHeader = errors.New("no header row")
	// ErrTooManyRows: more data rows than Limits.MaxRows.
	ErrTooManyRows = errors.New("too many rows")
	// ErrTooManyColumns: a value beyond column Limits.MaxCols.
	ErrTooManyColumns = errors.New("too many columns")
)

// FileError is a refusal of the whole file: Err is one of the sentinels above, Message is
// for the office (Chinese) and MessageEn the same in English. Error returns MessageEn.
type FileError struct {
	Err       error
	Message   string
	MessageEn string
}

func (e *FileError) Error() string { return e.MessageEn }

// Unwrap makes errors.Is(err, ErrTooLarge) and the like work.
func (e *FileError) Unwrap() error { return e.Err }

func fileErr(sentinel error, zh, en string, args ...any) *FileError {
	return &FileError{Err: sentinel, Message: fmt.Sprintf(zh, args...), MessageEn: fmt.Sprintf(en, args...)}
}
