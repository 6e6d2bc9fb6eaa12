package sheet

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"projectboard/store"
)

// edit is one cell an office changes after an export, and what the project then holds.
type edit struct {
	row   int // index into the projects
	field string
	xlsx  any    // the value typed in Excel
	csv   string // the text typed into the CSV
	want  func(p *store.Project)
}

var threeEdits = []edit{
	{row: 4, field: FieldInvestmentYuan, xlsx: 1500.25, csv: "1,500.25",
		want: func(p *store.Project) { p.InvestmentYuan = 15_002_500 }},
	{row: 9, field: FieldStage, xlsx: "竣工", csv: "竣工",
		want: func(p *store.Project) { p.Stage = store.StageCompleted }},
	{row: 19, field: FieldStartedAt, xlsx: time.Date(2023, 5, 6, 0, 0, 0, 0, time.UTC), csv: "2023/5/6",
		want: func(p *store.Project) { p.StartedAt = "2023-05-06" }},
}

// checkRoundTrip: every row reads back as its project, except exactly the edited fields.
func checkRoundTrip(t *testing.T, tab *Table, ps []store.Project, edits []edit) {
	t.Helper()
	if len(tab.Rows) != len(ps) {
		t.Fatalf("got %d rows, want %d", len(tab.Rows), len(ps))
	}
	if len(tab.Columns) != len(fields) || len(tab.Unmatched) != 0 {
		t.Fatalf("got columns %+v unmatched %+v, want all %d", tab.Columns, tab.Unmatched, len(fields))
	}
	for i, r := range tab.Rows {
		if len(r.Errors) > 0 {
			t.Fatalf("row %d: errors %+v", r.Line, r.Errors)
		}
		if r.Line != i+2 || r.ID != ps[i].ID {
			t.Fatalf("row %d: line %d id %q, want line %d id %q", i, r.Line, r.ID, i+2, ps[i].ID)
		}
		want := ps[i]
		changed := 0
		for _, e := range edits {
			if e.row == i {
				e.want(&want)
				changed++
			}
		}
		got := applyRow(ps[i], r)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d: got\n%+v\nwant\n%+v", r.Line, got, want)
		}
		if d := store.Diff(ps[i], got); len(d) != changed {
			t.Fatalf("row %d: %d fields differ (%v), want %d", r.Line, len(d), d, changed)
		}
		// Every cell the export wrote comes back (the patch names every field).
		if r.Patch.Name == nil || r.Patch.InvestmentYuan == nil || r.Patch.PlannedStart == nil || r.Patch.OnHold == nil {
			t.Fatalf("row %d: patch misses fields: %+v", r.Line, r.Patch)
		}
	}
}

func TestRoundTripXLSX(t *testing.T) {
	ps := sampleProjects(300)
	data := exportXLSX(t, ps)
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range threeEdits {
		cellName, _ := excelize.CoordinatesToCellName(fieldIndex(e.field)+1, e.row+2)
		if err := f.SetCellValue(ProjectsSheet, cellName, e.xlsx); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tab := mustRead(t, "导出.xlsx", buf.Bytes())
	if tab.Format != "xlsx" || tab.Sheet != ProjectsSheet || tab.HeaderRow != 1 {
		t.Fatalf("got format %q sheet %q header %d", tab.Format, tab.Sheet, tab.HeaderRow)
	}
	checkRoundTrip(t, tab, ps, threeEdits)
	// Unedited, the export reads back as it was.
	checkRoundTrip(t, mustRead(t, "导出.xlsx", data), ps, nil)
}

// TestRoundTripMoneyExtremes: amounts up to store.MaxYuan, with odd yuan, survive the 万元
// float in XLSX and the decimal text in CSV.
func TestRoundTripMoneyExtremes(t *testing.T) {
	ps := sampleProjects(8)
	amounts := []int64{0, 1, 9_999, 10_001, 123_456_789_012_345, store.MaxYuan, store.MaxYuan - 1, 987_654_321_987_653}
	for i := range ps {
		ps[i].InvestmentYuan, ps[i].AnnualPlanYuan, ps[i].InvestmentCompletedYuan = amounts[i], amounts[(i+3)%8], amounts[(i+5)%8]
	}
	checkRoundTrip(t, mustRead(t, "a.xlsx", exportXLSX(t, ps)), ps, nil)
	var buf bytes.Buffer
	if err := WriteProjectsCSV(&buf, ps); err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, mustRead(t, "a.csv", buf.Bytes()), ps, nil)
}

func TestRoundTripCSV(t *testing.T) {
	ps := sampleProjects(300)
	var buf bytes.Buffer
	if err := WriteProjectsCSV(&buf, ps); err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, mustRead(t, "导出.csv", buf.Bytes()), ps, nil)

	// The office edits three cells and Excel saves the file as Chinese Excel does: GB18030,
	// no BOM.
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range threeEdits {
		recs[e.row+1][fieldIndex(e.field)] = e.csv
	}
	var edited bytes.Buffer
	w := csv.NewWriter(simplifiedchinese.GB18030.NewEncoder().Writer(&edited))
	w.UseCRLF = true
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	tab := mustRead(t, "导出.csv", edited.Bytes())
	if tab.Format != "csv-gb18030" {
		t.Fatalf("got format %q, want csv-gb18030", tab.Format)
	}
	checkRoundTrip(t, tab, ps, threeEdits)
}
