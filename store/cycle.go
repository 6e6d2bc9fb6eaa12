package store

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// The monthly cycle's errors (each maps to one status and code in the server).
var (
	// ErrMonthClosed means a closed month's figures or reports cannot change (409 month_closed).
	ErrMonthClosed = errors.New("the month is closed")
	// ErrMonthNotEnded means a month cannot be closed before it ends (409 month_not_ended).
	ErrMonthNotEnded = errors.New("the month has not ended")
	// ErrMonthOpen means a month that is not closed cannot be reopened (409 month_open).
	ErrMonthOpen = errors.New("the month is not closed")
	// ErrReportState means the report cannot take this step from where it stands
	// (409 report_state): approving a report that is not submitted, changing an approved one.
	ErrReportState = errors.New("the report cannot take this step")
	// ErrNotInYear means the project is not in the month's yearly list (422, field month).
	ErrNotInYear = errors.New("the project is not in that year's list")
)

// StaleError is returned when a write names a version of a report, problem, month or the
// settings that is no longer current (412, with the current value).
type StaleError struct {
	What    string // "report", "problem", "month", "settings"
	Current any
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the %s has changed since it was read", e.What)
}

// YearInfo is one yearly list (项目库 of a year).
type YearInfo struct {
	Year         int  `json:"year"`
	Projects     int  `json:"projects"`
	Construction int  `json:"construction"` // planned and unplanned: the ones that report monthly
	Carried      int  `json:"carried"`      // carried over from the year before (续建)
	Current      bool `json:"current"`      // the newest list: the live summary's year
}

// ReportRow is a project of a month's reporting list with its report (nil: not reported).
type ReportRow struct {
	Project Project `json:"project"`
	Report  *Report `json:"report"`
}

// Years lists the yearly lists, oldest first.
func (s *Store) Years() []YearInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	byYear := map[int]*YearInfo{}
	for _, p := range s.projects {
		y := byYear[p.Year]
		if y == nil {
			y = &YearInfo{Year: p.Year}
			byYear[p.Year] = y
		}
		y.Projects++
		if p.Category.Construction() {
			y.Construction++
		}
		if p.CarriedFrom != "" {
			y.Carried++
		}
	}
	cur := s.currentYear(s.opt.Now())
	out := make([]YearInfo, 0, len(byYear))
	for _, y := range byYear {
		y.Current = y.Year == cur
		out = append(out, *y)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Year < out[j].Year })
	return out
}

// CurrentYear is the newest yearly list's year (the live summary's), or today's year.
func (s *Store) CurrentYear() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.currentYear(s.opt.Now())
}

// StartYear starts year's lists: every project of the year before that is not finished (a
// construction project not completed, an attraction project not yet sited) is carried over,
// with the same name, unit, leader, stage and dates, CarriedFrom set, and no annual plan or
// completed investment yet (the year's import sets them). Atomic; refused with ErrConflict
// when the year already has projects, ErrNotFound when the year before has none.
func (s *Store) StartYear(year int, by string) ([]Project, error) {
	if year < 1990 || year > 2100 {
		return nil, invalid("year", "must be between 1990 and 2100")
	}
	var edits []Edit
	s.mu.RLock()
	var prev []*Project
	exists := false
	for _, p := range s.projects {
		switch p.Year {
		case year:
			exists = true
		case year - 1:
			prev = append(prev, p)
		}
	}
	s.mu.RUnlock()
	if exists {
		return nil, fmt.Errorf("the %d lists: %w", year, ErrConflict)
	}
	if len(prev) == 0 {
		return nil, fmt.Errorf("the %d lists: %w", year-1, ErrNotFound)
	}
	sort.Slice(prev, func(i, j int) bool { return prev[i].ID < prev[j].ID })
	for _, p := range prev {
		if p.Stage.Completed() || p.Stage == StageLanded {
			continue
		}
		n := Project{Name: p.Name, Category: p.Category, Year: year, Sector: p.Sector, Department: p.Department,
			Leader: p.Leader, Stage: p.Stage, InvestmentYuan: p.InvestmentYuan, Progress: p.Progress,
			PlannedStart: p.PlannedStart, StartedAt: p.StartedAt, PlannedCompletion: p.PlannedCompletion,
			OnHold: p.OnHold, Note: p.Note, CarriedFrom: p.ID}
		edits = append(edits, Edit{Kind: ChangeCreate, New: &n, By: by,
			Comment: fmt.Sprintf("carried over from the %d lists (%s)", year-1, p.ID)})
	}
	if len(edits) == 0 {
		return nil, nil
	}
	res, err := s.ApplyAtomic(edits)
	if err != nil {
		return nil, err
	}
	out := make([]Project, len(res))
	for i, r := range res {
		out[i] = r.Project
	}
	return out, nil
}

// Months lists the twelve months of year with their status.
func (s *Store) Months(year int) []MonthState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]MonthState, 12)
	for i := range out {
		out[i] = s.monthState(Month(fmt.Sprintf("%04d-%02d", year, i+1)))
	}
	return out
}

// MonthState is one month's status.
func (s *Store) MonthState(m Month) MonthState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.monthState(m)
}

// MonthView gives a month's figures: the frozen snapshot of a closed month, the live figures
// of an open one that has begun; ErrNotFound for a month that has not begun.
func (s *Store) MonthView(m Month) (*MonthView, error) {
	s.mu.RLock()
	st := s.monthState(m)
	now := s.opt.Now()
	if st.Status == MonthClosed {
		s.mu.RUnlock()
		return s.snapshotView(m, st.Snapshot)
	}
	defer s.mu.RUnlock()
	if m > MonthAt(now) {
		return nil, fmt.Errorf("month %s has not begun: %w", m, ErrNotFound)
	}
	var projects []*Project
	for _, p := range s.projects {
		if p.Year == m.Year() {
			projects = append(projects, p)
		}
	}
	sort.Slice(projects, func(i, j int) bool { return projects[i].ID < projects[j].ID })
	return s.buildMonthView(m, st, projects, func(id string) *Report { return s.cycle.reports[id][m] }, s.rev, now), nil
}

// buildMonthView makes a month's figures from projects (those of the month's year, sorted by
// id) and their reports. 序时进度 is the month's: its figures are those "截至" its end.
func (s *Store) buildMonthView(m Month, st MonthState, projects []*Project, report func(string) *Report, rev uint64, now time.Time) *MonthView {
	asOf := now
	if end := m.End().Add(-time.Second); end.Before(asOf) {
		asOf = end
	}
	t := newTallies()
	v := &MonthView{Month: m, Status: st.Status, Rev: rev, Projects: make([]ProjectFigures, 0, len(projects))}
	byDept := map[string]*UnitReport{}
	today := Date(now.In(ZoneTime).Format(dateLayout))
	for _, p := range projects {
		t.add(keyOf(p), cell{count: 1, invest: p.InvestmentYuan, plan: p.AnnualPlanYuan,
			completed: p.InvestmentCompletedYuan, problems: p.OpenProblems}, 1)
		f := ProjectFigures{ID: p.ID, Name: p.Name, Category: p.Category, Sector: p.Sector, Department: p.Department,
			Leader: p.Leader, Stage: p.Stage, InvestmentYuan: p.InvestmentYuan, AnnualPlanYuan: p.AnnualPlanYuan,
			InvestmentCompletedYuan: p.InvestmentCompletedYuan, Progress: p.Progress, Warning: p.Warning,
			OpenProblems: p.OpenProblems, Report: ReportMissing}
		if f.Warning.Level == "" {
			f.Warning = Warning{Level: LevelGreen, Reasons: []WarningReason{}}
		}
		if !p.Category.Construction() {
			f.Report = ""
		} else {
			u := byDept[p.Department]
			if u == nil {
				u = &UnitReport{Department: p.Department}
				byDept[p.Department] = u
			}
			u.Projects++
			if r := report(p.ID); r != nil {
				f.Report, f.MonthYuan = r.Status, r.MonthYuan
				switch r.Status {
				case ReportSubmitted:
					u.Submitted++
				case ReportReturned:
					u.Returned++
				case ReportApproved:
					u.Approved++
				}
			}
		}
		v.Projects = append(v.Projects, f)
	}
	v.Summary = t.summary(rev, m.Year(), asOf)
	for _, p := range projects { // the register by project: no scan of every problem per project
		for _, pr := range s.cycle.byProject[p.ID] {
			switch {
			case !pr.Open():
				v.Summary.Problems.Resolved++
			case pr.Overdue(today):
				v.Summary.Problems.Overdue++
				v.Summary.Problems.Open++
			default:
				v.Summary.Problems.Open++
			}
		}
	}
	v.Units = make([]UnitReport, 0, len(byDept))
	for _, u := range byDept {
		u.Missing = u.Projects - u.Submitted - u.Returned - u.Approved
		u.Status = unitStatus(*u)
		v.Units = append(v.Units, *u)
	}
	sort.Slice(v.Units, func(i, j int) bool { return v.Units[i].Department < v.Units[j].Department })
	v.Summary.Reporting = &Reporting{Month: m, Deadline: m.Deadline(s.cycle.rules.ReportMissing.DeadlineDay),
		Status: st.Status, Units: v.Units}
	return v
}

// MonthSnapshot is month m's n-th frozen figures (1 for its first close; a reopen keeps them and
// the next close makes n+1); ErrNotFound when there is no such snapshot.
func (s *Store) MonthSnapshot(m Month, n int) (*MonthView, error) {
	if n < 1 {
		return nil, fmt.Errorf("month %s snapshot %d: %w", m, n, ErrNotFound)
	}
	return s.snapshotView(m, n)
}

// CompareMonths compares month m with month with: the totals, and per project what was
// added, removed or changed.
func (s *Store) CompareMonths(m, with Month) (*MonthComparison, error) {
	a, err := s.MonthView(m)
	if err != nil {
		return nil, err
	}
	b, err := s.MonthView(with)
	if err != nil {
		return nil, err
	}
	c := &MonthComparison{Month: m, With: with, Kind: "other", Totals: []TotalDelta{}, Projects: []ProjectDelta{}}
	switch with {
	case m.Add(-1):
		c.Kind = "mom"
	case m.Add(-12):
		c.Kind = "yoy"
	}
	total := func(key string, from, to float64) {
		c.Totals = append(c.Totals, TotalDelta{Key: key, From: from, To: to, Delta: to - from})
	}
	sa, sb := a.Summary, b.Summary
	total("total.count", float64(sb.Total.Count), float64(sa.Total.Count))
	total("total.investmentYuan", float64(sb.Total.InvestmentYuan), float64(sa.Total.InvestmentYuan))
	total("investment.annualPlanYuan", float64(sb.Investment.AnnualPlanYuan), float64(sa.Investment.AnnualPlanYuan))
	total("investment.completedYuan", float64(sb.Investment.CompletedYuan), float64(sa.Investment.CompletedYuan))
	total("investment.completionRate", sb.Investment.CompletionRate, sa.Investment.CompletionRate)
	total("elapsedShare", sb.ElapsedShare, sa.ElapsedShare)
	total("planned.startRate", sb.Planned.StartRate, sa.Planned.StartRate)
	total("completionRate", sb.CompletionRate, sa.CompletionRate)
	total("warnings.red", float64(sb.Warnings.Red), float64(sa.Warnings.Red))
	total("warnings.yellow", float64(sb.Warnings.Yellow), float64(sa.Warnings.Yellow))
	total("problems.open", float64(sb.Problems.Open), float64(sa.Problems.Open))
	before := map[string]ProjectFigures{}
	for _, p := range b.Projects {
		before[p.ID] = p
	}
	// Projects carried over from the other month's year count as the same project.
	for _, p := range a.Projects {
		old, ok := before[p.ID]
		if !ok {
			c.Counts.Added++
			c.Projects = append(c.Projects, ProjectDelta{ID: p.ID, Name: p.Name, Status: "added", Fields: map[string]FieldChange{}})
			continue
		}
		delete(before, p.ID)
		if d := diffFigures(old, p); len(d) > 0 {
			c.Counts.Changed++
			c.Projects = append(c.Projects, ProjectDelta{ID: p.ID, Name: p.Name, Status: "changed", Fields: d})
		} else {
			c.Counts.Unchanged++
		}
	}
	for _, p := range b.Projects {
		if _, gone := before[p.ID]; gone {
			c.Counts.Removed++
			c.Projects = append(c.Projects, ProjectDelta{ID: p.ID, Name: p.Name, Status: "removed", Fields: map[string]FieldChange{}})
		}
	}
	sort.SliceStable(c.Projects, func(i, j int) bool { return c.Projects[i].ID < c.Projects[j].ID })
	return c, nil
}

func diffFigures(a, b ProjectFigures) map[string]FieldChange {
	d := map[string]FieldChange{}
	add := func(name string, x, y any, same bool) {
		if !same {
			d[name] = FieldChange{From: x, To: y}
		}
	}
	add("name", a.Name, b.Name, a.Name == b.Name)
	add("department", a.Department, b.Department, a.Department == b.Department)
	add("stage", a.Stage, b.Stage, a.Stage == b.Stage)
	add("investmentYuan", a.InvestmentYuan, b.InvestmentYuan, a.InvestmentYuan == b.InvestmentYuan)
	add("annualPlanYuan", a.AnnualPlanYuan, b.AnnualPlanYuan, a.AnnualPlanYuan == b.AnnualPlanYuan)
	add("investmentCompletedYuan", a.InvestmentCompletedYuan, b.InvestmentCompletedYuan, a.InvestmentCompletedYuan == b.InvestmentCompletedYuan)
	add("progress", a.Progress, b.Progress, a.Progress == b.Progress)
	add("warning", a.Warning.Level, b.Warning.Level, a.Warning.Level == b.Warning.Level)
	add("openProblems", a.OpenProblems, b.OpenProblems, a.OpenProblems == b.OpenProblems)
	return d
}

// Trend is year's 投资完成率 month by month against 序时进度: closed months from their frozen
// figures, the current month (if open and of that year) live.
func (s *Store) Trend(year int) []TrendPoint {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.opt.Now()
	out := []TrendPoint{}
	for i := 1; i <= 12; i++ {
		m := Month(fmt.Sprintf("%04d-%02d", year, i))
		pt := TrendPoint{Month: m, ElapsedShare: float64(i) / 12}
		if c := s.cycle.closed[m]; c != nil && c.summary != nil {
			pt.Closed = true
			pt.CompletionRate, pt.CompletedYuan, pt.AnnualPlanYuan = c.summary.Investment.CompletionRate,
				c.summary.Investment.CompletedYuan, c.summary.Investment.AnnualPlanYuan
		} else if m == MonthAt(now) || (m == Month(fmt.Sprintf("%04d-12", year)) && MonthAt(now) > m && year == s.currentYear(now)) {
			sum := s.agg.yearSummary(s.rev, year, now)
			pt.CompletionRate, pt.CompletedYuan, pt.AnnualPlanYuan = sum.Investment.CompletionRate,
				sum.Investment.CompletedYuan, sum.Investment.AnnualPlanYuan
		} else {
			continue
		}
		out = append(out, pt)
	}
	return out
}

// CloseMonth freezes month m's figures (the office). ifMatch is the month's version (0 for a
// month never closed).
func (s *Store) CloseMonth(m Month, ifMatch uint64, by string) (MonthState, error) {
	res, err := s.Apply(Edit{Kind: ChangeMonth, Month: &MonthEdit{Month: m, Close: true, IfMatch: ifMatch}, By: by})
	if err != nil {
		return MonthState{}, err
	}
	return *res.Month, nil
}

// ReopenMonth reopens a closed month (admin), with a reason. Its frozen figures stay; the
// next close freezes new ones beside them.
func (s *Store) ReopenMonth(m Month, ifMatch uint64, by, reason string) (MonthState, error) {
	res, err := s.Apply(Edit{Kind: ChangeMonth, Month: &MonthEdit{Month: m, IfMatch: ifMatch, Reason: reason}, By: by})
	if err != nil {
		return MonthState{}, err
	}
	return *res.Month, nil
}

// Report is a project's report of month m; ErrNotFound when there is none.
func (s *Store) Report(projectID string, m Month) (Report, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.cycle.reports[projectID][m]; r != nil {
		return *r, nil
	}
	return Report{}, fmt.Errorf("report %s of %s: %w", m, projectID, ErrNotFound)
}

// ProjectReports lists a project's reports, oldest month first.
func (s *Store) ProjectReports(projectID string) []Report {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Report{}
	for _, r := range s.cycle.reports[projectID] {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Month < out[j].Month })
	return out
}

// Reports lists the construction projects of m's year (of one department, or all) with
// their reports of m, by department and id.
func (s *Store) Reports(m Month, department string) []ReportRow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []ReportRow{}
	for _, p := range s.projects {
		if p.Year != m.Year() || !p.Category.Construction() || (department != "" && p.Department != department) {
			continue
		}
		row := ReportRow{Project: *p}
		if r := s.cycle.reports[p.ID][m]; r != nil {
			c := *r
			row.Report = &c
		}
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Project.Department != out[j].Project.Department {
			return out[i].Project.Department < out[j].Project.Department
		}
		return out[i].Project.ID < out[j].Project.ID
	})
	return out
}

// UnitReports is the report status of m per unit.
func (s *Store) UnitReports(m Month) []UnitReport {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.unitReports(m, "")
}

// ReportingMonth is the month being reported today: the month before, unless it is closed
// (then today's month).
func (s *Store) ReportingMonth() Month {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.reportingMonth(s.opt.Now())
}

// WarningRules are the current warning rules.
func (s *Store) WarningRules() WarningRules {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cycle.rules
}

// SetWarningRules replaces the warning rules (admin) and re-evaluates every project in the
// same transaction. ifMatch is the rules' version.
func (s *Store) SetWarningRules(r WarningRules, ifMatch uint64, by string) (WarningRules, error) {
	res, err := s.Apply(Edit{Kind: ChangeSettings, Rules: &WarningRulesEdit{Rules: r, IfMatch: ifMatch}, By: by})
	if err != nil {
		return WarningRules{}, err
	}
	if res.Rules == nil { // nothing changed
		return s.WarningRules(), nil
	}
	return *res.Rules, nil
}

// Reevaluate computes every project's warning at the store's clock and commits those that
// changed, as updates by SystemActor. It returns how many changed.
func (s *Store) Reevaluate() (int, error) {
	res, err := s.Apply(Edit{Kind: changeReevaluate, By: SystemActor})
	return res.changes, err
}

// Problems lists the register's problems that match f, newest first.
func (s *Store) Problems(f ProblemFilter) []Problem {
	s.mu.RLock()
	defer s.mu.RUnlock()
	today := Date(s.opt.Now().In(ZoneTime).Format(dateLayout))
	out := []Problem{}
	for _, pr := range s.cycle.problems {
		if (f.ProjectID != "" && pr.ProjectID != f.ProjectID) || (f.Department != "" && pr.Department != f.Department) ||
			(f.Unit != "" && pr.Unit != f.Unit) || (f.Status != "" && pr.Status != f.Status) ||
			(f.Open && !pr.Open()) || (f.Overdue && !pr.Overdue(today)) {
			continue
		}
		if f.Year != 0 {
			if p := s.projects[pr.ProjectID]; p == nil || p.Year != f.Year {
				continue
			}
		}
		out = append(out, *pr)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RaisedAt.Equal(out[j].RaisedAt) {
			return out[i].RaisedAt.After(out[j].RaisedAt)
		}
		return problemSeqOf(out[i].ID) > problemSeqOf(out[j].ID)
	})
	return out
}

// Problem is one problem; ErrNotFound when there is none.
func (s *Store) Problem(id string) (Problem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.cycle.problems[id]; p != nil {
		return *p, nil
	}
	return Problem{}, fmt.Errorf("problem %q: %w", id, ErrNotFound)
}
