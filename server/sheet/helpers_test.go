package sheet

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

var testDepartments = []string{"经济发展局", "招商局", "建设局", "科技局", "教育局"}

// sampleProjects makes n realistic projects: every field set on most of them, amounts with
// odd yuan, dates spread over the year, some notes with line breaks and formula-like text.
func sampleProjects(n int) []store.Project {
	sectors := []string{"新材料", "数字经济", "生物医药", "高端装备", "现代服务业", "教育"}
	leaders := []string{"张伟", "王芳", "李强", ""}
	notes := []string{"", "主体结构施工中", "=1+1 不是公式", "已完成桩基\n正在浇筑", "-待定", "@负责人"}
	out := make([]store.Project, n)
	for i := range out {
		cat := store.Categories[i%3]
		stage := []store.Stage{store.StagePreparing, store.StageUnderConstruction, store.StageCompleted, store.StageOperating}[i%4]
		if cat == store.CategoryAttraction {
			stage = []store.Stage{store.StageNegotiating, store.StageSigned, store.StageLanded}[i%3]
		}
		p := store.Project{
			ID: fmt.Sprintf("P%05d", i+1), Name: fmt.Sprintf("净月 %d 号%s产业园项目", i+1, sectors[i%len(sectors)]),
			Category: cat, Year: 2022 + i%3, Sector: sectors[i%len(sectors)], Department: testDepartments[i%len(testDepartments)],
			Leader: leaders[i%len(leaders)], Stage: stage,
			InvestmentYuan:          int64(i)*1_234_567 + 987_654_321,
			AnnualPlanYuan:          int64(i%100) * 1_000_001,
			InvestmentCompletedYuan: int64(i%50) * 333_333,
			Progress:                (i * 7) % 101,
			Note:                    notes[i%len(notes)],
			OnHold:                  i%11 == 0,
		}
		month := 1 + i%12
		p.PlannedStart = store.Date(fmt.Sprintf("%d-%02d-01", p.Year, month))
		if i%3 != 0 {
			p.StartedAt = store.Date(fmt.Sprintf("%d-%02d-%02d", p.Year, month, 1+i%28))
		}
		if p.StartedAt != "" && i%4 == 1 {
			p.ResumedAt = store.Date(fmt.Sprintf("%d-%02d-%02d", p.Year+1, month, 1+i%28))
		}
		p.PlannedCompletion = store.Date(fmt.Sprintf("%d-%02d-28", p.Year+1, month))
		if stage == store.StageCompleted || stage == store.StageOperating {
			p.CompletedAt = store.Date(fmt.Sprintf("%d-12-%02d", p.Year+1, 1+i%28))
		}
		out[i] = p
	}
	return out
}

// applyRow applies a read row to a copy of the project (without the stage's implied dates).
func applyRow(p store.Project, r Row) store.Project {
	after, _ := r.Patch.Apply(p, "")
	return after
}

// exportXLSX is WriteProjectsXLSX into bytes.
func exportXLSX(tb testing.TB, ps []store.Project) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteProjectsXLSX(&buf, ps, testDepartments); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// mustRead reads a file and fails on a whole-file error.
func mustRead(tb testing.TB, name string, data []byte) *Table {
	tb.Helper()
	t, err := Read(name, data, Limits{})
	if err != nil {
		tb.Fatalf("Read(%s): %v", name, err)
	}
	return t
}

// wantRefusal checks that err is a *FileError for sentinel.
func wantRefusal(tb testing.TB, err, sentinel error) *FileError {
	tb.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, sentinel) {
		tb.Fatalf("got error %v, want a *FileError for %v", err, sentinel)
	}
	if fe.Message == "" || fe.MessageEn == "" {
		tb.Fatalf("refusal without both messages: %+v", fe)
	}
	return fe
}

// book makes an XLSX with excelize's normal API; fill writes the first sheet.
func book(tb testing.TB, fill func(f *excelize.File, sheet string)) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	fill(f, "Sheet1")
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// setRows writes rows of values from A1 on.
func setRows(tb testing.TB, f *excelize.File, sheet string, rows [][]any) {
	tb.Helper()
	for i, r := range rows {
		cellName, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cellName, &r); err != nil {
			tb.Fatal(err)
		}
	}
}

// withPart rewrites an XLSX with one part replaced by what write produces (streamed into
// the zip, so hostile parts of any inflated size cost the test little memory). A part not
// in the base is added.
func withPart(tb testing.TB, base []byte, name string, write func(w io.Writer)) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	// The fastest level: hostile parts are mostly one byte repeated, and the race detector
	// makes compressing them slow.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	done := false
	for _, f := range zr.File {
		w, err := zw.Create(f.Name)
		if err != nil {
			tb.Fatal(err)
		}
		if f.Name == name {
			write(w)
			done = true
			continue
		}
		rc, _ := f.Open()
		_, _ = io.Copy(w, rc)
		rc.Close()
	}
	if !done {
		w, _ := zw.Create(name)
		write(w)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

const sheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
	`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`

// headerRowXML is a header row 1 of inline strings.
func headerRowXML(headers ...string) string {
	var b strings.Builder
	b.WriteString(`<row r="1">`)
	for i, h := range headers {
		fmt.Fprintf(&b, `<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>`, columnLetter(i+1), h)
	}
	b.WriteString(`</row>`)
	return b.String()
}

// memPeak runs fn while sampling the heap every millisecond and returns the largest growth
// of HeapInuse over its value before fn, and the bytes fn allocated in all.
func memPeak(fn func()) (peak, total uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > before.HeapInuse && m.HeapInuse-before.HeapInuse > max.Load() {
				max.Store(m.HeapInuse - before.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapInuse > before.HeapInuse && after.HeapInuse-before.HeapInuse > max.Load() {
		max.Store(after.HeapInuse - before.HeapInuse)
	}
	return max.Load(), after.TotalAlloc - before.TotalAlloc
}

// memLive runs fn while forcing a collection every 20 ms and returns the largest growth of
// the live heap (HeapAlloc just after a collection) over its value before fn: the memory fn
// holds, without the garbage the collector may leave between cycles.
func memLive(fn func()) uint64 {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var max uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.GC()
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > before.HeapAlloc && m.HeapAlloc-before.HeapAlloc > max {
				max = m.HeapAlloc - before.HeapAlloc
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return max
}
