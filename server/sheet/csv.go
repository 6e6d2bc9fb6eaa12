package sheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// maxCSVFields bounds the fields of one CSV record, empty ones included: Excel has 16,384
// columns, and encoding/csv makes a slice of every field of a record before we see it.
const maxCSVFields = 16384

// openCSV detects the encoding (UTF-8 with or without BOM, else GB18030; Read refuses UTF-16) and the delimiter,
// checks every record's width in one pass over the bytes, and returns the row source.
func openCSV(data []byte, lim Limits) (*csvSource, string, error) {
	format := "csv-utf8"
	var text io.Reader
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
		text = bytes.NewReader(data)
	case utf8.Valid(data):
		text = bytes.NewReader(data)
	default:
		format = "csv-gb18030"
		text = transform.NewReader(bytes.NewReader(data), simplifiedchinese.GB18030.NewDecoder())
	}
	// ',', '"', '\t', ';' and line breaks are single bytes in UTF-8 and GB18030 alike (no
	// multi-byte character contains them), so the raw bytes can be scanned for them.
	comma := sniffDelimiter(data)
	if err := checkWidths(data, comma, lim.MaxCols); err != nil {
		return nil, "", err
	}
	r := csv.NewReader(text)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	return &csvSource{r: r}, format, nil
}

// sniffDelimiter picks ',', tab or ';' by which is most frequent in the first 8 KB.
func sniffDelimiter(data []byte) rune {
	head := data[:min(len(data), 8<<10)]
	best, n := ',', bytes.Count(head, []byte{','})
	for _, c := range []rune{'\t', ';'} {
		if k := bytes.Count(head, []byte{byte(c)}); k > n {
			best, n = c, k
		}
	}
	return best
}

// checkWidths refuses a record with a non-empty field beyond maxCols, or more than
// maxCSVFields fields at all, the way encoding/csv with LazyQuotes splits them.
func checkWidths(data []byte, comma rune, maxCols int) error {
	sep := byte(comma)
	field, lastFull, line := 0, -1, 1
	quoted, atStart, full := false, true, false
	endField := func() error {
		if full {
			lastFull = field
		}
		field++
		if lastFull >= maxCols {
			return tooManyColumns(lastFull+1, maxCols, line)
		}
		if field > maxCSVFields {
			return fileErr(ErrTooManyColumns, "第 %d 行超过 %d 列", "row %d has more than %d columns", line, maxCSVFields)
		}
		atStart, full = true, false
		return nil
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if quoted {
			switch {
			case c == '"' && i+1 < len(data) && data[i+1] == '"':
				i++
			case c == '"' && (i+1 == len(data) || data[i+1] == sep || data[i+1] == '\n' || data[i+1] == '\r'):
				quoted = false
			case c == '\n':
				line++
			}
			// Any other quote inside a quoted field is kept as a character (LazyQuotes).
			continue
		}
		switch {
		case c == '"' && atStart:
			quoted, atStart, full = true, false, true
		case c == sep:
			if err := endField(); err != nil {
				return err
			}
		case c == '\n':
			if err := endField(); err != nil {
				return err
			}
			field, lastFull = 0, -1
			line++
		case c == '\r' || c == ' ' && atStart:
		default:
			atStart, full = false, true
		}
	}
	return endField()
}

func tooManyColumns(col, maxCols, line int) error {
	return fileErr(ErrTooManyColumns, "第 %d 行在第 %s 列有内容，最多读取 %d 列",
		"row %d has a value in column %s; at most %d columns are read", line, columnLetter(col), maxCols)
}

// csvSource yields records with the row numbers Excel would show: blank lines count as rows
// (encoding/csv skips them), a quoted field with line breaks is one row.
type csvSource struct {
	r       *csv.Reader
	row     int // the last record's row
	endLine int // the last record's last line
}

func (s *csvSource) next() ([]string, int, bool, error) {
	rec, err := s.r.Read()
	if err == io.EOF {
		return nil, 0, false, nil
	}
	if err != nil {
		var pe *csv.ParseError
		line := s.endLine + 1
		if errors.As(err, &pe) {
			line = pe.StartLine
		}
		return nil, 0, false, fileErr(ErrBrokenFile, "CSV 文件第 %d 行附近无法读取", "the CSV file cannot be read near line %d", line)
	}
	start, _ := s.r.FieldPos(0)
	last, _ := s.r.FieldPos(len(rec) - 1)
	s.row += start - s.endLine
	s.endLine = last + strings.Count(rec[len(rec)-1], "\n")
	for i, v := range rec {
		// Undo the formula neutralisation of our own CSV export ("'=…" → "=…").
		if len(v) > 1 && v[0] == '\'' && strings.IndexByte("=+-@\t\r", v[1]) >= 0 {
			rec[i] = v[1:]
		}
	}
	return rec, s.row, true, nil
}
