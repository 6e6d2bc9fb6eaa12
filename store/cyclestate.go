package store

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// cycleState is the in-memory copy of the monthly cycle: reports, problems, months and the
// frozen figures' warning levels, and the warning rules. Like the projects, it is read under
// Store.mu and changed only by the holder of commitMu (see makeVisible).
type cycleState struct {
	reports    map[string]map[Month]*Report // project id → month → report
	problems   map[string]*Problem
	byProject  map[string][]*Problem // project id → its problems (an edit's warning reads them)
	problemSeq uint64
	months     map[Month]*MonthState
	closed     map[Month]*closedMonth // the latest frozen figures of every closed month
	rules      WarningRules
	// firstReport is, per year, the first month any project reported: the month the office
	// started collecting reports on the board. Missing reports count from there on.
	firstReport map[int]Month
}

// closedMonth is what the store keeps in memory of a closed month's snapshot.
type closedMonth struct {
	levels  map[string]WarningLevel
	summary *Summary
}

func newCycleState() cycleState {
	return cycleState{reports: map[string]map[Month]*Report{}, problems: map[string]*Problem{}, byProject: map[string][]*Problem{},
		months: map[Month]*MonthState{}, closed: map[Month]*closedMonth{}, rules: DefaultWarningRules(),
		firstReport: map[int]Month{}}
}

func (c *cycleState) load(tx *bolt.Tx) error {
	if b := tx.Bucket(bucketSettings); b != nil {
		if v := b.Get(keyWarningRules); v != nil {
			if err := decode(v, &c.rules); err != nil {
				return fmt.Errorf("warning rules: %w", err)
			}
		}
	}
	if b := tx.Bucket(bucketReports); b != nil {
		err := b.ForEach(func(_, v []byte) error {
			r := &Report{}
			if err := decode(v, r); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			c.putReport(r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketProblems); b != nil {
		err := b.ForEach(func(_, v []byte) error {
			p := &Problem{}
			if err := decode(v, p); err != nil {
				return fmt.Errorf("problem: %w", err)
			}
			c.putProblem(p)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketMonths); b != nil {
		err := b.ForEach(func(_, v []byte) error {
			m := &MonthState{}
			if err := decode(v, m); err != nil {
				return fmt.Errorf("month: %w", err)
			}
			c.months[m.Month] = m
			return nil
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketSnapshots); b != nil {
		for m, st := range c.months {
			if st.Status != MonthClosed {
				continue
			}
			v := b.Get(snapshotKey(m, st.Snapshot))
			if v == nil {
				return fmt.Errorf("month %s: snapshot %d is missing", m, st.Snapshot)
			}
			var view MonthView
			if err := decode(v, &view); err != nil {
				return fmt.Errorf("month %s: %w", m, err)
			}
			c.closed[m] = closedOf(&view)
		}
	}
	return nil
}

func closedOf(v *MonthView) *closedMonth {
	cm := &closedMonth{levels: make(map[string]WarningLevel, len(v.Projects)), summary: v.Summary}
	for _, p := range v.Projects {
		cm.levels[p.ID] = p.Warning.Level
	}
	return cm
}

func (c *cycleState) putReport(r *Report) {
	ms := c.reports[r.ProjectID]
	if ms == nil {
		ms = map[Month]*Report{}
		c.reports[r.ProjectID] = ms
	}
	ms[r.Month] = r
	if f := c.firstReport[r.Month.Year()]; f == "" || r.Month < f {
		c.firstReport[r.Month.Year()] = r.Month
	}
}

// putProblem adds or replaces a problem (a problem never moves to another project).
func (c *cycleState) putProblem(p *Problem) {
	list := c.byProject[p.ProjectID]
	for i, q := range list {
		if q.ID == p.ID {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	c.byProject[p.ProjectID] = append(list, p)
	c.problems[p.ID] = p
	c.problemSeq = max(c.problemSeq, problemSeqOf(p.ID))
}

func problemSeqOf(id string) uint64 {
	n, _ := strconv.ParseUint(id[min(1, len(id)):], 10, 64)
	return n
}

// currentYear is the newest year with projects, or now's year. Call with mu held.
func (s *Store) currentYear(now time.Time) int {
	if y := s.agg.currentYear(); y != 0 {
		return y
	}
	return now.In(ZoneTime).Year()
}

// liveSummary is the current year's summary with the register's counts and the report
// status of the month being reported. Call with mu held (or before the store is shared).
func (s *Store) liveSummary(rev uint64, now time.Time) *Summary {
	y := s.currentYear(now)
	sum := s.agg.yearSummary(rev, y, now)
	s.decorate(sum, SummaryFilter{Year: y}, now)
	return sum
}

// decorate adds the problem counts and, for the year being reported, the report status per
// unit to a summary of filter f. Call with mu held.
func (s *Store) decorate(sum *Summary, f SummaryFilter, now time.Time) {
	today := Date(now.In(ZoneTime).Format(dateLayout))
	for _, pr := range s.cycle.problems {
		p := s.projects[pr.ProjectID]
		if p == nil || !f.match(keyOf(p)) {
			continue
		}
		switch {
		case !pr.Open():
			sum.Problems.Resolved++
		case pr.Overdue(today):
			sum.Problems.Overdue++
			sum.Problems.Open++
		default:
			sum.Problems.Open++
		}
	}
	m := s.reportingMonth(now)
	if f.Year != 0 && m.Year() == f.Year && f.Category == "" && f.Sector == "" {
		units := s.unitReports(m, f.Department)
		sum.Reporting = &Reporting{Month: m, Deadline: m.Deadline(s.cycle.rules.ReportMissing.DeadlineDay),
			Status: s.monthState(m).Status, Units: units}
	}
}

// reportingMonth is the month being reported at now: the month before, unless it is closed.
func (s *Store) reportingMonth(now time.Time) Month {
	m := MonthAt(now).Add(-1)
	if s.monthState(m).Status == MonthClosed {
		return m.Add(1)
	}
	return m
}

// monthState is a month's state, open with version 0 when it was never closed. Call with mu held.
func (s *Store) monthState(m Month) MonthState {
	if st := s.cycle.months[m]; st != nil {
		return *st
	}
	return MonthState{Month: m, Status: MonthOpen, History: []MonthEvent{},
		Deadline: m.Deadline(s.cycle.rules.ReportMissing.DeadlineDay)}
}

// unitReports counts m's reports per unit (of one department, or all). Call with mu held.
// It costs the number of units plus the number of projects with reports, not of projects:
// it runs at every commit.
func (s *Store) unitReports(m Month, department string) []UnitReport {
	byDept := map[string]*UnitReport{}
	if t := s.agg.years[m.Year()]; t != nil {
		for dept, b := range t.byDepartment {
			if b.Construction > 0 && (department == "" || dept == department) {
				byDept[dept] = &UnitReport{Department: dept, Projects: b.Construction}
			}
		}
	}
	for id, ms := range s.cycle.reports {
		r := ms[m]
		p := s.projects[id]
		if r == nil || p == nil || p.Year != m.Year() || !p.Category.Construction() {
			continue
		}
		u := byDept[p.Department]
		if u == nil {
			continue
		}
		switch r.Status {
		case ReportSubmitted:
			u.Submitted++
		case ReportReturned:
			u.Returned++
		case ReportApproved:
			u.Approved++
		}
	}
	out := make([]UnitReport, 0, len(byDept))
	for _, u := range byDept {
		u.Missing = u.Projects - u.Submitted - u.Returned - u.Approved
		u.Status = unitStatus(*u)
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Department < out[j].Department })
	return out
}

// snapshotView reads a month's n-th frozen figures.
func (s *Store) snapshotView(m Month, n int) (*MonthView, error) {
	var view *MonthView
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSnapshots).Get(snapshotKey(m, n))
		if v == nil {
			return fmt.Errorf("month %s snapshot %d: %w", m, n, ErrNotFound)
		}
		view = &MonthView{}
		return decode(bytes.Clone(v), view)
	})
	return view, err
}
