package store

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The rates one by one, as docs/metrics.md defines them; every expectation is worked out by
// hand from the projects of its case. The clock stands in 2026, years after the 2022 figures,
// so anything "dated today" is dated outside 2022.

var clock2026 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC) // 2026-11-25 11:00 in Changchun

// openAt opens a store whose clock is now.
func openAt(tb testing.TB, now time.Time) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "metrics.db"), Options{PasswordParams: fastHash, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil {
			tb.Errorf("consistency check: %v", err)
		}
		s.Close()
	})
	return s
}

// proj is a 2022 planned project planned to start in March 2022 and to complete in 2024, at
// 前期, changed by mods.
func proj(id string, mods ...func(*Project)) Project {
	p := Project{ID: id, Name: "项目 " + id, Category: CategoryPlanned, Year: 2022, Sector: "数字经济",
		Department: "经济发展局", Stage: StagePreparing, InvestmentYuan: 100_000_000, AnnualPlanYuan: 40_000_000,
		PlannedStart: "2022-03-01", PlannedCompletion: "2024-10-31"}
	for _, m := range mods {
		m(&p)
	}
	return p
}

// Modifiers of proj.
func started(d Date) func(*Project) {
	return func(p *Project) { p.Stage, p.StartedAt = StageUnderConstruction, d }
}
func continuing(start, resumed Date) func(*Project) {
	return func(p *Project) {
		p.Stage, p.PlannedStart, p.StartedAt, p.ResumedAt = StageUnderConstruction, start, start, resumed
	}
}
func completed(start, done Date) func(*Project) {
	return func(p *Project) {
		p.Stage, p.StartedAt, p.CompletedAt, p.Progress = StageCompleted, start, done, 100
	}
}
func plannedStart(d Date) func(*Project) { return func(p *Project) { p.PlannedStart = d } }
func plannedCompletion(d Date) func(*Project) {
	return func(p *Project) { p.PlannedCompletion = d }
}
func category(c Category) func(*Project) { return func(p *Project) { p.Category = c } }
func stage(s Stage) func(*Project)       { return func(p *Project) { p.Stage = s } }
func year(y int) func(*Project)          { return func(p *Project) { p.Year = y } }

// many makes n projects id-prefix-1 … id-prefix-n with the same modifiers.
func many(n int, prefix string, mods ...func(*Project)) []Project {
	out := make([]Project, n)
	for i := range out {
		out[i] = proj(fmt.Sprintf("%s%03d", prefix, i+1), mods...)
	}
	return out
}

func join(groups ...[]Project) []Project {
	var out []Project
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// summaryOf seeds the projects into a fresh store at the clock and returns 2022's figures.
func summaryOf(t *testing.T, now time.Time, projects []Project) *Summary {
	t.Helper()
	s := openAt(t, now)
	if err := s.Seed(projects, "test", ""); err != nil {
		t.Fatal(err)
	}
	return s.Summary(SummaryFilter{Year: 2022})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// 开复工率 = (新开工 + 续建复工, dated within the year) / (计划新开工 + 计划复工).
func TestStartRestartRate(t *testing.T) {
	tests := []struct {
		name                         string
		projects                     []Project
		newStarts, restarts          int
		newStartDue, restartDue      int
		rate                         float64
		unplannedStarts, unplannedNS int
	}{
		{"a new start dated in the year", []Project{proj("A", started("2022-04-01"))}, 1, 0, 1, 0, 1, 0, 0},
		{"a new start not made yet", []Project{proj("A")}, 0, 0, 1, 0, 0, 0, 0},
		{"a new start dated the next year is not one of this year's",
			[]Project{proj("A", started("2023-02-01"))}, 0, 0, 1, 0, 0, 0, 0},
		{"a start recorded but moved back to 前期 does not count",
			[]Project{proj("A", started("2022-04-01"), stage(StagePreparing))}, 0, 0, 1, 0, 0, 0, 0},
		{"a continuing project restarted in the year",
			[]Project{proj("C", continuing("2021-06-01", "2022-04-20"))}, 0, 1, 0, 1, 1, 0, 0},
		{"a continuing project at 在建 without a restart date has not restarted: stages do not count",
			[]Project{proj("C", continuing("2021-06-01", ""))}, 0, 0, 0, 1, 0, 0, 0},
		{"a restart dated in an earlier year is not one of this year's",
			[]Project{proj("C", continuing("2020-06-01", "2021-04-01"))}, 0, 0, 0, 1, 0, 0, 0},
		{"a continuing project completed in the year after its restart counts",
			[]Project{proj("C", completed("2021-06-01", "2022-09-30"), func(p *Project) { p.ResumedAt = "2022-04-01" })},
			0, 1, 0, 1, 1, 0, 0},
		{"a continuing project completed before the year is not due to restart",
			[]Project{proj("C", completed("2020-06-01", "2021-10-01"))}, 0, 0, 0, 0, 0, 0, 0},
		{"湘西州 1–9月 2021: 146 续建 all restarted, 145 of 170 new ones started → 291/316",
			join(many(146, "C", continuing("2020-05-01", "2021-03-15"), year(2021)),
				many(145, "N", started("2021-05-01"), plannedStart("2021-04-01"), year(2021)),
				many(25, "W", plannedStart("2021-06-01"), year(2021))),
			0, 0, 0, 0, 0, 0, 0}, // year 2021: nothing of 2022 (checked for 2021 below)
		{"an early start of a project planned for next year: more starts than planned, like 101.5%",
			join(many(134, "N", started("2022-05-01")), many(2, "E", plannedStart("2023-04-01"), started("2022-11-15"))),
			136, 0, 134, 0, 136.0 / 134, 0, 0},
		{"unplanned new starts are counted apart, not in the planned rate",
			[]Project{proj("U", category(CategoryUnplanned), started("2022-06-01"))}, 0, 0, 0, 0, 0, 1, 1},
		{"attraction projects count in no rate",
			[]Project{proj("T", category(CategoryAttraction), stage(StageSigned), func(p *Project) { p.PlannedStart = "" })},
			0, 0, 0, 0, 0, 0, 0},
		{"another year's project is not in this year's figures",
			[]Project{proj("Y", year(2023), started("2022-12-01"))}, 0, 0, 0, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summaryOf(t, clock2026, tt.projects)
			p := s.Planned
			if p.NewStarts != tt.newStarts || p.Restarts != tt.restarts || p.Started != tt.newStarts+tt.restarts {
				t.Errorf("starts: got new %d + restarts %d = %d, want %d + %d", p.NewStarts, p.Restarts, p.Started, tt.newStarts, tt.restarts)
			}
			if p.NewStartDue != tt.newStartDue || p.RestartDue != tt.restartDue || p.StartDue != tt.newStartDue+tt.restartDue {
				t.Errorf("due: got new %d + restart %d = %d, want %d + %d", p.NewStartDue, p.RestartDue, p.StartDue, tt.newStartDue, tt.restartDue)
			}
			if !near(p.StartRate, tt.rate) {
				t.Errorf("开复工率: got %v, want %v", p.StartRate, tt.rate)
			}
			if s.Unplanned.Started != tt.unplannedStarts || s.Unplanned.NewStarts != tt.unplannedNS {
				t.Errorf("unplanned: got started %d new %d, want %d %d", s.Unplanned.Started, s.Unplanned.NewStarts, tt.unplannedStarts, tt.unplannedNS)
			}
		})
	}
	t.Run("湘西州 2021 counted for 2021", func(t *testing.T) {
		st := openAt(t, clock2026)
		if err := st.Seed(tests[9].projects, "test", ""); err != nil {
			t.Fatal(err)
		}
		p := st.Summary(SummaryFilter{Year: 2021}).Planned
		if p.Started != 291 || p.StartDue != 316 || !near(p.StartRate, 291.0/316) || p.Restarts != 146 || p.NewStarts != 145 {
			t.Fatalf("got %d (%d new + %d restarts) / %d = %v, want 291 (145 + 146) / 316", p.Started, p.NewStarts, p.Restarts, p.StartDue, p.StartRate)
		}
		if got := fmt.Sprintf("%.0f%%", p.StartRate*100); got != "92%" {
			t.Fatalf("got %s, the report says 92%%", got)
		}
	})
	t.Run("101.5%", func(t *testing.T) {
		if got := fmt.Sprintf("%.1f%%", tests[10].rate*100); got != "101.5%" {
			t.Fatalf("got %s", got)
		}
	})
}

// 开工率 = 新开工 dated within the year / 计划新开工; continuing projects are not in it.
func TestNewStartRate(t *testing.T) {
	tests := []struct {
		name     string
		projects []Project
		num, den int
		rate     float64
	}{
		{"江门 2021 1–3月: 270 planned new starts, 129 started → 47%",
			join(many(129, "N", started("2022-03-20")), many(141, "W")), 129, 270, 129.0 / 270},
		{"continuing projects are not new starts",
			join([]Project{proj("N", started("2022-04-01"))}, many(3, "C", continuing("2021-05-01", "2022-04-01"))), 1, 1, 1},
		{"a project whose planned start is next year is not due, but its early start counts",
			[]Project{proj("N", started("2022-04-01")), proj("E", plannedStart("2023-03-01"), started("2022-12-01")), proj("L", plannedStart("2023-03-01"))},
			2, 1, 2},
		{"a project planned for last year that has not started is still due",
			[]Project{proj("L", plannedStart("2021-09-01"))}, 0, 1, 0},
		{"a project with no planned start is due", []Project{proj("X", plannedStart(""))}, 0, 1, 0},
		{"nothing due: rate 0", []Project{proj("E", plannedStart("2023-03-01"))}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := summaryOf(t, clock2026, tt.projects).Planned
			if p.NewStarts != tt.num || p.NewStartDue != tt.den || !near(p.NewStartRate, tt.rate) {
				t.Fatalf("开工率: got %d / %d = %v, want %d / %d = %v", p.NewStarts, p.NewStartDue, p.NewStartRate, tt.num, tt.den, tt.rate)
			}
		})
	}
}

// 竣工率 = completions dated within the year / projects planned to complete in the year.
func TestCompletionRate(t *testing.T) {
	due := plannedCompletion("2022-11-30")
	tests := []struct {
		name               string
		projects           []Project
		completed, dueN    int
		notDue             int
		rate               float64
		plannedC, unplannC int
	}{
		{"due and completed in the year", []Project{proj("A", due, completed("2022-04-01", "2022-11-20"))}, 1, 1, 0, 1, 1, 0},
		{"due, still under construction", []Project{proj("A", due, started("2022-04-01"))}, 0, 1, 0, 0, 0, 0},
		{"due, but completed only in 2026 (marked completed years later without a date): not this year's",
			[]Project{proj("A", due, completed("2022-04-01", "2026-05-10"))}, 0, 1, 0, 0, 0, 0},
		{"due in 2024, completed in 2026: neither", []Project{proj("A", completed("2022-04-01", "2026-05-10"))}, 0, 0, 0, 0, 0, 0},
		{"due in 2024, completed early in 2022: counts, and shows as not due",
			[]Project{proj("A", due, completed("2022-04-01", "2022-10-01")), proj("B", completed("2022-04-01", "2022-11-20"))},
			2, 1, 1, 2, 2, 0},
		{"overdue from 2021's plan: not due in 2022 (it was due in 2021)",
			[]Project{proj("A", plannedStart("2020-03-01"), plannedCompletion("2021-10-01"), started("2021-03-01"))}, 0, 0, 0, 0, 0, 0},
		{"a completion date on a project moved back to 在建 does not count",
			[]Project{proj("A", due, completed("2022-04-01", "2022-10-01"), stage(StageUnderConstruction))}, 0, 1, 0, 0, 0, 0},
		{"投产 is completed too", []Project{proj("A", due, completed("2022-04-01", "2022-10-01"), stage(StageOperating))}, 1, 1, 0, 1, 1, 0},
		{"unplanned construction projects count", []Project{proj("U", due, category(CategoryUnplanned), completed("2022-04-01", "2022-10-01"))}, 1, 1, 0, 1, 0, 1},
		{"舟山 2019 1–9月: 19 of 39 planned completions",
			join(many(19, "D", due, completed("2021-04-01", "2022-09-01"), func(p *Project) { p.ResumedAt = "2022-03-01" }),
				many(20, "W", due, continuing("2021-04-01", "2022-03-01"))), 19, 39, 0, 19.0 / 39, 19, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summaryOf(t, clock2026, tt.projects)
			c := s.Completion
			if c.Completed != tt.completed || c.Due != tt.dueN || c.NotDue != tt.notDue || !near(s.CompletionRate, tt.rate) {
				t.Fatalf("竣工率: got %d / %d = %v (not due %d), want %d / %d = %v (not due %d)",
					c.Completed, c.Due, s.CompletionRate, c.NotDue, tt.completed, tt.dueN, tt.rate, tt.notDue)
			}
			if s.Planned.Completed != tt.plannedC || s.Unplanned.Completed != tt.unplannC {
				t.Fatalf("completed by category: got planned %d unplanned %d, want %d %d", s.Planned.Completed, s.Unplanned.Completed, tt.plannedC, tt.unplannC)
			}
		})
	}
}

// 投资完成率 = Σ 年度完成投资 / Σ 年度计划投资 of construction projects; 序时进度 counts whole
// months; the gap is the difference in percentage points.
func TestInvestmentRateAndElapsed(t *testing.T) {
	yi := int64(100_000_000)
	invest := func(plan, done int64) func(*Project) {
		return func(p *Project) {
			p.InvestmentYuan, p.AnnualPlanYuan, p.InvestmentCompletedYuan = plan*10, plan, done
		}
	}
	tests := []struct {
		name     string
		now      time.Time
		year     int
		projects []Project
		rate     float64
		months   int
		gap      float64 // points
		gapText  string
	}{
		{"江门 2021 1–3月: 313.64亿 of 1015亿 = 30.90%, 超过时间进度 5.90 个百分点",
			time.Date(2021, 3, 31, 10, 0, 0, 0, ZoneTime), 2021,
			[]Project{proj("A", year(2021), invest(1015*yi, 31364*yi/100))}, 313.64 / 1015, 3, (313.64/1015 - 3.0/12) * 100, "5.90"},
		{"1—4月: 43.2%, 超时序进度 9.9 个百分点", time.Date(2026, 4, 15, 10, 0, 0, 0, ZoneTime), 2026,
			[]Project{proj("A", year(2026), invest(1000*yi, 432*yi))}, 0.432, 4, (0.432 - 4.0/12) * 100, "9.87"},
		{"江门 2013 1–4月: 26.7%, 比时间进度慢了 6.6 个百分点", time.Date(2013, 4, 30, 10, 0, 0, 0, ZoneTime), 2013,
			[]Project{proj("A", year(2013), invest(4019*yi/10, 1074*yi/10))}, 107.4 / 401.9, 4, (107.4/401.9 - 4.0/12) * 100, "-6.61"},
		{"a past year is wholly elapsed", clock2026, 2022,
			[]Project{proj("A", invest(200*yi, 190*yi)), proj("B", invest(100*yi, 120*yi))}, 310.0 / 300, 12, (310.0/300 - 1) * 100, "3.33"},
		{"attraction projects' money is not in it", clock2026, 2022,
			[]Project{proj("A", invest(100*yi, 50*yi)), proj("T", category(CategoryAttraction), stage(StageSigned), invest(900*yi, 0))},
			0.5, 12, -50, "-50.00"},
		{"a future year has not begun", clock2026, 2027,
			[]Project{proj("A", year(2027), invest(100*yi, 0))}, 0, 0, 0, "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openAt(t, tt.now)
			if err := st.Seed(tt.projects, "test", ""); err != nil {
				t.Fatal(err)
			}
			s := st.Summary(SummaryFilter{Year: tt.year})
			if !near(s.Investment.CompletionRate, tt.rate) {
				t.Errorf("投资完成率: got %v, want %v", s.Investment.CompletionRate, tt.rate)
			}
			if s.ElapsedMonths != tt.months || !near(s.ElapsedShare, float64(tt.months)/12) {
				t.Errorf("序时进度: got %d months = %v, want %d/12", s.ElapsedMonths, s.ElapsedShare, tt.months)
			}
			if math.Abs(s.Investment.GapPoints-tt.gap) > 1e-6 {
				t.Errorf("gap: got %v points, want %v", s.Investment.GapPoints, tt.gap)
			}
			if got := fmt.Sprintf("%.2f", s.Investment.GapPoints); got != tt.gapText {
				t.Errorf("gap: got %s points, want %s", got, tt.gapText)
			}
		})
	}
}

// 序时进度 is counted in the zone's time: 16:30 UTC on 31 March is already April in Changchun.
func TestElapsedMonths(t *testing.T) {
	for _, tt := range []struct {
		now  time.Time
		year int
		want int
	}{
		{time.Date(2026, 3, 31, 15, 59, 0, 0, time.UTC), 2026, 3},
		{time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC), 2026, 4},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, ZoneTime), 2026, 1},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, ZoneTime), 2026, 12},
		{clock2026, 2022, 12},
		{clock2026, 2027, 0},
		{clock2026, 0, 0},
	} {
		if got := ElapsedMonths(tt.year, tt.now); got != tt.want {
			t.Errorf("ElapsedMonths(%d, %s): got %d, want %d", tt.year, tt.now, got, tt.want)
		}
	}
}

// Facts carry the date they happened: editing a 2022 project in 2026 moves 2022's figures
// only when the effective date says the fact belongs to 2022.
func TestEffectiveDate(t *testing.T) {
	now := time.Date(2026, 5, 10, 9, 0, 0, 0, ZoneTime)
	s := openAt(t, now)
	if err := s.Seed([]Project{
		proj("DUE24", started("2022-04-01")),                           // due in 2024
		proj("C", continuing("2021-06-01", ""), stage(StagePreparing)), // a continuing project back at 前期
		proj("N"),
	}, "test", ""); err != nil {
		t.Fatal(err)
	}
	completion := func() Completion { return s.Summary(SummaryFilter{Year: 2022}).Completion }
	patch := func(id string, pt Patch) (Project, error) {
		t.Helper()
		p, _ := s.Project(id)
		r, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, Patch: &pt})
		return r.Project, err
	}

	// Completed today, without a date: dated 2026, not one of 2022's completions.
	p, err := patch("DUE24", Patch{Stage: ptr(StageCompleted)})
	if err != nil || p.CompletedAt != "2026-05-10" || p.Progress != 100 {
		t.Fatalf("without a date: got completedAt %q progress %d (%v), want 2026-05-10 and 100", p.CompletedAt, p.Progress, err)
	}
	if c := completion(); c.Completed != 0 {
		t.Fatalf("a completion dated 2026 counted in 2022: %+v", c)
	}
	// Back to 在建: the completion did not stand.
	if p, err = patch("DUE24", Patch{Stage: ptr(StageUnderConstruction)}); err != nil || p.CompletedAt != "" {
		t.Fatalf("moved back: got completedAt %q (%v), want none", p.CompletedAt, err)
	}
	// Completed with the date it happened.
	if p, err = patch("DUE24", Patch{Stage: ptr(StageCompleted), EffectiveDate: ptr(Date("2022-11-20"))}); err != nil || p.CompletedAt != "2022-11-20" {
		t.Fatalf("with a date: got completedAt %q (%v), want 2022-11-20", p.CompletedAt, err)
	}
	if c := completion(); c.Completed != 1 || c.NotDue != 1 || c.Due != 0 {
		t.Fatalf("got %+v, want 1 completion, not due in 2022", c)
	}

	// A continuing project that moves into construction restarts on the effective date; its
	// start stays.
	if p, err = patch("C", Patch{Stage: ptr(StageUnderConstruction), EffectiveDate: ptr(Date("2022-04-02"))}); err != nil ||
		p.ResumedAt != "2022-04-02" || p.StartedAt != "2021-06-01" {
		t.Fatalf("restart: got resumedAt %q startedAt %q (%v)", p.ResumedAt, p.StartedAt, err)
	}
	if p, err = patch("N", Patch{Stage: ptr(StageUnderConstruction), EffectiveDate: ptr(Date("2022-05-06"))}); err != nil ||
		p.StartedAt != "2022-05-06" || p.ResumedAt != "" {
		t.Fatalf("new start: got startedAt %q resumedAt %q (%v)", p.StartedAt, p.ResumedAt, err)
	}
	if pl := s.Summary(SummaryFilter{Year: 2022}).Planned; pl.NewStarts != 2 || pl.Restarts != 1 || pl.StartDue != 3 {
		t.Fatalf("got %+v, want 2 new starts and 1 restart of 3", pl)
	}

	// The effective date is checked against today and the project's year; a refusal writes nothing.
	rev := s.Rev()
	for _, tt := range []struct {
		d    Date
		want string
	}{{"2026-05-11", "in the future"}, {"2021-12-31", "before the project's year 2022"}} {
		_, err := patch("DUE24", Patch{Stage: ptr(StageOperating), EffectiveDate: ptr(tt.d)})
		var re *RuleError
		var ve *ValidationError
		if !errors.As(err, &re) || !errors.As(err, &ve) || ve.Field != "effectiveDate" || !strings.Contains(ve.Message, tt.want) || re.MessageZh == "" {
			t.Fatalf("effectiveDate %s: got %v, want a refusal of effectiveDate (%s)", tt.d, err, tt.want)
		}
	}
	if s.Rev() != rev {
		t.Fatal("a refused effective date wrote a revision")
	}
	// Today itself is allowed, and the date is not stored on the project.
	if p, err = patch("DUE24", Patch{Stage: ptr(StageOperating), EffectiveDate: ptr(Date("2026-05-10"))}); err != nil || p.Stage != StageOperating {
		t.Fatalf("effective today: %v", err)
	}
	b, _ := encode(p)
	if strings.Contains(string(b), "effectiveDate") {
		t.Fatalf("the effective date was stored: %s", b)
	}
}

// The bundled 2022 data (what a new database loads) shows the interview's figures: 102
// planned key projects all started or restarted in 2022 (开复工率 100 %), 14 unplanned new
// starts, 81 attraction projects worth 343.55亿元 of which 35 signed for 191.7亿元.
func TestBundledSeedFigures(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "assets", "seed", "jingyue-2022.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	projects, err := ReadProjectsCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	s := summaryOf(t, clock2026, projects)
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"planned key projects", int64(s.Planned.Count), 102},
		{"planned: started or restarted in 2022", int64(s.Planned.Started), 102},
		{"planned: new starts", int64(s.Planned.NewStarts), 52},
		{"planned: restarts of continuing projects", int64(s.Planned.Restarts), 50},
		{"planned: due to start or restart", int64(s.Planned.StartDue), 102},
		{"planned: due to start", int64(s.Planned.NewStartDue), 52},
		{"planned: due to restart", int64(s.Planned.RestartDue), 50},
		{"unplanned new starts", int64(s.Unplanned.Count), 14},
		{"unplanned started in 2022", int64(s.Unplanned.NewStarts), 14},
		{"attraction projects", int64(s.Attraction.Count), 81},
		{"attraction yuan", s.Attraction.InvestmentYuan, 34_355_000_000},
		{"signed projects", int64(s.Attraction.Signed.Count), 35},
		{"signed yuan", s.Attraction.Signed.InvestmentYuan, 19_170_000_000},
		{"completed in 2022", int64(s.Completion.Completed), 33},
		{"due to complete in 2022", int64(s.Completion.Due), 38},
		{"investment completed", s.Investment.CompletedYuan, 17_835_720_000},
		{"annual plan", s.Investment.AnnualPlanYuan, 18_400_000_000},
		{"months elapsed of 2022", int64(s.ElapsedMonths), 12},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if s.Planned.StartRate != 1 || s.Planned.NewStartRate != 1 {
		t.Errorf("开复工率 %v, 开工率 %v: want 1 and 1", s.Planned.StartRate, s.Planned.NewStartRate)
	}
	if !near(s.CompletionRate, 33.0/38) || !near(s.Investment.CompletionRate, 17_835_720_000.0/18_400_000_000) {
		t.Errorf("竣工率 %v, 投资完成率 %v", s.CompletionRate, s.Investment.CompletionRate)
	}
	// The unfiltered summary (what the wall shows) is 2022's, since 2022 is all there is.
	st := openAt(t, clock2026)
	if err := st.Seed(projects, "test", ""); err != nil {
		t.Fatal(err)
	}
	all := *st.Summary(SummaryFilter{})
	all.Year = s.Year
	if fmt.Sprint(all) != fmt.Sprint(*s) {
		t.Errorf("the unfiltered summary differs from 2022's:\n%+v\n%+v", all, *s)
	}
}

// The case: five projects due in 2024 marked completed. Today (2026) they are not
// 2022's completions and 竣工率 stays 33/38; dated in 2022 they count, shown as not due.
func TestSeedCompletionsOfLaterProjects(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "assets", "seed", "jingyue-2022.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	projects, err := ReadProjectsCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	s := openAt(t, clock2026)
	if err := s.Seed(projects, "test", ""); err != nil {
		t.Fatal(err)
	}
	var later []Project
	for _, p := range projects {
		if p.Category == CategoryPlanned && p.PlannedCompletion.Year() == 2024 && len(later) < 5 {
			later = append(later, p)
		}
	}
	for i, eff := range []*Date{nil, ptr(Date("2022-11-20"))} {
		for _, p := range later {
			cur, _ := s.Project(p.ID)
			to := StageCompleted
			if i == 1 {
				// Back to 在建, then completed on the date it happened.
				if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: p.ID, IfMatch: cur.Version,
					Patch: &Patch{Stage: ptr(StageUnderConstruction)}}); err != nil {
					t.Fatal(err)
				}
				cur, _ = s.Project(p.ID)
			}
			if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: p.ID, IfMatch: cur.Version,
				Patch: &Patch{Stage: &to, EffectiveDate: eff}}); err != nil {
				t.Fatalf("%s: %v", p.ID, err)
			}
		}
		c := s.Summary(SummaryFilter{Year: 2022}).Completion
		want := Completion{Completed: 33, Due: 38}
		if i == 1 {
			want = Completion{Completed: 38, Due: 38, NotDue: 5}
		}
		if c != want {
			t.Fatalf("effective date %v: got %+v, want %+v", eff, c, want)
		}
	}
}
