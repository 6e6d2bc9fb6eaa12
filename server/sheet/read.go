// Package sheet reads and writes the office's register files: XLSX and CSV as offices make
// them (title rows, two-row headers with merged cells, units in the headers, numbers typed
// as text, dates as Excel serials or in Chinese forms), with bounded work for any input.
//
// Reading turns a file into rows of store.Patch values with per-cell errors; it knows
// nothing of the store's contents or of HTTP. Writing streams projects and changes out as
// XLSX (styled, frozen header, filters, drop-downs) or CSV (UTF-8 with BOM, formulas
// neutralised). docs/import-export.md is the office-facing description.
package sheet

import (
	"bytes"
	"fmt"
	"strings"

	"projectboard/store"
)

// Limits bound the work for one file. A zero field means its default.
type Limits struct {
	MaxBytes    int64 // size of the file; default 20 MB
	MaxRows     int   // data rows (blank rows not counted); default 100,000
	MaxCols     int   // columns holding values; default 200
	MaxUnzipped int64 // an XLSX's inflated size, all parts together; default 200 MB
}

// The defaults of Limits.
const (
	DefaultMaxBytes    = 20 << 20
	DefaultMaxRows     = 100_000
	DefaultMaxCols     = 200
	DefaultMaxUnzipped = 200 << 20
)

// Fixed bounds of the reader (see docs/import-export.md).
const (
	// HeaderSearchRows: the header must start within the sheet's first rows (title rows,
	// a unit line and blank rows above it are fine).
	HeaderSearchRows = 10
	// MaxBlankRun: after this many blank rows in a row reading stops, with a note; a sheet
	// formatted down to row 1,048,576 costs no more than this.
	MaxBlankRun = 10_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxCols <= 0 {
		l.MaxCols = DefaultMaxCols
	}
	if l.MaxUnzipped <= 0 {
		l.MaxUnzipped = DefaultMaxUnzipped
	}
	return l
}

// Table is a file as read: its columns and its data rows.
type Table struct {
	Format    string   // "xlsx", "csv-utf8" or "csv-gb18030"
	Sheet     string   // the worksheet read (XLSX only)
	HeaderRow int      // the header's last row, 1-based (the second of a two-row header)
	Columns   []Column // the recognised columns, in sheet order
	Unmatched []Column // headers not recognised, or a second column for the same field (Field "")
	Rows      []Row    // data rows with anything in a recognised column, in sheet order
	Notes     []Note   // things the office should know that are not errors
}

// Column is one recognised column.
type Column struct {
	Letter string // "D"
	Header string // as the office sees it: "总投资（亿元）", or "投资情况（万元）/总投资" for a two-row header whose lower cell alone does not name it
	Field  string // the store field (JSON name) or "id"
	Unit   string // money columns: 元, 万元 or 亿元; progress: "%" when the header says so
	index  int    // 0-based position in the sheet's rows
}

// Row is one data row. Patch has a non-nil pointer for every cell that parsed; a cell with
// an error leaves its field nil and adds a CellError.
type Row struct {
	Line   int    // the row number as the office sees it in the sheet (1-based)
	ID     string // the project id cell, if the sheet has one
	Patch  store.Patch
	Errors []CellError
	// Values are the row's cells by Columns index, kept only for rows with errors (for
	// WriteErrorsXLSX); dates that parsed are given as YYYY-MM-DD.
	Values []string
}

// CellError is one cell that did not parse, named as the office sees it.
type CellError struct {
	Column    string // the header text
	Letter    string // the column letter
	Field     string // the store field
	Message   string // 「总投资」：不能为负数
	MessageEn string // 总投资: must not be negative
}

// Note is something about the file that is not an error: a column read past, rows skipped,
// reading stopped after many blank rows. Line is 0 when it concerns no single row.
type Note struct {
	Line      int
	Message   string
	MessageEn string
}

// ColumnOf returns the column holding field, or nil.
func (t *Table) ColumnOf(field string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Field == field {
			return &t.Columns[i]
		}
	}
	return nil
}

// Read reads an uploaded register: XLSX (the first visible worksheet) or CSV in UTF-8 (with
// or without BOM) or GB18030, detected from the bytes; fileName only sharpens the messages.
// A refusal of the whole file is a *FileError wrapping one of the Err… sentinels; problems
// of single cells are in the rows.
func Read(fileName string, data []byte, lim Limits) (*Table, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fileErr(ErrTooLarge, "文件超过 %d MB", "the file is larger than %d MB", lim.MaxBytes>>20)
	}
	lower := strings.ToLower(fileName)
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return readXLSX(data, lim)
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return nil, fileErr(ErrNotSpreadsheet, "这是旧版 .xls 文件或加密的工作簿，无法读取：请在 Excel 中“另存为” .xlsx（不设密码）或 CSV",
			"this is an old .xls file or a password-protected workbook: save it as .xlsx (without a password) or CSV")
	case strings.HasSuffix(lower, ".xlsx") || bytes.HasPrefix(data, []byte("PK")):
		return nil, fileErr(ErrBrokenFile, "XLSX 文件已损坏（不是有效的 zip 压缩包），请在 Excel 中重新保存",
			"the XLSX file is damaged (not a valid zip archive); save it again in Excel")
	case len(data) == 0:
		return nil, fileErr(ErrNoHeader, "文件是空的", "the file is empty")
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return nil, fileErr(ErrNotSpreadsheet, "不支持 UTF-16（Unicode 文本）文件，请另存为“CSV UTF-8”或 XLSX",
			"UTF-16 (Unicode text) files are not read; save as CSV UTF-8 or XLSX")
	case looksBinary(data):
		return nil, fileErr(ErrNotSpreadsheet, "不是表格文件：请上传 XLSX 或 CSV 文件", "not a spreadsheet: upload an XLSX or CSV file")
	}
	src, format, err := openCSV(data, lim)
	if err != nil {
		return nil, err
	}
	t := &Table{Format: format}
	return t, readTable(t, src, nil, false, lim)
}

// looksBinary: a NUL byte near the start means no text file (PDF, images, executables).
func looksBinary(data []byte) bool {
	head := data[:min(len(data), 8<<10)]
	return bytes.IndexByte(head, 0) >= 0 || bytes.HasPrefix(head, []byte("%PDF"))
}

func readXLSX(data []byte, lim Limits) (*Table, error) {
	f, info, err := openXLSX(data, lim)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := f.Rows(info.sheet)
	if err != nil {
		return nil, brokenSheet()
	}
	defer rows.Close()
	t := &Table{Format: "xlsx", Sheet: info.sheet}
	return t, readTable(t, &xlsxSource{rows: rows}, info.merges, info.date1904, lim)
}

// source yields a sheet's rows in order: the cells ("" for blanks; the slice may be reused
// by the next call) and the 1-based row number.
type source interface {
	next() (cells []string, line int, ok bool, err error)
}

type bufferedRow struct {
	cells []string
	line  int
}

// readTable finds the header among the first rows, then reads every data row.
func readTable(t *Table, src source, merges []mergeRange, date1904 bool, lim Limits) error {
	var buf []bufferedRow
	for {
		cells, line, ok, err := src.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		cells, err = trimRow(cells, line, lim.MaxCols)
		if err != nil {
			return err
		}
		buf = append(buf, bufferedRow{cells: append([]string(nil), cells...), line: line})
		if line > HeaderSearchRows { // one more: the second row of a two-row header
			break
		}
	}
	h, err := findHeader(buf, merges, lim)
	if err != nil {
		return err
	}
	t.HeaderRow = h.lastLine
	t.Columns, t.Unmatched, t.Notes = h.columns, h.unmatched, h.notes

	r := newRowReader(t, h, merges, date1904, lim)
	for _, b := range buf {
		if done, err := r.row(b.cells, b.line); done || err != nil {
			return err
		}
	}
	for {
		cells, line, ok, err := src.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if cells, err = trimRow(cells, line, lim.MaxCols); err != nil {
			return err
		}
		if done, err := r.row(cells, line); done || err != nil {
			return err
		}
	}
	r.finish()
	return nil
}

// trimRow drops trailing blank cells and refuses a value beyond MaxCols.
func trimRow(cells []string, line, maxCols int) ([]string, error) {
	n := len(cells)
	for n > 0 && strings.TrimSpace(cells[n-1]) == "" {
		n--
	}
	if n > maxCols {
		return nil, tooManyColumns(n, maxCols, line)
	}
	return cells[:n], nil
}

// mergeState fills merged cells row by row: in header rows every cell of a range gets the
// top-left value (a parent header over its children, a header merged over two rows); in
// data rows only a vertical range's first column does (a 责任单位 merged over several
// projects), so a note merged across columns does not spill into them.
type mergeState struct {
	merges []mergeRange
	next   int
	vals   []string // top-left values, by merge index
	// active merges by first column, for data rows: at most one per column
	byCol map[int]int
	live  []int // merges started, not yet ended (header rows)
}

func newMergeState(merges []mergeRange) *mergeState {
	return &mergeState{merges: merges, vals: make([]string, len(merges)), byCol: map[int]int{}}
}

// apply fills cells of row line (which must come in ascending order) and returns them,
// possibly extended.
func (m *mergeState) apply(cells []string, line int, full bool) []string {
	if len(m.merges) == 0 {
		return cells
	}
	for m.next < len(m.merges) && m.merges[m.next].r1 <= line {
		g := m.merges[m.next]
		if g.r1 == line && g.c1-1 < len(cells) {
			m.vals[m.next] = cells[g.c1-1]
		}
		if g.r2 > line || g.r1 == line {
			m.byCol[g.c1] = m.next
			m.live = append(m.live, m.next)
		}
		m.next++
	}
	if full {
		keep := m.live[:0]
		for _, i := range m.live {
			g := m.merges[i]
			if g.r2 < line {
				continue
			}
			keep = append(keep, i)
			for len(cells) < g.c2 {
				cells = append(cells, "")
			}
			for c := g.c1; c <= g.c2; c++ {
				cells[c-1] = m.vals[i]
			}
		}
		m.live = keep
		return cells
	}
	m.live = m.live[:0]
	for c, i := range m.byCol {
		g := m.merges[i]
		if g.r2 < line {
			delete(m.byCol, c)
			continue
		}
		if g.r1 < line && m.vals[i] != "" {
			for len(cells) < c {
				cells = append(cells, "")
			}
			cells[c-1] = m.vals[i]
		}
	}
	return cells
}

// header is the result of findHeader.
type header struct {
	firstLine, lastLine int
	columns, unmatched  []Column
	notes               []Note
	ignored             []int // 序号 columns
}

// findHeader looks for the header among the buffered first rows: the first row in which at
// least two cells name known columns, one of them the project's id or name. A next row that
// names known columns under a merged or unknown parent makes it a two-row header.
func findHeader(buf []bufferedRow, merges []mergeRange, lim Limits) (*header, error) {
	ms := newMergeState(merges)
	rows := make([][]string, len(buf))
	for i, b := range buf {
		rows[i] = ms.apply(append([]string(nil), b.cells...), b.line, true)
	}
	sheetMoney := ""
	for i, cells := range rows {
		if buf[i].line > HeaderSearchRows {
			break
		}
		if !isHeaderRow(cells) {
			for _, c := range cells {
				if u := sheetUnit(c); u != "" {
					sheetMoney = u
				}
			}
			continue
		}
		h := &header{firstLine: buf[i].line, lastLine: buf[i].line}
		var sub []string
		if i+1 < len(rows) && buf[i+1].line == buf[i].line+1 && isSubHeader(cells, rows[i+1]) {
			sub = rows[i+1]
			h.lastLine = buf[i+1].line
		}
		h.build(cells, sub, sheetMoney)
		return h, nil
	}
	return nil, fileErr(ErrNoHeader,
		"在前 %d 行中没有找到表头：表头行应含有“项目名称”或“项目编号”，以及至少一个其他列名（如 项目类别、推进阶段、总投资）",
		"no header row in the first %d rows: it must name the project (项目名称 or 项目编号) and at least one other column (such as 项目类别, 推进阶段, 总投资)",
		HeaderSearchRows)
}

func isHeaderRow(cells []string) bool {
	seen := map[string]bool{}
	for _, c := range cells {
		if f, _, _ := lookupHeader(c); f != nil {
			seen[f.field] = true
		}
	}
	return len(seen) >= 2 && (seen[FieldName] || seen[FieldID])
}

// isSubHeader: the row below names a known column under a parent that is no field of its
// own (typically merged over its children) or that spans several columns ("开工时间" over
// 计划 / 实际), or under nothing.
func isSubHeader(top, below []string) bool {
	for c, s := range below {
		if strings.TrimSpace(s) == "" || (c < len(top) && top[c] == s) {
			continue
		}
		parent := cell(top, c)
		if f, _, _ := lookupHeader(parent); f != nil && !spans(top, c) {
			continue
		}
		if f, _ := lookupChild(parent, s); f != nil {
			return true
		}
	}
	return false
}

// spans reports whether the header cell c repeats in a neighbour, as a merged cell does.
func spans(top []string, c int) bool {
	v := cell(top, c)
	return v != "" && (cell(top, c-1) == v || cell(top, c+1) == v)
}

// lookupChild matches a lower header cell under its parent: alone ("总投资"), or joined with
// it ("计划" under "开工时间" → "计划开工时间"; "计划" under "年度投资" → "年度投资计划").
func lookupChild(parent, child string) (*fieldDef, string) {
	if f, unit, ign := lookupHeader(child); f != nil || ign {
		return f, unit
	}
	for _, joined := range []string{child + parent, parent + child} {
		if f, unit, _ := lookupHeader(joined); f != nil {
			return f, unit
		}
	}
	return nil, ""
}

// build makes the columns from the header row and the row below it (nil: one-row header).
func (h *header) build(top, sub []string, sheetMoney string) {
	width := max(len(top), len(sub))
	seen := map[string]Column{}
	for c := 0; c < width; c++ {
		text := cell(top, c)
		child := cell(sub, c)
		var f *fieldDef
		var unit string
		var ignored bool
		display := text
		parentUnit := ""
		if child != "" && child != text {
			_, parentUnit = headerKey(text)
			f, unit = lookupChild(text, child)
			_, _, ignored = lookupHeader(child)
			if f != nil || ignored {
				display = child
				if g, _, _ := lookupHeader(child); g == nil && text != "" && f != nil {
					display = text + "/" + child
				}
			} else {
				// The lower cell names nothing we know: the column is the upper one's.
				f, unit, ignored = lookupHeader(text)
			}
		} else {
			f, unit, ignored = lookupHeader(text)
		}
		letter := columnLetter(c + 1)
		if ignored {
			h.ignored = append(h.ignored, c)
			continue
		}
		if f == nil {
			if display != "" {
				h.unmatched = append(h.unmatched, Column{Letter: letter, Header: display, index: c})
				h.notes = append(h.notes, Note{Message: fmt.Sprintf("「%s」（%s 列）不是可导入的列，已忽略", display, letter),
					MessageEn: fmt.Sprintf("column %s 「%s」 is not a known column and was ignored", letter, display)})
			}
			continue
		}
		if unit == "" {
			unit = parentUnit
		}
		switch {
		case isMoney(f.field):
			if unit == "" || unit == UnitPercent {
				unit = sheetMoney
			}
			if unit == "" {
				unit = defaultMoneyUnit
			}
		case f.field == FieldProgress:
			if unit != UnitPercent {
				unit = ""
			}
		default:
			unit = ""
		}
		col := Column{Letter: letter, Header: display, Field: f.field, Unit: unit, index: c}
		if first, dup := seen[f.field]; dup {
			h.unmatched = append(h.unmatched, Column{Letter: letter, Header: display, index: c})
			h.notes = append(h.notes, Note{
				Message: fmt.Sprintf("「%s」（%s 列）与「%s」（%s 列）是同一字段，只读取 %s 列", display, letter,
					first.Header, first.Letter, first.Letter),
				MessageEn: fmt.Sprintf("column %s 「%s」 holds the same field as column %s 「%s」; only column %s is read",
					letter, display, first.Letter, first.Header, first.Letter)})
			continue
		}
		h.columns = append(h.columns, col)
		seen[f.field] = col
	}
}

func cell(cells []string, c int) string {
	if c >= 0 && c < len(cells) {
		return strings.TrimSpace(cells[c])
	}
	return ""
}
