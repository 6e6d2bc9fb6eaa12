package server

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

// parsedSheet is an uploaded register read into plain store values.
type parsedSheet struct {
	Format    string
	Sheet     string
	HeaderRow int
	Columns   []importColumn
	Unmatched []string
	Notes     []importNote
	Rows      []store.ImportRow
	table     *sheet.Table
}

type importNote struct {
	Row       int    `json:"row,omitempty"`
	Message   string `json:"message"`
	MessageEn string `json:"messageEn"`
}

// column names a field's column as the sheet shows it.
func (p *parsedSheet) column(field string) (header, letter string) {
	if c := p.table.ColumnOf(field); c != nil {
		return c.Header, c.Letter
	}
	return sheet.Label(field), "" // not in the sheet: named as the template names it
}

// parseSheet reads an uploaded file (see server/sheet for the formats and limits). A whole
// file refused is 413 when too large and 422 bad_file otherwise, with the reason.
func parseSheet(name string, data []byte) (*parsedSheet, error) {
	t, err := sheet.Read(name, data, sheet.Limits{MaxBytes: maxUpload})
	var fe *sheet.FileError
	switch {
	case errors.As(err, &fe) && errors.Is(err, sheet.ErrTooLarge):
		return nil, errorf(fiber.StatusRequestEntityTooLarge, "too_large", "file", fe.MessageEn)
	case errors.As(err, &fe):
		return nil, &apiError{Status: fiber.StatusUnprocessableEntity, Code: "bad_file", Field: "file",
			Message: fe.MessageEn, MessageZh: fe.Message}
	case err != nil:
		return nil, err
	}
	p := &parsedSheet{Format: t.Format, Sheet: t.Sheet, HeaderRow: t.HeaderRow, table: t, Unmatched: []string{}}
	for _, c := range t.Columns {
		p.Columns = append(p.Columns, importColumn{Letter: c.Letter, Header: c.Header, Field: c.Field, Unit: c.Unit})
	}
	for _, c := range t.Unmatched {
		p.Unmatched = append(p.Unmatched, c.Header)
	}
	for _, n := range t.Notes {
		p.Notes = append(p.Notes, importNote{Row: n.Line, Message: n.Message, MessageEn: n.MessageEn})
	}
	p.Rows = make([]store.ImportRow, len(t.Rows))
	for i, r := range t.Rows {
		ir := store.ImportRow{Line: r.Line, ID: r.ID, Patch: r.Patch}
		for _, e := range r.Errors {
			ir.Errors = append(ir.Errors, store.ImportError{Column: e.Column, Letter: e.Letter, Field: e.Field,
				Message: fmt.Sprintf("第 %d 行%s", r.Line, e.Message), MessageEn: fmt.Sprintf("row %d, %s", r.Line, e.MessageEn)})
		}
		p.Rows[i] = ir
	}
	return p, nil
}
