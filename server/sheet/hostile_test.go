package sheet

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// Every hostile file below is refused or read with a clear outcome, in little time and with
// the heap growing by at most hostileHeapBound while it is read (the upload's own bytes,
// held by the caller, not counted). docs/import-export.md quotes these figures.
const (
	hostileHeapBound = 64 << 20
	hostileTime      = 5 * time.Second
)

// readHostile reads data and checks the time and the heap it took.
func readHostile(t *testing.T, name string, data []byte) (*Table, error) {
	t.Helper()
	var tab *Table
	var err error
	t0 := time.Now()
	peak, total := memPeak(func() { tab, err = Read(name, data, Limits{}) })
	took := time.Since(t0)
	t.Logf("%s: %d KB file, %v, heap peak +%.1f MB, allocated %.1f MB, err=%v", t.Name(), len(data)>>10, took.Round(time.Millisecond),
		float64(peak)/(1<<20), float64(total)/(1<<20), err)
	if peak > hostileHeapBound {
		t.Errorf("heap grew by %.1f MB, want at most %d MB", float64(peak)/(1<<20), hostileHeapBound>>20)
	}
	if took > hostileTime && !testing.Short() && !raceEnabled {
		t.Errorf("took %v, want at most %v", took, hostileTime)
	}
	return tab, err
}

// baseBook is a small valid workbook to put hostile parts into.
func baseBook(t *testing.T) []byte {
	return book(t, func(f *excelize.File, s string) {
		setRows(t, f, s, [][]any{{"项目名称", "形象进度"}, {"甲", 5}})
	})
}

// streamSheet writes a worksheet part: the header row, then rows from fn.
func streamSheet(fn func(w io.Writer)) func(w io.Writer) {
	return func(w io.Writer) {
		io.WriteString(w, sheetHead+headerRowXML("项目名称", "形象进度"))
		fn(w)
		io.WriteString(w, `</sheetData></worksheet>`)
	}
}

func TestHostileTooLarge(t *testing.T) {
	data := make([]byte, DefaultMaxBytes+1)
	copy(data, "PK\x03\x04")
	_, err := readHostile(t, "big.xlsx", data)
	fe := wantRefusal(t, err, ErrTooLarge)
	if !strings.Contains(fe.Message, "20 MB") {
		t.Errorf("message %q", fe.Message)
	}
	_, err = Read("a.csv", []byte(strings.Repeat("x", 2000)), Limits{MaxBytes: 1000})
	wantRefusal(t, err, ErrTooLarge)
}

// TestHostileZipBomb: a worksheet of 256 MB of zeros in a few hundred KB is refused by its
// declared size before anything is inflated; one that lies about its size (says 1 MB,
// holds 64 MB) stops at the declared size and is refused as damaged.
func TestHostileZipBomb(t *testing.T) {
	zeros := func(w io.Writer, n int) {
		block := make([]byte, 1<<20)
		for i := 0; i < n; i++ {
			w.Write(block)
		}
	}
	bomb := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", func(w io.Writer) { zeros(w, 256) })
	t.Logf("bomb: %d KB inflating to 256 MB", len(bomb)>>10)
	_, err := readHostile(t, "bomb.xlsx", bomb)
	fe := wantRefusal(t, err, ErrInflatedTooLarge)
	if !strings.Contains(fe.Message, "200 MB") {
		t.Errorf("message %q", fe.Message)
	}

	// A part that says it inflates to 8 GB is refused by what it says.
	huge := rewriteZip(t, baseBook(t), "xl/worksheets/sheet1.xml", func(zw *zip.Writer) {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate,
			CompressedSize64: 2, UncompressedSize64: 8 << 30})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte{3, 0})
	})
	_, err = readHostile(t, "8gb.xlsx", huge)
	wantRefusal(t, err, ErrInflatedTooLarge)

	// The lying bomb: a raw entry whose header says 1 MB.
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	crc := crc32.NewIEEE()
	zeros(io.MultiWriter(fw, crc), 64)
	fw.Close()
	liar := rewriteZip(t, baseBook(t), "xl/worksheets/sheet1.xml", func(zw *zip.Writer) {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate,
			CRC32: crc.Sum32(), CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(deflated.Bytes())
	})
	_, err = readHostile(t, "liar.xlsx", liar)
	wantRefusal(t, err, ErrBrokenFile)
}

// rewriteZip copies a zip, replacing one entry by what add writes.
func rewriteZip(t *testing.T, base []byte, name string, add func(zw *zip.Writer)) []byte {
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if f.Name == name {
			add(zw)
			continue
		}
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	return out.Bytes()
}

// TestHostileMarkup: parts that excelize would decode whole into memory (shared strings,
// styles) with millions of tiny elements are refused by their count.
func TestHostileMarkup(t *testing.T) {
	strs := withPart(t, baseBook(t), "xl/sharedStrings.xml", func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
		w.Write(bytes.Repeat([]byte("<si><t>a</t></si>"), 3_000_000))
		io.WriteString(w, `</sst>`)
	})
	_, err := readHostile(t, "strings.xlsx", strs)
	wantRefusal(t, err, ErrInflatedTooLarge)

	// Just under the bound for keeping shared strings in memory, the tiniest elements.
	for name, item := range map[string]string{"si": "<si/>", "si-t": "<si><t>a</t></si>"} {
		n := stringsInMemoryMarkup/strings.Count(item, "<") - 1
		small := withPart(t, baseBook(t), "xl/sharedStrings.xml", func(w io.Writer) {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
			w.Write(bytes.Repeat([]byte(item), n))
			io.WriteString(w, `</sst>`)
		})
		// A sheet that uses the last string makes excelize load them all.
		small = withPart(t, small, "xl/worksheets/sheet1.xml", func(w io.Writer) {
			io.WriteString(w, sheetHead+headerRowXML("项目名称", "形象进度"))
			fmt.Fprintf(w, `<row r="2"><c r="A2" t="s"><v>%d</v></c><c r="B2"><v>5</v></c></row></sheetData></worksheet>`, n-1)
		})
		t.Run(name, func(t *testing.T) {
			if _, err := readHostile(t, "strings.xlsx", small); err != nil {
				t.Fatal(err)
			}
		})
	}

	styles := withPart(t, baseBook(t), "xl/styles.xml", func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs>`)
		w.Write(bytes.Repeat([]byte(`<xf numFmtId="0"/>`), 1_000_000))
		io.WriteString(w, `</cellXfs></styleSheet>`)
	})
	_, err = readHostile(t, "styles.xlsx", styles)
	wantRefusal(t, err, ErrInflatedTooLarge)

	merges := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", streamSheet(func(w io.Writer) {
		io.WriteString(w, `</sheetData><mergeCells>`)
		for i := 0; i < 20_000; i++ {
			fmt.Fprintf(w, `<mergeCell ref="A%d:B%d"/>`, i+3, i+3)
		}
		io.WriteString(w, `</mergeCells><sheetData>`)
	}))
	_, err = readHostile(t, "merges.xlsx", merges)
	wantRefusal(t, err, ErrInflatedTooLarge)
}

// TestHostileBrokenZip: damaged compressed data is refused as damaged, not read in part.
func TestHostileBrokenZip(t *testing.T) {
	data := exportXLSX(t, sampleProjects(2000))
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	for _, f := range zr.File {
		if f.Name != "xl/worksheets/sheet1.xml" {
			continue
		}
		off, _ := f.DataOffset()
		bad := bytes.Clone(data)
		for i := off + 2000; i < off+2100; i++ {
			bad[i] ^= 0x5A
		}
		_, err := readHostile(t, "broken.xlsx", bad)
		wantRefusal(t, err, ErrBrokenFile)
	}
}

// TestHostileEmptyRows: a million blank rows (styled empty cells) cost MaxBlankRun rows of
// work; a far row number is reached only through blank rows and stops there too.
func TestHostileEmptyRows(t *testing.T) {
	million := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", streamSheet(func(w io.Writer) {
		io.WriteString(w, `<row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c><c r="B2"><v>5</v></c></row>`)
		var b []byte
		for r := 3; r <= 1_000_002; r++ {
			b = append(b, `<row r="`...)
			b = strconv.AppendInt(b, int64(r), 10)
			b = append(b, `"><c r="A`...)
			b = strconv.AppendInt(b, int64(r), 10)
			b = append(b, `" s="1"/></row>`...)
			if len(b) > 1<<20 {
				w.Write(b)
				b = b[:0]
			}
		}
		w.Write(b)
	}))
	tab, err := readHostile(t, "million.xlsx", million)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 1 || len(tab.Notes) != 1 || !strings.Contains(tab.Notes[0].Message, "连续 10000 行为空") {
		t.Fatalf("rows %d notes %+v", len(tab.Rows), tab.Notes)
	}

	far := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", streamSheet(func(w io.Writer) {
		io.WriteString(w, `<row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c></row>`)
		io.WriteString(w, `<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>乙</t></is></c></row>`)
	}))
	tab, err = readHostile(t, "far.xlsx", far)
	if err != nil || len(tab.Rows) != 1 || len(tab.Notes) != 1 {
		t.Fatalf("far row: %v %+v", err, tab)
	}

	// CSV: a million records of empty fields.
	csv := "项目名称,形象进度\n甲,5\n" + strings.Repeat(",,\n", 1_000_000)
	tab, err = readHostile(t, "million.csv", []byte(csv))
	if err != nil || len(tab.Rows) != 1 || len(tab.Notes) != 1 {
		t.Fatalf("csv: %v %+v", err, tab)
	}
}

// TestHostileColumns: 10,000 columns with values are refused at the first such row; a CSV
// line of ten million empty fields is refused before encoding/csv splits it.
func TestHostileColumns(t *testing.T) {
	wide := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", func(w io.Writer) {
		io.WriteString(w, sheetHead+`<row r="1">`)
		for c := 1; c <= 10_000; c++ {
			fmt.Fprintf(w, `<c r="%s1" t="inlineStr"><is><t>项目名称</t></is></c>`, columnLetter(c))
		}
		io.WriteString(w, `</row></sheetData></worksheet>`)
	})
	_, err := readHostile(t, "wide.xlsx", wide)
	fe := wantRefusal(t, err, ErrTooManyColumns)
	if !strings.Contains(fe.Message, "NTP") || !strings.Contains(fe.Message, "200") {
		t.Errorf("message %q", fe.Message)
	}

	far := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", streamSheet(func(w io.Writer) {
		io.WriteString(w, `<row r="2"><c r="A2" t="inlineStr"><is><t>甲</t></is></c><c r="XFD2"><v>1</v></c></row>`)
	}))
	_, err = readHostile(t, "xfd.xlsx", far)
	wantRefusal(t, err, ErrTooManyColumns)

	// Styled empty cells across all 16,384 columns are read past (Excel writes such rows),
	// up to 30 cells per allowed row on the sheet: more are refused before excelize spends
	// its two microseconds on each.
	// Cells without a reference follow the one before them, as the format allows.
	blanks := bytes.Repeat([]byte(`<c s="1"/>`), 16384-2)
	blankWide := func(rows int) []byte {
		return withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", streamSheet(func(w io.Writer) {
			for r := 2; r <= rows+1; r++ {
				fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>项目%d</t></is></c><c r="B%d" s="1"/>`, r, r, r, r)
				w.Write(blanks)
				io.WriteString(w, `</row>`)
			}
		}))
	}
	tab, err := readHostile(t, "blankwide.xlsx", blankWide(20))
	if err != nil || len(tab.Rows) != 20 {
		t.Fatalf("blank wide: %v", err)
	}
	_, err = readHostile(t, "blankwider.xlsx", blankWide(200))
	wantRefusal(t, err, ErrInflatedTooLarge)

	csvWide := "项目名称,形象进度\n甲,5\n" + strings.Repeat(",", 10_000_000) + "\n"
	_, err = readHostile(t, "wide.csv", []byte(csvWide))
	wantRefusal(t, err, ErrTooManyColumns)
	csvFar := "项目名称,形象进度\n甲" + strings.Repeat(",", 300) + "x\n"
	_, err = readHostile(t, "far.csv", []byte(csvFar))
	wantRefusal(t, err, ErrTooManyColumns)
	// Commas inside a quoted field are no columns.
	tab, err = readHostile(t, "quoted.csv", []byte("项目名称,备注\n甲,\""+strings.Repeat(",", 1000)+"\"\n"))
	if err != nil || len(tab.Rows) != 1 || len(*tab.Rows[0].Patch.Note) != 1000 {
		t.Fatalf("quoted commas: %v", err)
	}
}

// TestHostileRows: more data rows than MaxRows are refused.
func TestHostileRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("项目名称,形象进度\n")
	for i := 0; i <= DefaultMaxRows; i++ {
		fmt.Fprintf(&b, "p%d,5\n", i)
	}
	_, err := Read("rows.csv", []byte(b.String()), Limits{})
	wantRefusal(t, err, ErrTooManyRows)
	_, err = Read("rows.csv", []byte("项目名称,形象进度\na,1\nb,2\nc,3\n"), Limits{MaxRows: 2})
	wantRefusal(t, err, ErrTooManyRows)
}

// TestHostileFormulas: formulas are never evaluated: a cell gives its cached value, or
// nothing when it has none; an error value is a cell error; text that looks like a formula
// is text.
func TestHostileFormulas(t *testing.T) {
	data := withPart(t, baseBook(t), "xl/worksheets/sheet1.xml", func(w io.Writer) {
		io.WriteString(w, sheetHead+headerRowXML("项目名称", "总投资", "年度计划投资", "备注", "形象进度"))
		io.WriteString(w, `<row r="2"><c r="A2" t="str"><f>"=cmd|' /C calc'!A0"</f><v>=cmd|' /C calc'!A0</v></c>`+
			`<c r="B2"><f>1/0</f><v>5</v></c><c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c>`+
			`<c r="D2"><f>WEBSERVICE("http://example.invalid/")</f></c><c r="E2"><f>SUM(E3:E1048576)</f><v>7</v></c></row>`)
		io.WriteString(w, `</sheetData></worksheet>`)
	})
	tab, err := readHostile(t, "formulas.xlsx", data)
	if err != nil {
		t.Fatal(err)
	}
	r := tab.Rows[0]
	if *r.Patch.Name != "=cmd|' /C calc'!A0" || *r.Patch.InvestmentYuan != 50_000 || r.Patch.Note != nil || *r.Patch.Progress != 7 {
		t.Fatalf("got %+v", r.Patch)
	}
	if len(r.Errors) != 1 || r.Errors[0].Field != FieldAnnualPlanYuan || !strings.Contains(r.Errors[0].Message, "#DIV/0!") {
		t.Fatalf("errors %+v", r.Errors)
	}
}
