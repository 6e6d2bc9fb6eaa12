package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPlanAndApplyImport(t *testing.T) {
	s := openTest(t, "")
	if err := s.Seed([]Project{*sample("A", StagePreparing), *sample("B", StageUnderConstruction),
		*sample("C", StagePreparing)}, "system", ""); err != nil {
		t.Fatal(err)
	}
	rev0 := s.Rev()
	name := func(v string) *string { return &v }
	yuan := func(v int64) *int64 { return &v }
	rows := []ImportRow{
		{Line: 4, ID: "A", Patch: Patch{InvestmentCompletedYuan: yuan(20_000_000)}}, // update by id
		{Line: 5, Patch: Patch{Name: name("项目 B"), Progress: ptr(40)}},              // update by name within the year
		{Line: 6, ID: "C", Patch: Patch{Name: name("项目 C")}},                        // unchanged
		{Line: 7, Patch: Patch{Name: name("新项目"), Category: ptr(CategoryUnplanned), Sector: name("数字经济"),
			Department: name("经济发展局"), Stage: ptr(StagePreparing), InvestmentYuan: yuan(5e8)}}, // create
		{Line: 8, Patch: Patch{Name: name("缺单位"), Category: ptr(CategoryPlanned), Sector: name("x"), Stage: ptr(StagePreparing)}},
		{Line: 9, ID: "B", Patch: Patch{InvestmentYuan: yuan(-1)}},
		{Line: 10, Patch: Patch{Name: name("新项目")}}, // the same name twice
		{Line: 11, Errors: []ImportError{{Column: "总投资", Message: "第 11 行「总投资」：不是数字"}}},
	}
	cols := map[string][2]string{"investmentYuan": {"总投资（万元）", "I"}, "department": {"责任单位", "F"}}
	opt := ImportOptions{Year: 2022, Column: func(f string) (string, string) { return cols[f][0], cols[f][1] },
		Translate: func(m string) string { return "ZH:" + m }}
	plan := s.PlanImport(rows, opt)
	want := []ImportStatus{ImportUpdate, ImportUpdate, ImportUnchanged, ImportCreate, ImportFailed, ImportFailed, ImportFailed, ImportFailed}
	for i, r := range plan.Rows {
		if r.Status != want[i] || r.Row != rows[i].Line {
			t.Errorf("row %d: got %s %+v, want %s", rows[i].Line, r.Status, r, want[i])
		}
	}
	if plan.Counts != (ImportCounts{Create: 1, Update: 2, Unchanged: 1, Error: 4}) {
		t.Fatalf("counts %+v", plan.Counts)
	}
	if c := plan.Rows[0].Changes["investmentCompletedYuan"]; c.To != int64(20_000_000) {
		t.Errorf("row 4 changes: %+v", plan.Rows[0].Changes)
	}
	if plan.Rows[1].ProjectID != "B" {
		t.Errorf("row 5 matched %q by name, want B", plan.Rows[1].ProjectID)
	}
	e := plan.Rows[5].Errors
	if len(e) != 1 || e[0].Column != "总投资（万元）" || e[0].Letter != "I" || e[0].Message != "第 9 行「总投资（万元）」：ZH:must not be negative" {
		t.Errorf("row 9 errors: %+v", e)
	}
	if e := plan.Rows[4].Errors; len(e) != 1 || e[0].Field != "department" {
		t.Errorf("row 8 errors: %+v", e)
	}
	if s.Rev() != rev0 {
		t.Fatal("the dry run wrote")
	}
	// A domain rule breaks in the dry run as it would in the writer, in the office's language.
	ruled := s.PlanImport([]ImportRow{{Line: 12, ID: "C", Patch: Patch{Stage: ptr(StageNegotiating)}}}, opt)
	if r := ruled.Rows[0]; r.Status != ImportFailed || len(r.Errors) != 1 || r.Errors[0].Field != "stage" ||
		!strings.Contains(r.Errors[0].Message, "洽谈") {
		t.Errorf("a planned project moved to 洽谈: %+v", r)
	}
	if _, _, err := s.ApplyImport(&plan, "li", "导入 台账.xlsx", false); !errors.Is(err, ErrImportHasErrors) {
		t.Fatalf("apply with errors: got %v", err)
	}
	rev, counts, err := s.ApplyImport(&plan, "li", "导入 台账.xlsx", true)
	if err != nil {
		t.Fatal(err)
	}
	if rev != rev0+3 || counts.Create != 1 || counts.Update != 2 {
		t.Fatalf("apply: rev %d (from %d), counts %+v", rev, rev0, counts)
	}
	changes, _ := s.Changes(rev0, 10)
	for _, c := range changes {
		if c.By != "li" || c.Comment != "导入 台账.xlsx" {
			t.Errorf("change %d by %q comment %q", c.Rev, c.By, c.Comment)
		}
	}
	if p, _ := s.Project(plan.Rows[3].ProjectID); p.Name != "新项目" || p.Year != 2022 {
		t.Errorf("created %+v", p)
	}
}

// Apply is refused, and writes nothing, when a project of the plan changed since the dry run.
func TestApplyImportStale(t *testing.T) {
	s := openTest(t, "")
	var ps []Project
	for i := range 5 {
		ps = append(ps, *sample(fmt.Sprintf("P%d", i), StagePreparing))
	}
	if err := s.Seed(ps, "system", ""); err != nil {
		t.Fatal(err)
	}
	var rows []ImportRow
	for i := range 5 {
		rows = append(rows, ImportRow{Line: i + 2, ID: fmt.Sprintf("P%d", i), Patch: Patch{Progress: ptr(10 + i)}})
	}
	plan := s.PlanImport(rows, ImportOptions{Year: 2022})
	if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "P3", IfMatch: 1, Patch: &Patch{Note: ptr("meanwhile")}}); err != nil {
		t.Fatal(err)
	}
	rev := s.Rev()
	if _, _, err := s.ApplyImport(&plan, "li", "导入 x", false); !errors.Is(err, ErrImportStale) {
		t.Fatalf("got %v, want ErrImportStale", err)
	}
	if s.Rev() != rev {
		t.Fatalf("a stale import wrote revisions %d..%d", rev, s.Rev())
	}
	if p, _ := s.Project("P0"); p.Progress != 0 {
		t.Fatal("a stale import changed P0")
	}
}

// BenchmarkApplyImport10k: the bar is an apply of 10,000 changed rows in ≤ 3 s.
//
//	go test -run '^$' -bench ApplyImport10k -benchtime 3x ./store/
func BenchmarkApplyImport10k(b *testing.B) {
	const n = 10_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openTest(b, "")
		ps := make([]Project, n)
		rows := make([]ImportRow, n)
		for j := range n {
			ps[j] = *sample(fmt.Sprintf("P%05d", j), StagePreparing)
			ps[j].Name = fmt.Sprintf("项目 %05d", j)
			rows[j] = ImportRow{Line: j + 3, Patch: Patch{Name: ptr(ps[j].Name), Progress: ptr(1 + j%99),
				InvestmentCompletedYuan: ptr(int64(20_000_000 + j))}}
		}
		if err := s.Seed(ps, "system", ""); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		plan := s.PlanImport(rows, ImportOptions{Year: 2022})
		planned := time.Since(t0)
		if plan.Counts.Update != n {
			b.Fatalf("counts %+v", plan.Counts)
		}
		if _, _, err := s.ApplyImport(&plan, "li", "导入 bench.xlsx", false); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(planned.Seconds(), "plan-s")
		b.ReportMetric(time.Since(t0).Seconds(), "plan+apply-s")
	}
}
