package sheet

import (
	"bytes"
	"io"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

// officeFile is n projects as an office's Excel saves them: shared strings, money as
// numbers, dates as date-formatted serials, the export's columns.
func officeFile(tb testing.TB, n int) []byte {
	tb.Helper()
	ps := sampleProjects(n)
	f := excelize.NewFile()
	defer f.Close()
	s := "Sheet1"
	head := make([]any, len(fields))
	for i, h := range ProjectHeaders() {
		head[i] = h
	}
	setRows(tb, f, s, [][]any{head})
	row := make([]any, len(fields))
	for i := range ps {
		projectRow(row, &ps[i])
		cellName := "A" + strconv.Itoa(i+2)
		if err := f.SetSheetRow(s, cellName, &row); err != nil {
			tb.Fatal(err)
		}
	}
	date, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	money, _ := f.NewStyle(&excelize.Style{NumFmt: 4})
	last := strconv.Itoa(n + 1)
	for i, fd := range fields {
		col := columnLetter(i + 1)
		switch {
		case isDate(fd.field):
			_ = f.SetCellStyle(s, col+"2", col+last, date)
		case isMoney(fd.field):
			_ = f.SetCellStyle(s, col+"2", col+last, money)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// bareRead is excelize alone: open the upload, stream the first sheet's rows, touch every
// cell, with the raw values our reader asks for too.
func bareRead(tb testing.TB, data []byte) int {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetList()[0])
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for rows.Next() {
		cells, err := rows.Columns()
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cells {
			n += len(c)
		}
	}
	if err := rows.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkReadVsBare measures the bar "reading a 10,000-row XLSX ≤ 3 s and ≤ 1.5 × a bare
// excelize Rows loop over the same file": each iteration reads the file both ways, in
// alternating order, so both see the same machine. It reports the medians and the median of
// the per-iteration ratios.
func BenchmarkReadVsBare(b *testing.B) {
	const rows = 10_000
	data := officeFile(b, rows)
	var bare, ours []time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var tb, to time.Duration
		runBare := func() {
			t0 := time.Now()
			bareRead(b, data)
			tb = time.Since(t0)
		}
		runOurs := func() {
			t0 := time.Now()
			tab, err := Read("office.xlsx", data, Limits{})
			to = time.Since(t0)
			if err != nil || len(tab.Rows) != rows {
				b.Fatalf("read: %v", err)
			}
		}
		if i%2 == 0 {
			runBare()
			runOurs()
		} else {
			runOurs()
			runBare()
		}
		bare, ours = append(bare, tb), append(ours, to)
		ratios = append(ratios, float64(to)/float64(tb))
	}
	b.StopTimer()
	b.ReportMetric(float64(len(data))/(1<<20), "file-MB")
	b.ReportMetric(float64(median(bare).Milliseconds()), "bare-ms")
	b.ReportMetric(float64(median(ours).Milliseconds()), "ours-ms")
	b.ReportMetric(medianF(ratios), "ratio")
	peak, _ := memPeak(func() { _, _ = Read("office.xlsx", data, Limits{}) })
	b.ReportMetric(float64(peak)/(1<<20), "ours-heap-MB")
	b.ReportMetric(float64(memLive(func() { _, _ = Read("office.xlsx", data, Limits{}) }))/(1<<20), "ours-live-MB")
	b.ReportMetric(0, "ns/op")
}

// bareExport is excelize alone writing the same cells as WriteProjectsXLSX: the same styles
// per column, the header, one SetRow per project with the same values, then the file.
func bareExport(tb testing.TB, w io.Writer, ps []store.Project) {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	money, _ := f.NewStyle(&excelize.Style{NumFmt: 4})
	date, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	for i, fd := range fields {
		switch {
		case isMoney(fd.field):
			_ = sw.SetColStyle(i+1, i+1, money)
		case isDate(fd.field):
			_ = sw.SetColStyle(i+1, i+1, date)
		}
	}
	head := make([]any, len(fields))
	for i, h := range ProjectHeaders() {
		head[i] = h
	}
	if err := sw.SetRow("A1", head); err != nil {
		tb.Fatal(err)
	}
	row := make([]any, len(fields))
	for i := range ps {
		projectRow(row, &ps[i])
		if err := sw.SetRow("A"+strconv.Itoa(i+2), row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Write(w); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkExportVsBare measures the bar "an export of 100,000 projects streams with memory
// growth ≤ 64 MB and takes ≤ 1.5 × a bare excelize StreamWriter loop writing the same
// cells", both ways in each iteration in alternating order. Two memory figures come from
// one more export each: heap-MB is the largest growth of HeapInuse sampled every
// millisecond (it includes the garbage Go's collector may leave, up to the size of the
// whole live heap with the default GOGC=100, projects included); live-MB is the largest
// growth of the live heap, sampled just after a forced collection every 20 ms: what the
// export holds.
func BenchmarkExportVsBare(b *testing.B) {
	const n = 100_000
	ps := sampleProjects(n)
	var bare, ours []time.Duration
	var ratios []float64
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var tb, to time.Duration
		runBare := func() {
			t0 := time.Now()
			bareExport(b, io.Discard, ps)
			tb = time.Since(t0)
		}
		runOurs := func() {
			cw := &countWriter{}
			t0 := time.Now()
			if err := WriteProjectsXLSX(cw, ps, testDepartments); err != nil {
				b.Fatal(err)
			}
			to = time.Since(t0)
			size = cw.n
		}
		if i%2 == 0 {
			runBare()
			runOurs()
		} else {
			runOurs()
			runBare()
		}
		bare, ours = append(bare, tb), append(ours, to)
		ratios = append(ratios, float64(to)/float64(tb))
	}
	b.StopTimer()
	b.ReportMetric(float64(size)/(1<<20), "file-MB")
	b.ReportMetric(float64(median(bare).Milliseconds()), "bare-ms")
	b.ReportMetric(float64(median(ours).Milliseconds()), "ours-ms")
	b.ReportMetric(medianF(ratios), "ratio")
	peak, total := memPeak(func() {
		if err := WriteProjectsXLSX(io.Discard, ps, testDepartments); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(peak)/(1<<20), "ours-heap-MB")
	b.ReportMetric(float64(total)/(1<<20), "ours-alloc-MB")
	live := memLive(func() {
		if err := WriteProjectsXLSX(io.Discard, ps, testDepartments); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(live)/(1<<20), "ours-live-MB")
	peak, _ = memPeak(func() { bareExport(b, io.Discard, ps) })
	b.ReportMetric(float64(peak)/(1<<20), "bare-heap-MB")
	b.ReportMetric(float64(memLive(func() { bareExport(b, io.Discard, ps) }))/(1<<20), "bare-live-MB")
	b.ReportMetric(0, "ns/op")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
