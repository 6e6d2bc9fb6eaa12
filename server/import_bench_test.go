package server

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

// BenchmarkDryRunVsBare is the bar for an import's dry run, end to end: the upload of
// a 10,000-row XLSX through the HTTP stack, read, matched and validated against 10,000 stored
// projects (every row a change), against a bare excelize Rows loop over the same file, taking
// turns. Bars: ≤ 3 s and ≤ 1.5 × bare.
//
//	go test -run '^$' -bench DryRunVsBare -benchtime 3x ./server/
func BenchmarkDryRunVsBare(b *testing.B) {
	const n = 10_000
	f := newFixture(b)
	ps := make([]store.Project, n)
	for i := range ps {
		ps[i] = store.Project{ID: fmt.Sprintf("B%05d", i), Name: fmt.Sprintf("净月 %d 号产业园项目", i), Category: store.CategoryPlanned,
			Year: 2022, Sector: "数字经济", Department: "经济发展局", Leader: "张伟", Stage: store.StageUnderConstruction,
			InvestmentYuan: 1_000_000_000 + int64(i), AnnualPlanYuan: 300_000_000, InvestmentCompletedYuan: 100_000_000,
			Progress: 40, PlannedStart: "2022-03-01", StartedAt: "2022-03-15", PlannedCompletion: "2024-06-30", Note: "主体施工"}
	}
	if err := f.store.Seed(ps, "system", ""); err != nil {
		b.Fatal(err)
	}
	for i := range ps {
		ps[i].Progress = 41 + i%50 // every row a change
	}
	var buf bytes.Buffer
	if err := sheet.WriteProjectsXLSX(&buf, ps, []string{"经济发展局"}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	var ours, bare []time.Duration
	for i := 0; i < b.N; i++ {
		runOurs := func() {
			t0 := time.Now()
			res := f.upload("/api/imports?dryRun=true&year=2022", "admin", "bench.xlsx", data)
			ours = append(ours, time.Since(t0))
			if res.StatusCode != 200 {
				b.Fatalf("dry run: %d", res.StatusCode)
			}
			if a := decodeJSON[importAnswer](b, res); a.Counts.Update != n {
				b.Fatalf("counts %+v", a.Counts)
			}
		}
		runBare := func() {
			t0 := time.Now()
			x, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true})
			if err != nil {
				b.Fatal(err)
			}
			rows, err := x.Rows(x.GetSheetName(0))
			if err != nil {
				b.Fatal(err)
			}
			cells := 0
			for rows.Next() {
				cols, _ := rows.Columns()
				cells += len(cols)
			}
			_ = rows.Close()
			_ = x.Close()
			bare = append(bare, time.Since(t0))
		}
		if i%2 == 0 {
			runOurs()
			runBare()
		} else {
			runBare()
			runOurs()
		}
	}
	med := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	b.ReportMetric(float64(med(ours).Milliseconds()), "dryrun-ms")
	b.ReportMetric(float64(med(bare).Milliseconds()), "bare-ms")
	b.ReportMetric(float64(med(ours))/float64(med(bare)), "ratio")
	b.ReportMetric(0, "ns/op")
}
