package store

import (
	"errors"
	"fmt"
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

func (e *StaleError) Error() string { return fmt.Sprintf("the %s has changed since it was read", e.What) }

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

var errNotYet = errors.New("not implemented yet")

// Years lists the yearly lists, oldest first.
func (s *Store) Years() []YearInfo { return nil }

// CurrentYear is the newest yearly list's year (the live summary's), or today's year.
func (s *Store) CurrentYear() int { return 0 }

// StartYear starts year's lists: every construction project of the year before that is not
// completed is carried over as continuing (续建), with the same name, unit, leader, stage and
// dates, CarriedFrom set, and no annual plan or completed investment yet (the year's import
// sets them). Atomic; refused with ErrConflict when the year already has projects.
func (s *Store) StartYear(year int, by string) ([]Project, error) { return nil, errNotYet }

// Months lists the twelve months of year with their status.
func (s *Store) Months(year int) []MonthState { return nil }

// MonthState is one month's status.
func (s *Store) MonthState(m Month) MonthState { return MonthState{} }

// MonthView gives a month's figures: the frozen snapshot of a closed month, the live figures
// of an open one that has begun; ErrNotFound for a month that has not begun.
func (s *Store) MonthView(m Month) (*MonthView, error) { return nil, errNotYet }

// CompareMonths compares month m with month with.
func (s *Store) CompareMonths(m, with Month) (*MonthComparison, error) { return nil, errNotYet }

// Trend is year's 投资完成率 month by month against 序时进度: closed months from their
// snapshots, the current open month live.
func (s *Store) Trend(year int) []TrendPoint { return nil }

// CloseMonth freezes month m's figures (the office). ifMatch is the month's version (0 for a
// month never closed).
func (s *Store) CloseMonth(m Month, ifMatch uint64, by string) (MonthState, error) {
	return MonthState{}, errNotYet
}

// ReopenMonth reopens a closed month (admin), with a reason.
func (s *Store) ReopenMonth(m Month, ifMatch uint64, by, reason string) (MonthState, error) {
	return MonthState{}, errNotYet
}

// Report is a project's report of month m; ErrNotFound when there is none.
func (s *Store) Report(projectID string, m Month) (Report, error) { return Report{}, errNotYet }

// ProjectReports lists a project's reports, oldest month first.
func (s *Store) ProjectReports(projectID string) []Report { return nil }

// Reports lists the construction projects of m's year (of one department, or all) with
// their reports of m.
func (s *Store) Reports(m Month, department string) []ReportRow { return nil }

// UnitReports is the report status of m per unit.
func (s *Store) UnitReports(m Month) []UnitReport { return nil }

// ReportingMonth is the month being reported on day today: the month before, unless it is
// closed (then today's month).
func (s *Store) ReportingMonth() Month { return "" }

// WarningRules are the current warning rules.
func (s *Store) WarningRules() WarningRules { return DefaultWarningRules() }

// SetWarningRules replaces the warning rules (admin) and re-evaluates every project in the
// same transaction. ifMatch is the rules' version.
func (s *Store) SetWarningRules(r WarningRules, ifMatch uint64, by string) (WarningRules, error) {
	return WarningRules{}, errNotYet
}

// Reevaluate computes every project's warning at the store's clock and commits those that
// changed, as updates by SystemActor. It returns how many changed.
func (s *Store) Reevaluate() (int, error) { return 0, errNotYet }

// Problems lists the register's problems that match f, newest first.
func (s *Store) Problems(f ProblemFilter) []Problem { return nil }

// Problem is one problem; ErrNotFound when there is none.
func (s *Store) Problem(id string) (Problem, error) { return Problem{}, errNotYet }
