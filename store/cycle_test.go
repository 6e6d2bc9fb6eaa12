package store

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a movable clock for the store's tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func openCycle(tb testing.TB, path, at string) (*Store, *clock) {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "cycle.db")
	}
	c := &clock{}
	c.Set(at)
	s, err := Open(path, Options{PasswordParams: fastHash, Now: c.Now})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, ErrUnavailable) { // closed by the test
			tb.Errorf("consistency check: %v", err)
		}
		s.Close()
	})
	return s, c
}

func submit(tb testing.TB, s *Store, id string, m Month, ifMatch uint64, monthYuan int64, progress int) Report {
	tb.Helper()
	res, err := s.Apply(Edit{Kind: ChangeReport, ProjectID: id, By: "ed1",
		Report: &ReportEdit{Month: m, Action: ReportSubmit, IfMatch: ifMatch, Input: ReportInput{MonthYuan: monthYuan, Progress: progress}}})
	if err != nil {
		tb.Fatalf("submit %s %s: %v", id, m, err)
	}
	return *res.Report
}

func TestReportsCloseAndCompare(t *testing.T) {
	s, c := openCycle(t, "", "2022-10-04T10:00:00+08:00")
	a := sample("A", StageUnderConstruction)
	a.StartedAt, a.PlannedCompletion, a.Progress = "2022-03-01", "2023-06-30", 40
	mustCreate(t, s, a)
	mustCreate(t, s, sample("B", StageUnderConstruction))

	// September: A reports 5,000,000 on top of its 10,000,000.
	r := submit(t, s, "A", "2022-09", 0, 5_000_000, 45)
	if r.OpeningYuan != 10_000_000 || r.CumulativeYuan != 15_000_000 || r.Status != ReportSubmitted || r.Late {
		t.Fatalf("September report: got %+v", r)
	}
	if p, _ := s.Project("A"); p.InvestmentCompletedYuan != 15_000_000 || p.Progress != 45 {
		t.Fatalf("project after the report: got %d yuan, %d%%; want 15000000, 45", p.InvestmentCompletedYuan, p.Progress)
	}
	// A second submit of the same figures changes nothing; a stale version is refused.
	rev := s.Rev()
	submit(t, s, "A", "2022-09", 1, 5_000_000, 45)
	if s.Rev() != rev {
		t.Fatalf("an unchanged report made a revision")
	}
	_, err := s.Apply(Edit{Kind: ChangeReport, ProjectID: "A", Report: &ReportEdit{Month: "2022-09", Action: ReportSubmit, Input: ReportInput{MonthYuan: 1}}})
	var stale *StaleError
	if !errors.As(err, &stale) {
		t.Fatalf("stale report: got %v, want a StaleError", err)
	}
	// Approve, then close September.
	if _, err := s.Apply(Edit{Kind: ChangeReport, ProjectID: "A", By: "office", Report: &ReportEdit{Month: "2022-09", Action: ReportApprove, IfMatch: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CloseMonth("2022-10", 0, "office"); !errors.Is(err, ErrMonthNotEnded) {
		t.Fatalf("closing the running month: got %v, want ErrMonthNotEnded", err)
	}
	st, err := s.CloseMonth("2022-09", 0, "office")
	if err != nil || st.Status != MonthClosed || st.Snapshot != 1 || st.Version != 1 {
		t.Fatalf("close September: got %+v, %v", st, err)
	}
	if _, err := s.Apply(Edit{Kind: ChangeReport, ProjectID: "A", Report: &ReportEdit{Month: "2022-09", Action: ReportReturn, IfMatch: 2, Reason: "x"}}); !errors.Is(err, ErrMonthClosed) {
		t.Fatalf("returning a closed month's report: got %v, want ErrMonthClosed", err)
	}
	// October: A reports more; B has an edit. Then close October in November.
	r = submit(t, s, "A", "2022-10", 0, 2_000_000, 50)
	if r.OpeningYuan != 15_000_000 || r.CumulativeYuan != 17_000_000 {
		t.Fatalf("October report: got opening %d cumulative %d", r.OpeningYuan, r.CumulativeYuan)
	}
	c.Set("2022-11-03T09:00:00+08:00")
	if _, err := s.CloseMonth("2022-10", 0, "office"); err != nil {
		t.Fatal(err)
	}
	oct, err := s.MonthView("2022-10")
	if err != nil || oct.Status != MonthClosed || oct.Summary.Investment.CompletedYuan != 27_000_000 {
		t.Fatalf("October frozen: got %+v, %v", oct, err)
	}
	// An edit after the close changes the live figures and November, never October.
	p, _ := s.Project("B")
	if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "B", IfMatch: p.Version, By: "ed1",
		Patch: &Patch{InvestmentCompletedYuan: ptr(int64(30_000_000))}}); err != nil {
		t.Fatal(err)
	}
	oct2, _ := s.MonthView("2022-10")
	nov, _ := s.MonthView("2022-11")
	if oct2.Summary.Investment.CompletedYuan != 27_000_000 || nov.Summary.Investment.CompletedYuan != 47_000_000 {
		t.Fatalf("after the edit: October %d (want 27000000), November %d (want 47000000)",
			oct2.Summary.Investment.CompletedYuan, nov.Summary.Investment.CompletedYuan)
	}
	// October against September: A changed.
	cmp, err := s.CompareMonths("2022-10", "2022-09")
	if err != nil || cmp.Kind != "mom" || cmp.Counts.Changed != 1 || cmp.Projects[0].ID != "A" {
		t.Fatalf("compare: got %+v, %v", cmp, err)
	}
	if f := cmp.Projects[0].Fields["investmentCompletedYuan"]; f.From != int64(15_000_000) || f.To != int64(17_000_000) {
		t.Fatalf("compare A: got %+v", f)
	}
	// Reopen needs a reason and the version; the frozen figures stay; a re-close makes a second.
	if _, err := s.ReopenMonth("2022-10", 1, "admin", ""); err == nil {
		t.Fatal("reopen without a reason accepted")
	}
	if st, err := s.ReopenMonth("2022-10", 1, "admin", "报错了"); err != nil || st.Status != MonthOpen {
		t.Fatalf("reopen: %+v %v", st, err)
	}
	if st, err := s.CloseMonth("2022-10", 2, "office"); err != nil || st.Snapshot != 2 {
		t.Fatalf("re-close: %+v %v", st, err)
	}
	first, err := s.snapshotView("2022-10", 1)
	if err != nil || first.Summary.Investment.CompletedYuan != 27_000_000 {
		t.Fatalf("first snapshot: %v %v", first, err)
	}
	trend := s.Trend(2022)
	if len(trend) != 3 || !trend[0].Closed || trend[0].Month != "2022-09" || trend[2].Month != "2022-11" || trend[2].Closed {
		t.Fatalf("trend: got %+v", trend)
	}

	// Everything is there after a restart.
	path := s.Path()
	s.Close()
	s2, _ := openCycle(t, path, "2022-11-03T09:00:00+08:00")
	if st := s2.MonthState("2022-10"); st.Status != MonthClosed || len(st.History) != 3 {
		t.Fatalf("after restart: %+v", st)
	}
	if r, err := s2.Report("A", "2022-09"); err != nil || r.Status != ReportApproved {
		t.Fatalf("report after restart: %+v %v", r, err)
	}
}

func TestWarningsAndReevaluation(t *testing.T) {
	s, c := openCycle(t, "", "2022-06-10T10:00:00+08:00")
	p := sample("N", StagePreparing)
	p.PlannedStart, p.PlannedCompletion = "2022-03-01", "2023-12-31"
	p.InvestmentCompletedYuan = 0
	got := mustCreate(t, s, p)
	// Three months after the planned start and not started: red, with the reason.
	if got.Warning.Level != LevelRed || !hasRule(got.Warning, RuleNotStarted, LevelRed) {
		t.Fatalf("warning: got %+v", got.Warning)
	}
	// A softer rule turns it yellow, in the same transaction as the settings change.
	rules := s.WarningRules()
	rules.NotStarted.RedMonths = 6
	rules.InvestmentPace.Enabled = false
	rules.ReportMissing.Enabled = false
	rev := s.Rev()
	if _, err := s.SetWarningRules(rules, rules.Version, "admin"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Project("N"); got.Warning.Level != LevelYellow {
		t.Fatalf("after the rule change: got %+v", got.Warning)
	}
	changes, _ := s.Changes(rev, 10)
	if len(changes) != 2 || changes[0].Kind != ChangeSettings || changes[1].By != SystemActor {
		t.Fatalf("changes: got %+v", changes)
	}
	if _, err := s.SetWarningRules(rules, rules.Version, "admin"); err == nil {
		t.Fatal("stale rules accepted")
	}
	// The clock moves three months on: the re-evaluation turns it red again.
	c.Set("2022-09-10T10:00:00+08:00")
	n, err := s.Reevaluate()
	if err != nil || n != 1 {
		t.Fatalf("reevaluate: %d %v", n, err)
	}
	if got, _ := s.Project("N"); got.Warning.Level != LevelRed {
		t.Fatalf("after three more months: got %+v", got.Warning)
	}
	if n, _ := s.Reevaluate(); n != 0 {
		t.Fatalf("a second re-evaluation changed %d", n)
	}
	// Warnings count in whole months: a day later nothing moves (no churn of system changes).
	c.Set("2022-09-11T10:00:00+08:00")
	if n, _ := s.Reevaluate(); n != 0 {
		t.Fatalf("a day later the re-evaluation changed %d", n)
	}
	// An overdue problem makes a green project yellow; resolving it needs a note.
	g := sample("G", StageUnderConstruction)
	g.StartedAt, g.PlannedCompletion, g.Progress, g.InvestmentCompletedYuan = "2022-01-01", "2023-12-31", 30, 30_000_000
	if got := mustCreate(t, s, g); got.Warning.Level != LevelGreen {
		t.Fatalf("G: got %+v", got.Warning)
	}
	res, err := s.Apply(Edit{Kind: ChangeProblem, ProjectID: "G", By: "ed1", Problem: &ProblemEdit{Patch: ProblemPatch{
		Description: ptr("征地未完成"), Due: ptr(Date("2022-09-01"))}}})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.Problem
	if res.Project.Warning.Level != LevelYellow || res.Project.OpenProblems != 1 || pr.ID != "Q1" {
		t.Fatalf("after an overdue problem: %+v, problem %+v", res.Project, pr)
	}
	_, err = s.Apply(Edit{Kind: ChangeProblem, By: "ed1", Problem: &ProblemEdit{ID: pr.ID, IfMatch: 1, Patch: ProblemPatch{Status: ptr(ProblemResolved)}}})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "resolution" {
		t.Fatalf("resolve without a note: got %v", err)
	}
	res, err = s.Apply(Edit{Kind: ChangeProblem, By: "ed1", Problem: &ProblemEdit{ID: pr.ID, IfMatch: 1, Patch: ProblemPatch{
		Status: ptr(ProblemResolved), Resolution: ptr("已协调完成征地")}}})
	if err != nil || res.Project.Warning.Level != LevelGreen || res.Project.OpenProblems != 0 {
		t.Fatalf("resolve: %+v %v", res.Project, err)
	}
	if got, _ := s.Problem(pr.ID); len(got.History) != 2 || got.ResolvedBy != "ed1" {
		t.Fatalf("history: %+v", got)
	}
}

func TestMissingReportAndConsecutiveYellow(t *testing.T) {
	s, c := openCycle(t, "", "2022-05-03T10:00:00+08:00")
	p := sample("Y", StageUnderConstruction)
	p.StartedAt, p.PlannedCompletion, p.Progress = "2022-01-01", "2023-12-31", 20
	p.InvestmentCompletedYuan = 40_000_000 // on pace
	mustCreate(t, s, p)
	z := sample("Z", StageUnderConstruction)
	z.InvestmentCompletedYuan = 20_000_000
	mustCreate(t, s, z)
	// Nobody reports on the board yet: no report counts as missing, even after a deadline.
	c.Set("2022-05-06T10:00:00+08:00")
	if n, err := s.Reevaluate(); err != nil || n != 0 {
		t.Fatalf("before any report: %d changes, %v", n, err)
	}
	// Once Z reports April (late), Y's missing April report makes it yellow.
	submit(t, s, "Z", "2022-04", 0, 0, 10)
	got, _ := s.Project("Y")
	if got.Warning.Level != LevelYellow || !hasRule(got.Warning, RuleReportMissing, LevelYellow) {
		t.Fatalf("missing report: %+v", got.Warning)
	}
	// Closed yellow in April and May, yellow again in June: red.
	if _, err := s.CloseMonth("2022-04", 0, "office"); err != nil {
		t.Fatal(err)
	}
	c.Set("2022-06-06T10:00:00+08:00")
	if _, err := s.CloseMonth("2022-05", 0, "office"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Project("Y")
	if got.Warning.Level != LevelRed || got.Warning.Reasons[len(got.Warning.Reasons)-1].Rule != RuleConsecutiveYellow {
		t.Fatalf("consecutive yellow: %+v", got.Warning)
	}
	// Reporting May takes the missing-report reason away: green again.
	res, err := s.Apply(Edit{Kind: ChangeReport, ProjectID: "Y", By: "ed1", Report: &ReportEdit{Month: "2022-05", Action: ReportSubmit, Input: ReportInput{MonthYuan: 0, Progress: 25}}})
	if !errors.Is(err, ErrMonthClosed) {
		t.Fatalf("report of a closed month: got %v %+v", err, res)
	}
}

func TestAtomicReportsAllOrNothing(t *testing.T) {
	s, _ := openCycle(t, "", "2022-11-03T10:00:00+08:00")
	mustCreate(t, s, sample("A", StageUnderConstruction))
	mustCreate(t, s, sample("B", StageUnderConstruction))
	rev := s.Rev()
	_, err := s.ApplyAtomic([]Edit{
		{Kind: ChangeReport, ProjectID: "A", By: "ed1", Report: &ReportEdit{Month: "2022-10", Action: ReportSubmit, Input: ReportInput{MonthYuan: 1, Progress: 10}}},
		{Kind: ChangeReport, ProjectID: "B", By: "ed1", Report: &ReportEdit{Month: "2022-10", Action: ReportSubmit, Input: ReportInput{MonthYuan: -1}}},
	})
	if err == nil || s.Rev() != rev {
		t.Fatalf("a batch with a bad report: err %v, rev %d → %d", err, rev, s.Rev())
	}
	if _, err := s.Report("A", "2022-10"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the good report of a refused batch was kept: %v", err)
	}
	if u := s.UnitReports("2022-10"); len(u) != 1 || u[0].Missing != 2 || u[0].Status != ReportMissing {
		t.Fatalf("unit reports: %+v", u)
	}
}

func TestStartYear(t *testing.T) {
	s, _ := openCycle(t, "", "2023-01-05T10:00:00+08:00")
	mustCreate(t, s, sample("A", StageUnderConstruction))
	done := sample("B", StageCompleted)
	done.StartedAt, done.CompletedAt, done.Progress = "2022-03-01", "2022-11-01", 100
	mustCreate(t, s, done)
	carried, err := s.StartYear(2023, "admin")
	if err != nil || len(carried) != 1 || carried[0].CarriedFrom != "A" || carried[0].Year != 2023 || carried[0].InvestmentCompletedYuan != 0 {
		t.Fatalf("start 2023: %+v %v", carried, err)
	}
	if _, err := s.StartYear(2023, "admin"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second start: %v", err)
	}
	years := s.Years()
	if len(years) != 2 || !years[1].Current || years[1].Carried != 1 {
		t.Fatalf("years: %+v", years)
	}
	if sum := s.Summary(SummaryFilter{}); *sum.Year != 2023 || sum.Total.Count != 1 {
		t.Fatalf("the live summary is not 2023's: %+v", sum)
	}
}

func hasRule(w Warning, rule string, level WarningLevel) bool {
	for _, r := range w.Reasons {
		if r.Rule == rule && r.Level == level {
			return true
		}
	}
	return false
}
