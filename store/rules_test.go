package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

// Each domain rule: a change that breaks it is refused with a 422-style *ValidationError
// naming the field, carrying a Chinese message too; a change that keeps it passes.
func TestDomainRules(t *testing.T) {
	attraction := func(st Stage) func(*Project) {
		return func(p *Project) { p.Category, p.Stage, p.PlannedStart = CategoryAttraction, st, "" }
	}
	building := started("2022-04-01")
	tests := []struct {
		name   string
		before Project
		patch  Patch
		field  string // "" = accepted
		rule   string
		check  func(Project) bool
	}{
		{"a planned project cannot move to 洽谈", proj("A", building), Patch{Stage: ptr(StageNegotiating)}, "stage", "stage_category", nil},
		{"an unplanned project cannot move to 落位", proj("A", category(CategoryUnplanned), building), Patch{Stage: ptr(StageLanded)}, "stage", "stage_category", nil},
		{"an attraction project cannot move straight to 投产", proj("T", attraction(StageNegotiating)), Patch{Stage: ptr(StageOperating)}, "stage", "stage_category", nil},
		{"an attraction project moves 洽谈 → 签约", proj("T", attraction(StageNegotiating)), Patch{Stage: ptr(StageSigned)}, "", "", nil},
		{"an attraction project may go back 签约 → 洽谈", proj("T", attraction(StageSigned)), Patch{Stage: ptr(StageNegotiating)}, "", "", nil},
		{"a planned project may go back 在建 → 前期", proj("A", building), Patch{Stage: ptr(StagePreparing)}, "", "", nil},
		{"a 落位 attraction project becomes a planned project at 前期",
			proj("T", attraction(StageLanded)), Patch{Category: ptr(CategoryPlanned), Stage: ptr(StagePreparing)}, "", "",
			func(p Project) bool { return p.Category == CategoryPlanned && p.Stage == StagePreparing }},
		{"… or an unplanned one that starts at once",
			proj("T", attraction(StageLanded)), Patch{Category: ptr(CategoryUnplanned), Stage: ptr(StageUnderConstruction)}, "", "",
			func(p Project) bool { return p.StartedAt == "2026-11-25" }},
		{"a 签约 attraction project cannot become a construction project yet",
			proj("T", attraction(StageSigned)), Patch{Category: ptr(CategoryPlanned), Stage: ptr(StagePreparing)}, "category", "category_change", nil},
		{"a construction project needs a construction stage",
			proj("T", attraction(StageLanded)), Patch{Category: ptr(CategoryPlanned)}, "stage", "stage_category", nil},
		{"a construction project never becomes an attraction project",
			proj("A"), Patch{Category: ptr(CategoryAttraction), Stage: ptr(StageNegotiating)}, "category", "category_change", nil},
		{"planned ↔ unplanned is a change of list only", proj("A", building), Patch{Category: ptr(CategoryUnplanned)}, "", "", nil},
		{"completing sets 形象进度 100 when the change does not give it",
			proj("A", building, func(p *Project) { p.Progress = 54 }), Patch{Stage: ptr(StageCompleted)}, "", "",
			func(p Project) bool { return p.Progress == 100 }},
		{"completing at an explicit 54 % is refused",
			proj("A", building), Patch{Stage: ptr(StageCompleted), Progress: ptr(54)}, "progress", "completed_progress", nil},
		{"a completed project's 形象进度 cannot drop below 100",
			proj("A", completed("2022-04-01", "2022-10-01")), Patch{Progress: ptr(90)}, "progress", "completed_progress", nil},
		{"年度完成投资 5,000 > 总投资 100 is refused",
			proj("A", func(p *Project) { p.InvestmentYuan = 100 }), Patch{InvestmentCompletedYuan: ptr(int64(5000))}, "investmentCompletedYuan", "investment_total", nil},
		{"lowering 总投资 below what is completed is refused on the total",
			proj("A", func(p *Project) { p.InvestmentCompletedYuan = 50_000_000 }), Patch{InvestmentYuan: ptr(int64(40_000_000))}, "investmentYuan", "investment_total", nil},
		{"completed investment equal to the total is fine",
			proj("A"), Patch{InvestmentCompletedYuan: ptr(int64(100_000_000))}, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openAt(t, clock2026)
			if err := s.Seed([]Project{tt.before}, "test", ""); err != nil {
				t.Fatal(err)
			}
			r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: tt.before.ID, IfMatch: 1, Patch: &tt.patch})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tt.check != nil && !tt.check(r.Project) {
					t.Fatalf("got %+v", r.Project)
				}
				return
			}
			checkRuleError(t, err, tt.field, tt.rule)
			if s.Rev() != 1 {
				t.Fatal("a refused change wrote a revision")
			}
		})
	}
}

func checkRuleError(t *testing.T, err error, field, rule string) {
	t.Helper()
	var re *RuleError
	var ve *ValidationError
	if !errors.As(err, &re) || !errors.As(err, &ve) {
		t.Fatalf("got %v (%T), want a *RuleError that is a *ValidationError", err, err)
	}
	if ve.Field != field || re.Rule != rule {
		t.Fatalf("got field %q rule %q (%v), want %q %q", ve.Field, re.Rule, err, field, rule)
	}
	if !strings.ContainsFunc(re.MessageZh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) || ve.Message == "" {
		t.Fatalf("messages: en %q zh %q, want both", ve.Message, re.MessageZh)
	}
}

// A new project — from the API, an import or the bundled data — must satisfy every rule.
func TestDomainRulesOnCreate(t *testing.T) {
	s := openAt(t, clock2026)
	for _, tt := range []struct {
		p     Project
		field string
		rule  string
	}{
		{proj("A", stage(StageSigned)), "stage", "stage_category"},
		{proj("B", category(CategoryAttraction), started("2022-03-01")), "stage", "stage_category"},
		{proj("C", completed("2022-03-01", "2022-09-01"), func(p *Project) { p.Progress = 54 }), "progress", "completed_progress"},
		{proj("D", func(p *Project) { p.InvestmentYuan, p.InvestmentCompletedYuan = 100, 5000 }), "investmentCompletedYuan", "investment_total"},
	} {
		p := tt.p
		_, err := s.Apply(Edit{Kind: ChangeCreate, New: &p})
		checkRuleError(t, err, tt.field, tt.rule)
	}
	// A new project as the server builds one from a body (its fields as a patch of the empty
	// project): 竣工 without 形象进度 is 100.
	pt := Patch{Name: ptr("x"), Category: ptr(CategoryPlanned), Year: ptr(2022), Sector: ptr("a"), Department: ptr("b"),
		Stage: ptr(StageCompleted)}
	p, _ := pt.Apply(Project{}, "")
	if p.Progress != 100 {
		t.Fatalf("got progress %d", p.Progress)
	}
	r, err := s.Apply(Edit{Kind: ChangeCreate, New: &p})
	if err != nil || r.Project.CompletedAt != "2026-11-25" || r.Project.StartedAt != "2026-11-25" {
		t.Fatalf("got %+v, %v", r.Project, err)
	}
}

// Data stored before the rules (or imported from elsewhere) that breaks one still loads, and
// an edit that does not touch the offending field is not refused for it; one that touches it
// must mend it.
func TestDomainRulesSpareUntouchedFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "legacy.db")
	s, err := Open(path, Options{PasswordParams: fastHash, Now: func() time.Time { return clock2026 }})
	if err != nil {
		t.Fatal(err)
	}
	legacy := []Project{
		proj("NEG", stage(StageNegotiating)), // a planned project at an attraction stage
		proj("C54", completed("2022-03-01", "2022-09-01"), func(p *Project) { p.Progress = 54 }),
		proj("OVER", started("2022-03-01"), func(p *Project) { p.InvestmentYuan, p.InvestmentCompletedYuan = 100, 5000 }),
	}
	var valid []Project
	for _, p := range legacy {
		v := p
		v.Stage, v.Progress, v.InvestmentCompletedYuan, v.CompletedAt, v.StartedAt = StagePreparing, 0, 0, "", ""
		valid = append(valid, v)
	}
	if err := s.Seed(valid, "test", ""); err != nil {
		t.Fatal(err)
	}
	// What an older binary wrote: the projects as they are, rules or not.
	err = s.update(func(w *wtx) error {
		tx := w.Tx
		for _, p := range legacy {
			p.Version = 1
			if err := putJSON(tx.Bucket(bucketProjects), p.ID, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{PasswordParams: fastHash, Now: func() time.Time { return clock2026 }})
	if err != nil {
		t.Fatalf("data that breaks the rules does not load: %v", err)
	}
	defer s.Close()
	edit := func(id string, pt Patch) error {
		p, err := s.Project(id)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, Patch: &pt})
		return err
	}
	for _, tt := range []struct {
		id    string
		patch Patch
		field string
		rule  string
	}{
		{"NEG", Patch{Note: ptr("备注")}, "", ""},
		{"NEG", Patch{Progress: ptr(5)}, "", ""},
		{"NEG", Patch{Stage: ptr(StageSigned)}, "stage", "stage_category"},
		{"NEG", Patch{Stage: ptr(StagePreparing)}, "", ""}, // mended
		{"C54", Patch{Note: ptr("备注"), InvestmentCompletedYuan: ptr(int64(20_000_000))}, "", ""},
		{"C54", Patch{Progress: ptr(60)}, "progress", "completed_progress"},
		{"C54", Patch{Stage: ptr(StageOperating)}, "", ""}, // 投产 sets 100
		{"OVER", Patch{Progress: ptr(30), Stage: ptr(StageCompleted)}, "progress", "completed_progress"},
		{"OVER", Patch{Progress: ptr(30)}, "", ""},
		{"OVER", Patch{InvestmentCompletedYuan: ptr(int64(6000))}, "investmentCompletedYuan", "investment_total"},
		{"OVER", Patch{InvestmentYuan: ptr(int64(6000))}, "", ""}, // mended
	} {
		err := edit(tt.id, tt.patch)
		if tt.field == "" {
			if err != nil {
				t.Fatalf("%s %+v: refused: %v", tt.id, tt.patch, err)
			}
			continue
		}
		checkRuleError(t, err, tt.field, tt.rule)
	}
	if p, _ := s.Project("C54"); p.Progress != 100 || p.Stage != StageOperating {
		t.Fatalf("C54: got %+v", p)
	}
}
