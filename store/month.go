package store

import (
	"fmt"
	"time"
)

// Month is a calendar month "YYYY-MM" of the zone's time: the unit of reporting (月报) and of
// closing (see docs/metrics.md, "The month").
type Month string

const monthLayout = "2006-01"

// ParseMonth checks that s is a month "YYYY-MM" between 1990 and 2100.
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse(monthLayout, s)
	if err != nil || t.Format(monthLayout) != s {
		return "", fmt.Errorf("%q is not a month of the form YYYY-MM", s)
	}
	if t.Year() < 1990 || t.Year() > 2100 {
		return "", fmt.Errorf("%q is outside 1990–2100", s)
	}
	return Month(s), nil
}

// MonthOf is the month of a date, or "" for the empty date.
func MonthOf(d Date) Month {
	if len(d) < 7 {
		return ""
	}
	return Month(d[:7])
}

// MonthAt is the month of an instant in the zone's time.
func MonthAt(t time.Time) Month { return Month(t.In(ZoneTime).Format(monthLayout)) }

func (m Month) time() time.Time {
	t, _ := time.ParseInLocation(monthLayout, string(m), ZoneTime)
	return t
}

// Year is the month's year.
func (m Month) Year() int { return m.time().Year() }

// Num is the month's number in its year, 1–12.
func (m Month) Num() int { return int(m.time().Month()) }

// Add is the month n months later (earlier for negative n).
func (m Month) Add(n int) Month { return Month(m.time().AddDate(0, n, 0).Format(monthLayout)) }

// First is the month's first day.
func (m Month) First() Date { return Date(string(m) + "-01") }

// Last is the month's last day.
func (m Month) Last() Date { return Date(m.time().AddDate(0, 1, -1).Format(dateLayout)) }

// End is the instant the month ends (the first instant of the next month, zone time).
func (m Month) End() time.Time { return m.time().AddDate(0, 1, 0) }

// Deadline is the last day a month's report is on time: day (1–28) of the next month.
func (m Month) Deadline(day int) Date {
	return Date(m.time().AddDate(0, 1, day-1).Format(dateLayout))
}

// MonthStatus says whether a month's figures are still moving.
type MonthStatus string

// The month statuses. A month is open until the office closes it.
const (
	MonthOpen   MonthStatus = "open"
	MonthClosed MonthStatus = "closed"
)

// MonthEvent is one close or reopen of a month.
type MonthEvent struct {
	Action string    `json:"action"` // "close" or "reopen"
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	// Snapshot is the snapshot a close made (1 for the first close, 2 after a reopen …).
	Snapshot int `json:"snapshot,omitempty"`
}

// MonthState is a month of a year's reporting cycle.
type MonthState struct {
	Month    Month       `json:"month"`
	Status   MonthStatus `json:"status"`
	Deadline Date        `json:"deadline"` // the reports' deadline (settings: reportMissing.deadlineDay)
	// Snapshot numbers the frozen figures of the latest close; 0 if never closed.
	Snapshot int          `json:"snapshot"`
	ClosedAt *time.Time   `json:"closedAt"`
	ClosedBy string       `json:"closedBy"`
	History  []MonthEvent `json:"history"`
	Version  uint64       `json:"version"` // 0 for a month never closed
}

// ProjectFigures is one project's line in a month's frozen figures.
type ProjectFigures struct {
	ID                      string       `json:"id"`
	Name                    string       `json:"name"`
	Category                Category     `json:"category"`
	Sector                  string       `json:"sector"`
	Department              string       `json:"department"`
	Leader                  string       `json:"leader"`
	Stage                   Stage        `json:"stage"`
	InvestmentYuan          int64        `json:"investmentYuan"`
	AnnualPlanYuan          int64        `json:"annualPlanYuan"`
	InvestmentCompletedYuan int64        `json:"investmentCompletedYuan"`
	MonthYuan               int64        `json:"monthYuan"` // the month's report, 0 without one
	Progress                int          `json:"progress"`
	Warning                 Warning      `json:"warning"`
	Report                  ReportStatus `json:"report"` // the month's report status ("missing": none)
	OpenProblems            int          `json:"openProblems"`
}

// MonthView is a month's figures: frozen when the month is closed, the live ones otherwise.
type MonthView struct {
	Month    Month            `json:"month"`
	Status   MonthStatus      `json:"status"`
	Snapshot int              `json:"snapshot"` // 0 for an open month's live figures
	ClosedAt *time.Time       `json:"closedAt"`
	ClosedBy string           `json:"closedBy"`
	Rev      uint64           `json:"rev"` // the revision the figures are of
	Summary  *Summary         `json:"summary"`
	Projects []ProjectFigures `json:"projects"`
	Units    []UnitReport     `json:"units"`
}

// ProjectDelta is one project's difference between two months.
type ProjectDelta struct {
	ID     string                 `json:"id"`
	Name   string                 `json:"name"`
	Status string                 `json:"status"` // "added", "removed" or "changed"
	Fields map[string]FieldChange `json:"fields"`
}

// TotalDelta is one total figure in two months.
type TotalDelta struct {
	Key   string  `json:"key"` // e.g. "investment.completedYuan", "planned.startRate"
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Delta float64 `json:"delta"`
}

// MonthComparison compares month Month with month With (环比: the month before; 同比: the same
// month a year before).
type MonthComparison struct {
	Month    Month          `json:"month"`
	With     Month          `json:"with"`
	Kind     string         `json:"kind"` // "mom" (环比), "yoy" (同比) or "other"
	Totals   []TotalDelta   `json:"totals"`
	Projects []ProjectDelta `json:"projects"` // added, removed and changed only
	Counts   struct {
		Added     int `json:"added"`
		Removed   int `json:"removed"`
		Changed   int `json:"changed"`
		Unchanged int `json:"unchanged"`
	} `json:"counts"`
}

// TrendPoint is one month of a year's 投资完成率 against 序时进度.
type TrendPoint struct {
	Month          Month   `json:"month"`
	Closed         bool    `json:"closed"`
	CompletionRate float64 `json:"completionRate"`
	ElapsedShare   float64 `json:"elapsedShare"`
	CompletedYuan  int64   `json:"completedYuan"`
	AnnualPlanYuan int64   `json:"annualPlanYuan"`
}
