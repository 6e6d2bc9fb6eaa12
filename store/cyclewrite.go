package store

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// changeReevaluate asks the writer to compute every project's warning at its clock and to
// commit those that changed, as updates by SystemActor. It is never logged itself.
const changeReevaluate ChangeKind = "reevaluate"

// kv is one extra value a staged change writes in its transaction.
type kv struct {
	bucket, key, value []byte
}

// batchState is a batch's view of the store while it is staged: the committed state with
// the changes staged so far laid over it. Only the holder of commitMu builds one.
type batchState struct {
	s          *Store
	now        time.Time
	today      Date
	projects   map[string]*Project // nil value: deleted in this batch
	reports    map[string]*Report  // reportKey → report
	problems   map[string]*Problem
	months     map[Month]*MonthState
	closed     map[Month]*closedMonth // months closed (non-nil) or reopened (nil) in this batch
	rules      *WarningRules
	problemSeq uint64
	rev        uint64       // the revision of the last change staged so far
	wc         *warnContext // see warnings
	undo       []func()     // how to take back what an atomic request laid over, newest last
}

func (s *Store) newBatchState(now time.Time, today Date) *batchState {
	return &batchState{s: s, now: now, today: today, projects: map[string]*Project{}, reports: map[string]*Report{},
		problems: map[string]*Problem{}, months: map[Month]*MonthState{}, closed: map[Month]*closedMonth{},
		problemSeq: s.cycle.problemSeq}
}

func (b *batchState) current(id string) (*Project, bool) {
	if p, ok := b.projects[id]; ok {
		return p, p != nil
	}
	p, ok := b.s.projects[id] // only the holder of commitMu writes s.projects
	return p, ok
}

// set lays v over m[k], remembering how to undo it.
func set[K comparable, V any](b *batchState, m map[K]V, k K, v V) {
	prior, had := m[k]
	b.undo = append(b.undo, func() {
		if had {
			m[k] = prior
		} else {
			delete(m, k)
		}
	})
	m[k] = v
}

// rollback undoes everything laid over since mark.
func (b *batchState) rollback(mark int) {
	for i := len(b.undo) - 1; i >= mark; i-- {
		b.undo[i]()
	}
	b.undo = b.undo[:mark]
}

func (b *batchState) report(id string, m Month) *Report {
	if r, ok := b.reports[string(reportKey(id, m))]; ok {
		return r
	}
	return b.s.cycle.reports[id][m]
}

// projectReports is every report of a project, the batch's included, by month.
func (b *batchState) projectReports(id string) map[Month]*Report {
	out := map[Month]*Report{}
	for m, r := range b.s.cycle.reports[id] {
		out[m] = r
	}
	prefix := string(reportKey(id, ""))
	for k, r := range b.reports {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			out[r.Month] = r
		}
	}
	return out
}

func (b *batchState) problem(id string) *Problem {
	if p, ok := b.problems[id]; ok {
		return p
	}
	return b.s.cycle.problems[id]
}

// projectProblems is every problem of a project, the batch's included.
func (b *batchState) projectProblems(id string) []*Problem {
	var out []*Problem
	for _, p := range b.s.cycle.byProject[id] {
		if _, over := b.problems[p.ID]; !over {
			out = append(out, p)
		}
	}
	for _, p := range b.problems { // the batch's: a few at most
		if p.ProjectID == id {
			out = append(out, p)
		}
	}
	return out
}

func (b *batchState) month(m Month) MonthState {
	if st, ok := b.months[m]; ok {
		return *st
	}
	return b.s.monthState(m)
}

func (b *batchState) closedMonth(m Month) *closedMonth {
	if c, ok := b.closed[m]; ok {
		return c
	}
	return b.s.cycle.closed[m]
}

func (b *batchState) warningRules() *WarningRules {
	if b.rules != nil {
		return b.rules
	}
	return &b.s.cycle.rules
}

// warnings is the context the batch's warnings are computed in: one per batch (its functions
// read the batch's overlays as they are when called), made again when the rules change.
func (b *batchState) warnings() *warnContext {
	if b.wc != nil && b.wc.rules == b.warningRules() {
		return b.wc
	}
	b.wc = &warnContext{rules: b.warningRules(), now: b.now, today: b.today,
		report: func(id string, m Month) ReportStatus {
			if r := b.report(id, m); r != nil {
				return r.Status
			}
			return ""
		},
		reportingFrom: func(year int) Month {
			first := b.s.cycle.firstReport[year]
			for _, r := range b.reports {
				if r.Month.Year() == year && (first == "" || r.Month < first) {
					first = r.Month
				}
			}
			return first
		},
		overdueProblems: func(id string) int {
			n := 0
			for _, p := range b.projectProblems(id) {
				if p.Overdue(b.today) {
					n++
				}
			}
			return n
		},
		closedLevels: func(id string, n int) []WarningLevel {
			// The newest closed month, then the ones before it while they are closed.
			var newest Month
			for m := range b.s.cycle.closed {
				if b.closedMonth(m) != nil && m > newest {
					newest = m
				}
			}
			for m, c := range b.closed {
				if c != nil && m > newest {
					newest = m
				}
			}
			var out []WarningLevel
			for m := newest; m != "" && len(out) < n; m = m.Add(-1) {
				c := b.closedMonth(m)
				if c == nil {
					break
				}
				l, ok := c.levels[id]
				if !ok {
					break
				}
				out = append(out, l)
			}
			return out
		}}
	return b.wc
}

// withWarning sets p's warning and open-problem count in the batch's context and records a
// change of either in fields.
func (b *batchState) withWarning(p *Project, fields map[string]FieldChange) {
	open := 0
	for _, pr := range b.projectProblems(p.ID) {
		if pr.Open() {
			open++
		}
	}
	if open != p.OpenProblems {
		fields["openProblems"] = FieldChange{From: p.OpenProblems, To: open}
		p.OpenProblems = open
	}
	w := b.warnings().evaluate(p)
	if w.Level == p.Warning.Level && p.Warning.Since != nil {
		w.Since = p.Warning.Since
	} else {
		t := b.now
		w.Since = &t
	}
	if !w.Equal(p.Warning) {
		// The change records the warning in brief; when only its figures moved (a progress
		// edit moves progressPace's value), the project after it says so and the change need
		// not, unless the figures are all that changed.
		from, to := p.Warning.brief(), w.brief()
		if !from.Equal(to) || len(fields) == 0 {
			fields["warning"] = FieldChange{From: from, To: to}
		}
		p.Warning = w
	}
}

// allProjects is every project as the batch sees it, sorted by id.
func (b *batchState) allProjects() []*Project {
	out := make([]*Project, 0, len(b.s.projects)+len(b.projects))
	for id, p := range b.s.projects {
		if _, over := b.projects[id]; !over {
			out = append(out, p)
		}
	}
	for _, p := range b.projects {
		if p != nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// reevaluate stages an update by SystemActor for every project whose warning (or open
// problem count) is no longer what it would be now. Versions move, updatedAt/updatedBy stay:
// they name the last edit by a person.
func (b *batchState) reevaluate() []staged {
	var out []staged
	for _, p := range b.allProjects() {
		after := *p
		fields := map[string]FieldChange{}
		b.withWarning(&after, fields)
		if len(fields) == 0 {
			continue
		}
		after.Version++
		out = append(out, staged{before: p, after: &after, change: Change{ProjectID: p.ID, ProjectName: p.Name,
			At: b.now, By: SystemActor, Kind: ChangeUpdate, Fields: fields}})
	}
	return out
}

// stageCycle stages an edit of the monthly cycle (or a re-evaluation). The first staged
// change is the edit's own; re-evaluations may follow it.
func (b *batchState) stageCycle(e Edit) ([]staged, error) {
	if err := CheckComment(e.Comment); err != nil {
		return nil, err
	}
	switch e.Kind {
	case ChangeReport:
		return b.stageReport(e)
	case ChangeProblem:
		return b.stageProblem(e)
	case ChangeMonth:
		return b.stageMonth(e)
	case ChangeSettings:
		return b.stageSettings(e)
	case changeReevaluate:
		return b.reevaluate(), nil
	}
	return nil, fmt.Errorf("unknown change kind %q", e.Kind)
}

// projectAfter finishes a project touched by a report or problem: its warning and problem
// count again, and a new version if anything of it changed.
func (b *batchState) projectAfter(before *Project, after Project, by string, fields map[string]FieldChange) *Project {
	b.withWarning(&after, fields)
	projectChanged := false
	for k := range fields {
		if k == "warning" || k == "openProblems" || k == "investmentCompletedYuan" || k == "progress" {
			projectChanged = true
		}
	}
	if !projectChanged {
		return before
	}
	after.Version = before.Version + 1
	if _, ok := fields["investmentCompletedYuan"]; ok {
		after.UpdatedAt, after.UpdatedBy = b.now, by
	} else if _, ok := fields["progress"]; ok {
		after.UpdatedAt, after.UpdatedBy = b.now, by
	}
	return &after
}

func (b *batchState) stageReport(e Edit) ([]staged, error) {
	re := e.Report
	if re == nil {
		return nil, invalid("body", "is required")
	}
	p, ok := b.current(e.ProjectID)
	if !ok {
		return nil, fmt.Errorf("project %q: %w", e.ProjectID, ErrNotFound)
	}
	if !p.Category.Construction() {
		return nil, invalid("projectId", "investment-attraction projects do not report monthly")
	}
	if re.Month.Year() != p.Year {
		return nil, fmt.Errorf("project %s is in the %d list, not %d: %w", p.ID, p.Year, re.Month.Year(), ErrNotInYear)
	}
	if re.Month > MonthOf(b.today) {
		return nil, invalid("month", "has not begun")
	}
	if err := mayEdit(e.Actor, p, nil); err != nil {
		return nil, err
	}
	if b.month(re.Month).Status == MonthClosed {
		return nil, fmt.Errorf("%s: %w", re.Month, ErrMonthClosed)
	}
	cur := b.report(p.ID, re.Month)
	if cur == nil && re.Action != ReportSubmit {
		return nil, fmt.Errorf("report %s of %s: %w", re.Month, p.ID, ErrNotFound)
	}
	if (cur == nil && re.IfMatch != 0) || (cur != nil && re.IfMatch != cur.Version) {
		var current any
		if cur != nil {
			current = *cur
		}
		return nil, &StaleError{What: "report", Current: current}
	}
	var r Report
	if cur != nil {
		r = *cur
	}
	rules := b.warningRules()
	fields := map[string]FieldChange{}
	switch re.Action {
	case ReportSubmit:
		if err := re.Input.Validate(); err != nil {
			return nil, err
		}
		if cur != nil && cur.Status == ReportApproved {
			return nil, fmt.Errorf("report %s of %s is approved; the office must return it first: %w", re.Month, p.ID, ErrReportState)
		}
		reports := b.projectReports(p.ID)
		var newest Month
		for m := range reports {
			if m > re.Month && m.Year() == re.Month.Year() {
				return nil, fmt.Errorf("report %s of %s: the report of %s is already made: %w", re.Month, p.ID, m, ErrReportState)
			}
			newest = max(newest, m)
		}
		if cur == nil {
			r = Report{ProjectID: p.ID, Month: re.Month, OpeningYuan: p.InvestmentCompletedYuan}
			if newest != "" && newest.Year() == re.Month.Year() {
				r.OpeningYuan = reports[newest].CumulativeYuan
			}
		} else if cur.Status == ReportSubmitted && cur.MonthYuan == re.Input.MonthYuan && cur.Progress == re.Input.Progress &&
			cur.ProgressText == re.Input.ProgressText && cur.ProblemsText == re.Input.ProblemsText {
			return nil, nil // nothing changes
		}
		r.MonthYuan, r.Progress, r.ProgressText, r.ProblemsText = re.Input.MonthYuan, re.Input.Progress, re.Input.ProgressText, re.Input.ProblemsText
		r.CumulativeYuan = r.OpeningYuan + r.MonthYuan
		if r.CumulativeYuan > MaxYuan {
			return nil, invalid("monthYuan", "makes the cumulative investment too large")
		}
		r.Status, r.ReportedBy, r.ReportedAt = ReportSubmitted, e.By, b.now
		r.Late = b.today > re.Month.Deadline(rules.ReportMissing.DeadlineDay)
		r.ReviewedBy, r.ReviewedAt = "", nil
	case ReportApprove:
		if cur.Status != ReportSubmitted {
			return nil, fmt.Errorf("report %s of %s is %s, not submitted: %w", re.Month, p.ID, cur.Status, ErrReportState)
		}
		t := b.now
		r.Status, r.ReviewedBy, r.ReviewedAt, r.ReturnReason = ReportApproved, e.By, &t, ""
	case ReportReturn:
		if cur.Status != ReportSubmitted && cur.Status != ReportApproved {
			return nil, fmt.Errorf("report %s of %s is %s: %w", re.Month, p.ID, cur.Status, ErrReportState)
		}
		if err := CheckLongText("reason", re.Reason, 1, 500); err != nil {
			return nil, err
		}
		t := b.now
		r.Status, r.ReviewedBy, r.ReviewedAt, r.ReturnReason = ReportReturned, e.By, &t, re.Reason
	default:
		return nil, invalid("action", "is not submit, approve or return")
	}
	r.Version++
	diffReport(cur, &r, fields)
	after := *p
	if re.Action == ReportSubmit {
		// The newest month's report gives the project its figures.
		if after.InvestmentCompletedYuan != r.CumulativeYuan {
			fields["investmentCompletedYuan"] = FieldChange{From: after.InvestmentCompletedYuan, To: r.CumulativeYuan}
			after.InvestmentCompletedYuan = r.CumulativeYuan
		}
		if after.Progress != r.Progress {
			fields["progress"] = FieldChange{From: after.Progress, To: r.Progress}
			after.Progress = r.Progress
		}
	}
	stored := r
	from := b.warnings().reportingFrom(re.Month.Year())
	set(b, b.reports, string(reportKey(p.ID, re.Month)), &stored)
	// The year's first report (or one of an earlier month) starts the collection on the board:
	// every other project's missing report then counts, in this transaction.
	startsReporting := from == "" || re.Month < from
	ap := b.projectAfter(p, after, e.By, fields)
	if ap != p {
		if err := ap.Validate(); err != nil {
			return nil, err
		}
	}
	val, err := encode(stored)
	if err != nil {
		return nil, err
	}
	comment := e.Comment
	if re.Action == ReportReturn && comment == "" {
		comment = re.Reason
	}
	st := staged{before: p, after: ap, change: Change{ProjectID: p.ID, ProjectName: p.Name, At: b.now, By: e.By,
		Kind: ChangeReport, Key: string(re.Month), Fields: fields, Comment: comment}, report: &stored,
		puts: []kv{{bucketReports, reportKey(p.ID, re.Month), val}}}
	st.apply = func(c *cycleState) { c.putReport(&stored) }
	if startsReporting {
		if ap != p {
			set(b, b.projects, p.ID, ap) // the re-evaluation sees the project as this change leaves it
		}
		return append([]staged{st}, b.reevaluate()...), nil
	}
	return []staged{st}, nil
}

func diffReport(a, b *Report, fields map[string]FieldChange) {
	var z Report
	if a == nil {
		a = &z
	}
	add := func(name string, x, y any, same bool) {
		if !same {
			fields["report."+name] = FieldChange{From: x, To: y}
		}
	}
	add("status", a.Status, b.Status, a.Status == b.Status)
	add("monthYuan", a.MonthYuan, b.MonthYuan, a.MonthYuan == b.MonthYuan)
	add("cumulativeYuan", a.CumulativeYuan, b.CumulativeYuan, a.CumulativeYuan == b.CumulativeYuan)
	add("progress", a.Progress, b.Progress, a.Progress == b.Progress)
	add("progressText", a.ProgressText, b.ProgressText, a.ProgressText == b.ProgressText)
	add("problemsText", a.ProblemsText, b.ProblemsText, a.ProblemsText == b.ProblemsText)
	add("returnReason", a.ReturnReason, b.ReturnReason, a.ReturnReason == b.ReturnReason)
}

func (b *batchState) stageProblem(e Edit) ([]staged, error) {
	pe := e.Problem
	if pe == nil {
		return nil, invalid("body", "is required")
	}
	var cur *Problem
	projectID := e.ProjectID
	if pe.ID != "" {
		if cur = b.problem(pe.ID); cur == nil {
			return nil, fmt.Errorf("problem %q: %w", pe.ID, ErrNotFound)
		}
		projectID = cur.ProjectID
	}
	p, ok := b.current(projectID)
	if !ok {
		return nil, fmt.Errorf("project %q: %w", projectID, ErrNotFound)
	}
	if err := mayEdit(e.Actor, p, nil); err != nil {
		return nil, err
	}
	if cur != nil && pe.IfMatch != cur.Version {
		return nil, &StaleError{What: "problem", Current: *cur}
	}
	var pr Problem
	kind := "updated"
	if cur == nil {
		kind = "raised"
		b.problemSeq++
		pr = Problem{ID: "Q" + strconv.FormatUint(b.problemSeq, 10), ProjectID: p.ID, Status: ProblemPending,
			RaisedBy: e.By, RaisedAt: b.now, Unit: p.Department, Leader: p.Leader}
		if pe.Patch.Description == nil {
			return nil, invalid("description", "is required")
		}
	} else {
		pr = *cur
		pr.History = append([]ProblemEvent(nil), cur.History...)
	}
	pr.ProjectName, pr.Department = p.Name, p.Department
	before := pr
	pt := pe.Patch
	if pt.Description != nil {
		if err := CheckLongText("description", *pt.Description, 1, 2000); err != nil {
			return nil, err
		}
		pr.Description = *pt.Description
	}
	if pt.Unit != nil {
		if err := CheckText("unit", *pt.Unit, 1, 100); err != nil {
			return nil, err
		}
		pr.Unit = *pt.Unit
	}
	if pt.Leader != nil {
		if err := CheckText("leader", *pt.Leader, 0, 50); err != nil {
			return nil, err
		}
		pr.Leader = *pt.Leader
	}
	if pt.Due != nil {
		pr.Due = *pt.Due
	}
	if pt.Resolution != nil {
		if err := CheckLongText("resolution", *pt.Resolution, 0, 2000); err != nil {
			return nil, err
		}
		pr.Resolution = *pt.Resolution
	}
	if pt.Status != nil {
		if !pt.Status.valid() {
			return nil, invalid("status", `must be "pending", "coordinating" or "resolved"`)
		}
		pr.Status = *pt.Status
	}
	if pr.Status == ProblemResolved && pr.Resolution == "" {
		return nil, invalid("resolution", "is required to resolve a problem")
	}
	switch {
	case pr.Status == ProblemResolved && before.Status != ProblemResolved:
		t := b.now
		pr.ResolvedAt, pr.ResolvedBy = &t, e.By
	case pr.Status != ProblemResolved:
		pr.ResolvedAt, pr.ResolvedBy = nil, ""
	}
	pfields := map[string]FieldChange{}
	addP := func(name string, x, y any, same bool) {
		if !same {
			pfields[name] = FieldChange{From: x, To: y}
		}
	}
	addP("description", before.Description, pr.Description, before.Description == pr.Description)
	addP("unit", before.Unit, pr.Unit, before.Unit == pr.Unit)
	addP("leader", before.Leader, pr.Leader, before.Leader == pr.Leader)
	addP("status", before.Status, pr.Status, before.Status == pr.Status)
	addP("due", before.Due, pr.Due, before.Due == pr.Due)
	addP("resolution", before.Resolution, pr.Resolution, before.Resolution == pr.Resolution)
	if cur != nil && len(pfields) == 0 {
		return nil, nil
	}
	pr.Version++
	pr.UpdatedAt, pr.UpdatedBy = b.now, e.By
	pr.History = append(pr.History, ProblemEvent{At: b.now, By: e.By, Kind: kind, Fields: pfields})
	stored := pr
	set(b, b.problems, pr.ID, &stored)
	fields := map[string]FieldChange{}
	for k, v := range pfields {
		fields["problem."+k] = v
	}
	ap := b.projectAfter(p, *p, e.By, fields)
	st := staged{before: p, after: ap, change: Change{ProjectID: p.ID, ProjectName: p.Name, At: b.now, By: e.By,
		Kind: ChangeProblem, Key: pr.ID, Fields: fields, Comment: e.Comment}, problem: &stored}
	val, err := encode(stored)
	if err != nil {
		return nil, err
	}
	st.puts = []kv{{bucketProblems, []byte(stored.ID), val}}
	st.apply = func(c *cycleState) { c.putProblem(&stored) }
	return []staged{st}, nil
}

// MonthEdit is an Edit's month part (Kind ChangeMonth).
type MonthEdit struct {
	Month   Month
	Close   bool // true: close; false: reopen
	IfMatch uint64
	Reason  string // for a reopen
}

func (b *batchState) stageMonth(e Edit) ([]staged, error) {
	me := e.Month
	if me == nil {
		return nil, invalid("body", "is required")
	}
	cur := b.month(me.Month)
	if me.IfMatch != cur.Version {
		return nil, &StaleError{What: "month", Current: cur}
	}
	next := cur
	next.History = append([]MonthEvent(nil), cur.History...)
	fields := map[string]FieldChange{}
	var snap []byte
	var closed *closedMonth
	if me.Close {
		if cur.Status == MonthClosed {
			return nil, fmt.Errorf("%s: %w", me.Month, ErrMonthClosed)
		}
		if MonthOf(b.today) <= me.Month {
			return nil, fmt.Errorf("%s ends on %s: %w", me.Month, me.Month.Last(), ErrMonthNotEnded)
		}
		t := b.now
		next.Status, next.ClosedAt, next.ClosedBy, next.Snapshot = MonthClosed, &t, e.By, cur.Snapshot+1
		next.History = append(next.History, MonthEvent{Action: "close", By: e.By, At: b.now, Snapshot: next.Snapshot})
		view := b.monthView(me.Month)
		view.Status, view.Snapshot, view.ClosedAt, view.ClosedBy = MonthClosed, next.Snapshot, &t, e.By
		v, err := encode(view)
		if err != nil {
			return nil, err
		}
		snap, closed = v, closedOf(view)
		fields["snapshot"] = FieldChange{From: cur.Snapshot, To: next.Snapshot}
	} else {
		if cur.Status != MonthClosed {
			return nil, fmt.Errorf("%s: %w", me.Month, ErrMonthOpen)
		}
		if err := CheckLongText("reason", me.Reason, 1, 500); err != nil {
			return nil, err
		}
		next.Status = MonthOpen
		next.History = append(next.History, MonthEvent{Action: "reopen", By: e.By, At: b.now, Reason: me.Reason})
	}
	fields["status"] = FieldChange{From: cur.Status, To: next.Status}
	next.Version++
	stored := next
	set(b, b.months, me.Month, &stored)
	set(b, b.closed, me.Month, closed)
	val, err := encode(stored)
	if err != nil {
		return nil, err
	}
	comment := e.Comment
	if !me.Close && comment == "" {
		comment = me.Reason
	}
	st := staged{noProject: true, month: &stored, change: Change{At: b.now, By: e.By, Kind: ChangeMonth,
		Key: string(me.Month), Fields: fields, Comment: comment}, puts: []kv{{bucketMonths, []byte(me.Month), val}}}
	if snap != nil {
		st.puts = append(st.puts, kv{bucketSnapshots, snapshotKey(me.Month, stored.Snapshot), snap})
	}
	st.apply = func(c *cycleState) {
		c.months[me.Month] = &stored
		if closed != nil {
			c.closed[me.Month] = closed
		} else {
			delete(c.closed, me.Month)
		}
	}
	// Closing or reopening changes which months count as consecutive yellow.
	return append([]staged{st}, b.reevaluate()...), nil
}

// monthView is a month's figures as the batch sees them now.
func (b *batchState) monthView(m Month) *MonthView {
	var projects []*Project
	for _, p := range b.allProjects() {
		if p.Year == m.Year() {
			projects = append(projects, p)
		}
	}
	reports := func(id string) *Report { return b.report(id, m) }
	return b.s.buildMonthView(m, b.month(m), projects, reports, b.rev, b.now)
}

// WarningRulesEdit is an Edit's settings part (Kind ChangeSettings).
type WarningRulesEdit struct {
	Rules   WarningRules
	IfMatch uint64
}

func (b *batchState) stageSettings(e Edit) ([]staged, error) {
	we := e.Rules
	if we == nil {
		return nil, invalid("body", "is required")
	}
	cur := *b.warningRules()
	if we.IfMatch != cur.Version {
		return nil, &StaleError{What: "settings", Current: cur}
	}
	r := we.Rules
	if err := r.Validate(); err != nil {
		return nil, err
	}
	t := b.now
	r.Version, r.UpdatedAt, r.UpdatedBy = cur.Version+1, &t, e.By
	fields := diffRules(cur, r)
	if len(fields) == 0 {
		return nil, nil
	}
	prior := b.rules
	b.undo = append(b.undo, func() { b.rules = prior })
	stored := r
	b.rules = &stored
	val, err := encode(stored)
	if err != nil {
		return nil, err
	}
	st := staged{noProject: true, rules: &stored, change: Change{At: b.now, By: e.By, Kind: ChangeSettings,
		Key: "warnings", Fields: fields, Comment: e.Comment}, puts: []kv{{bucketSettings, keyWarningRules, val}}}
	st.apply = func(c *cycleState) { c.rules = stored }
	return append([]staged{st}, b.reevaluate()...), nil
}

// diffRules lists the rules that differ, by name, with their settings before and after.
func diffRules(a, b WarningRules) map[string]FieldChange {
	d := map[string]FieldChange{}
	add := func(name string, x, y any, same bool) {
		if !same {
			d[name] = FieldChange{From: x, To: y}
		}
	}
	add(RuleInvestmentPace, a.InvestmentPace, b.InvestmentPace, a.InvestmentPace == b.InvestmentPace)
	add(RuleProgressPace, a.ProgressPace, b.ProgressPace, a.ProgressPace == b.ProgressPace)
	add(RuleNotStarted, a.NotStarted, b.NotStarted, a.NotStarted == b.NotStarted)
	add(RuleCompletionOverdue, a.CompletionOverdue, b.CompletionOverdue, a.CompletionOverdue == b.CompletionOverdue)
	add(RuleReportMissing, a.ReportMissing, b.ReportMissing, a.ReportMissing == b.ReportMissing)
	add(RuleConsecutiveYellow, a.ConsecutiveYellow, b.ConsecutiveYellow, a.ConsecutiveYellow == b.ConsecutiveYellow)
	add(RuleProblemOverdue, a.ProblemOverdue, b.ProblemOverdue, a.ProblemOverdue == b.ProblemOverdue)
	return d
}

// unchanged is the result of an edit that changed nothing: what it would have changed, as
// it stands.
func (b *batchState) unchanged(e Edit) Result {
	var res Result
	id := e.ProjectID
	if e.Problem != nil && e.Problem.ID != "" {
		if pr := b.problem(e.Problem.ID); pr != nil {
			c := *pr
			res.Problem, id = &c, pr.ProjectID
		}
	}
	if p, exists := b.current(id); exists {
		res.Project = *p
	}
	if e.Report != nil {
		if r := b.report(id, e.Report.Month); r != nil {
			c := *r
			res.Report = &c
		}
	}
	if e.Rules != nil {
		c := *b.warningRules()
		res.Rules = &c
	}
	return res
}
