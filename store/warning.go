package store

import (
	"fmt"
	"maps"
	"math"
	"time"
)

// WarningLevel is a project's traffic light (红黄绿).
type WarningLevel string

// The levels, from good to bad.
const (
	LevelGreen  WarningLevel = "green"
	LevelYellow WarningLevel = "yellow"
	LevelRed    WarningLevel = "red"
)

// Levels lists the levels from good to bad.
var Levels = []WarningLevel{LevelGreen, LevelYellow, LevelRed}

func (l WarningLevel) rank() int {
	switch l {
	case LevelYellow:
		return 1
	case LevelRed:
		return 2
	}
	return 0
}

func (l WarningLevel) valid() bool { return l == LevelGreen || l == LevelYellow || l == LevelRed }

// The rules' names, as they appear in a reason and in the settings.
const (
	RuleInvestmentPace    = "investmentPace"
	RuleProgressPace      = "progressPace"
	RuleNotStarted        = "notStarted"
	RuleCompletionOverdue = "completionOverdue"
	RuleReportMissing     = "reportMissing"
	RuleConsecutiveYellow = "consecutiveYellow"
	RuleProblemOverdue    = "problemOverdue"
)

// WarningReason is one rule that fired: what it measured and against which threshold, with
// the figures its sentence quotes. The sentence itself is not stored or sent: Text writes it
// (and the web UI, from the same fields, in its own language files). Stored in every project
// and carried by every change message, two sentences in two languages were most of a project's
// bytes.
type WarningReason struct {
	Rule      string       `json:"rule"`
	Level     WarningLevel `json:"level"`
	Value     float64      `json:"value,omitempty"`     // 0 when left out
	Threshold float64      `json:"threshold,omitempty"` // 0 when left out
	Unit      string       `json:"unit,omitempty"`      // "points", "months", "count" or none
	// Actual is the figure compared: 投资完成率 in per cent (investmentPace), 形象进度 in per
	// cent (progressPace).
	Actual float64 `json:"actual,omitempty"`
	// Elapsed and Span are the construction period's months gone and in all (progressPace).
	Elapsed int `json:"elapsed,omitempty"`
	Span    int `json:"span,omitempty"`
	// Date is the date the rule counts from: the planned start (notStarted), the planned
	// completion (completionOverdue), the report's deadline (reportMissing).
	Date Date `json:"date,omitempty"`
	// Month is the month whose report is missing (reportMissing).
	Month Month `json:"month,omitempty"`
	// LegacyZh and LegacyEn are the sentences a reason was stored with before reasons carried
	// their figures (a month closed then keeps them in its snapshot); never written now.
	LegacyZh string `json:"zh,omitempty"`
	LegacyEn string `json:"en,omitempty"`
}

// Text is the reason in words, in Chinese (lang "zh", the default) or English ("en"), e.g.
// "计划 2022-08-01 开工，逾期 3 个月未开工（红色阈值 3 个月）". frontend/src/cycle/reasons.ts
// writes the same sentences; TestReasonTextMatchesUI keeps them equal.
func (r WarningReason) Text(lang string) string {
	en := lang == "en"
	if en && r.LegacyEn != "" {
		return r.LegacyEn
	}
	if !en && r.LegacyZh != "" {
		return r.LegacyZh
	}
	zhLevel, enLevel := levelName(r.Level)
	pick := func(zh, e string) string {
		if en {
			return e
		}
		return zh
	}
	switch r.Rule {
	case RuleInvestmentPace:
		return pick(fmt.Sprintf("投资完成率 %.1f%%，落后序时进度 %.1f 个百分点（%s阈值 %g）", r.Actual, r.Value, zhLevel, r.Threshold),
			fmt.Sprintf("investment %.1f%% complete, %.1f points behind the year's pace (%s at %g)", r.Actual, r.Value, enLevel, r.Threshold))
	case RuleProgressPace:
		return pick(fmt.Sprintf("形象进度 %g%%，落后工期进度（%d/%d 个月）%.1f 个百分点（%s阈值 %g）", r.Actual, r.Elapsed, r.Span, r.Value, zhLevel, r.Threshold),
			fmt.Sprintf("progress %g%%, %.1f points behind the construction schedule (%d of %d months; %s at %g)", r.Actual, r.Value, r.Elapsed, r.Span, enLevel, r.Threshold))
	case RuleNotStarted:
		return pick(fmt.Sprintf("计划 %s 开工，逾期 %g 个月未开工（%s阈值 %g 个月）", r.Date, r.Value, zhLevel, r.Threshold),
			fmt.Sprintf("planned to start %s, not started %g %s later (%s at %g)", r.Date, r.Value, plural(r.Value, "month"), enLevel, r.Threshold))
	case RuleCompletionOverdue:
		if r.Value > 0 {
			return pick(fmt.Sprintf("计划 %s 竣工，逾期 %g 个月未竣工", r.Date, r.Value),
				fmt.Sprintf("planned completion %s passed, not completed %g %s later", r.Date, r.Value, plural(r.Value, "month")))
		}
		return pick(fmt.Sprintf("计划 %s 竣工，已逾期未竣工", r.Date), fmt.Sprintf("planned completion %s passed, not completed", r.Date))
	case RuleReportMissing:
		return pick(fmt.Sprintf("%d年%d月月报截至 %s 未报", r.Month.Year(), r.Month.Num(), r.Date),
			fmt.Sprintf("no report for %s after its deadline %s", r.Month, r.Date))
	case RuleProblemOverdue:
		return pick(fmt.Sprintf("%g 个问题逾期未解决", r.Value), fmt.Sprintf("%g %s past their due date", r.Value, plural(r.Value, "problem")))
	case RuleConsecutiveYellow:
		return pick(fmt.Sprintf("连续 %g 个已关账月份为黄色或红色，升为红色", r.Value),
			fmt.Sprintf("yellow or worse in the last %g closed months: raised to red", r.Value))
	}
	return r.Rule
}

// Warning is a project's level with the reasons for it (none when green).
type Warning struct {
	Level   WarningLevel    `json:"level"`
	Reasons []WarningReason `json:"reasons"`
	// Since is when the project reached this level (kept while the level stays, whatever the
	// reasons): the wall lists the newest red first. Zero for a project never graded.
	Since *time.Time `json:"since,omitempty"`
}

// Equal reports whether two warnings say the same (the level and every reason; not Since).
func (w Warning) Equal(o Warning) bool {
	if w.Level != o.Level || len(w.Reasons) != len(o.Reasons) {
		return false
	}
	for i := range w.Reasons {
		if w.Reasons[i] != o.Reasons[i] {
			return false
		}
	}
	return true
}

// WarningBrief is how a change records a warning (fields.warning.from/to): its level and
// the level each of its reasons' rules gave, without the figures. The project after the change
// carries the whole warning; the log need not repeat it twice per edit (it was most of a
// change's bytes, and a third of the writer's throughput with 64 editors). Changes recorded
// before the brief had this shape carry {level, reasons: [{rule, level}]}; readers take both.
type WarningBrief struct {
	Level WarningLevel            `json:"level"`
	Rules map[string]WarningLevel `json:"rules,omitempty"`
}

func (w Warning) brief() WarningBrief {
	b := WarningBrief{Level: w.Level}
	for _, r := range w.Reasons {
		if b.Rules == nil {
			b.Rules = make(map[string]WarningLevel, len(w.Reasons))
		}
		b.Rules[r.Rule] = r.Level
	}
	return b
}

// Equal reports whether two briefs say the same.
func (b WarningBrief) Equal(o WarningBrief) bool {
	return b.Level == o.Level && maps.Equal(b.Rules, o.Rules)
}

// PointsRule grades a shortfall in percentage points.
type PointsRule struct {
	Enabled      bool    `json:"enabled"`
	YellowPoints float64 `json:"yellowPoints"` // behind by at least this: yellow
	RedPoints    float64 `json:"redPoints"`    // behind by more than this: red
}

// MonthsRule grades a delay in whole months.
type MonthsRule struct {
	Enabled      bool `json:"enabled"`
	YellowMonths int  `json:"yellowMonths"`
	RedMonths    int  `json:"redMonths"`
}

// LevelRule gives one level when it fires.
type LevelRule struct {
	Enabled bool         `json:"enabled"`
	Level   WarningLevel `json:"level"`
}

// ReportRule fires when the previous month's report is missing after its deadline.
type ReportRule struct {
	LevelRule
	DeadlineDay int `json:"deadlineDay"` // the report of month M is due on this day of M+1 (1–28)
}

// ConsecutiveRule turns yellow into red after yellow (or worse) in the last Months closed months.
type ConsecutiveRule struct {
	Enabled bool `json:"enabled"`
	Months  int  `json:"months"`
}

// WarningRules are the warning rules and their thresholds, kept in the database and edited by
// an admin (GET|PUT /api/settings/warnings). See docs/metrics.md, "Warnings".
type WarningRules struct {
	Version           uint64          `json:"version"`
	InvestmentPace    PointsRule      `json:"investmentPace"`
	ProgressPace      PointsRule      `json:"progressPace"`
	NotStarted        MonthsRule      `json:"notStarted"`
	CompletionOverdue LevelRule       `json:"completionOverdue"`
	ReportMissing     ReportRule      `json:"reportMissing"`
	ConsecutiveYellow ConsecutiveRule `json:"consecutiveYellow"`
	ProblemOverdue    LevelRule       `json:"problemOverdue"`
	UpdatedAt         *time.Time      `json:"updatedAt"`
	UpdatedBy         string          `json:"updatedBy"`
}

// DefaultWarningRules are the rules a new database starts with: the thresholds offices
// publish (yellow 10–30 points behind 序时进度, red beyond; not started 1 month after the
// plan yellow, 3 months red; reports due on the 5th).
func DefaultWarningRules() WarningRules {
	return WarningRules{
		InvestmentPace:    PointsRule{Enabled: true, YellowPoints: 10, RedPoints: 30},
		ProgressPace:      PointsRule{Enabled: true, YellowPoints: 10, RedPoints: 30},
		NotStarted:        MonthsRule{Enabled: true, YellowMonths: 1, RedMonths: 3},
		CompletionOverdue: LevelRule{Enabled: true, Level: LevelRed},
		ReportMissing:     ReportRule{LevelRule: LevelRule{Enabled: true, Level: LevelYellow}, DeadlineDay: 5},
		ConsecutiveYellow: ConsecutiveRule{Enabled: true, Months: 2},
		ProblemOverdue:    LevelRule{Enabled: true, Level: LevelYellow},
	}
}

// Validate checks the thresholds.
func (r *WarningRules) Validate() error {
	points := func(field string, p PointsRule) error {
		if p.YellowPoints < 0 || p.YellowPoints > 100 || math.IsNaN(p.YellowPoints) {
			return invalid(field+".yellowPoints", "must be between 0 and 100")
		}
		if p.RedPoints < p.YellowPoints || p.RedPoints > 100 || math.IsNaN(p.RedPoints) {
			return invalid(field+".redPoints", "must be between yellowPoints and 100")
		}
		return nil
	}
	level := func(field string, l LevelRule) error {
		if l.Level != LevelYellow && l.Level != LevelRed {
			return invalid(field+".level", `must be "yellow" or "red"`)
		}
		return nil
	}
	if err := points("investmentPace", r.InvestmentPace); err != nil {
		return err
	}
	if err := points("progressPace", r.ProgressPace); err != nil {
		return err
	}
	if r.NotStarted.YellowMonths < 0 || r.NotStarted.YellowMonths > 24 {
		return invalid("notStarted.yellowMonths", "must be between 0 and 24")
	}
	if r.NotStarted.RedMonths < r.NotStarted.YellowMonths || r.NotStarted.RedMonths > 36 {
		return invalid("notStarted.redMonths", "must be between yellowMonths and 36")
	}
	if err := level("completionOverdue", r.CompletionOverdue); err != nil {
		return err
	}
	if err := level("reportMissing", r.ReportMissing.LevelRule); err != nil {
		return err
	}
	if r.ReportMissing.DeadlineDay < 1 || r.ReportMissing.DeadlineDay > 28 {
		return invalid("reportMissing.deadlineDay", "must be between 1 and 28")
	}
	if r.ConsecutiveYellow.Months < 2 || r.ConsecutiveYellow.Months > 12 {
		return invalid("consecutiveYellow.months", "must be between 2 and 12")
	}
	return level("problemOverdue", r.ProblemOverdue)
}

// warnContext is what a project's warning depends on besides the project itself.
type warnContext struct {
	rules *WarningRules
	now   time.Time
	today Date
	// report is the status of the project's report for a month ("" when none).
	report func(id string, m Month) ReportStatus
	// reportingFrom is the first month of a year anyone reported ("" when nobody has): a
	// report counts as missing only from the month the office started collecting them.
	reportingFrom func(year int) Month
	// overdueProblems counts the project's open problems past their due date.
	overdueProblems func(id string) int
	// closedLevels gives the project's levels in the latest closed months, newest first,
	// as long as the months are consecutive.
	closedLevels func(id string, n int) []WarningLevel
}

// monthsBetween counts the whole months from a to b (0 if b is before a month after a).
func monthsBetween(a, b Date) int {
	ta, err1 := time.Parse(dateLayout, string(a))
	tb, err2 := time.Parse(dateLayout, string(b))
	if err1 != nil || err2 != nil || !tb.After(ta) {
		return 0
	}
	n := (tb.Year()-ta.Year())*12 + int(tb.Month()) - int(ta.Month())
	if tb.Day() < ta.Day() {
		n--
	}
	return max(n, 0)
}

// plural is the English noun for n of them.
func plural(n float64, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func levelName(l WarningLevel) (zh, en string) {
	if l == LevelRed {
		return "红色", "red"
	}
	return "黄色", "yellow"
}

// evaluate computes p's warning. Only construction projects of a year that has begun are
// graded; investment-attraction projects are always green.
func (c *warnContext) evaluate(p *Project) Warning {
	w := Warning{Level: LevelGreen, Reasons: []WarningReason{}}
	if !p.Category.Construction() || c.rules == nil {
		return w
	}
	r := c.rules
	year := p.Year
	if year > c.now.In(ZoneTime).Year() {
		return w
	}
	add := func(reason WarningReason) {
		w.Reasons = append(w.Reasons, reason)
		if reason.Level.rank() > w.Level.rank() {
			w.Level = reason.Level
		}
	}
	grade := func(behind float64, pr PointsRule) (WarningLevel, float64) {
		switch {
		case behind > pr.RedPoints:
			return LevelRed, pr.RedPoints
		case behind >= pr.YellowPoints && behind > 0:
			return LevelYellow, pr.YellowPoints
		}
		return LevelGreen, 0
	}
	completed := p.Stage.Completed()
	// Investment against 序时进度.
	if r.InvestmentPace.Enabled && !completed && p.AnnualPlanYuan > 0 {
		elapsed := ElapsedShare(year, c.now)
		rate := float64(p.InvestmentCompletedYuan) / float64(p.AnnualPlanYuan)
		behind := round1((elapsed - rate) * 100)
		if lvl, th := grade(behind, r.InvestmentPace); lvl != LevelGreen {
			add(WarningReason{Rule: RuleInvestmentPace, Level: lvl, Value: behind, Threshold: th, Unit: "points", Actual: round1(rate * 100)})
		}
	}
	// 形象进度 against the share of the construction period elapsed, counted in whole months
	// like 序时进度, so that a warning moves at a month boundary, not every day.
	start := p.StartedAt
	if start == "" {
		start = p.PlannedStart
	}
	if r.ProgressPace.Enabled && p.Stage.Started() && !completed && start != "" && p.PlannedCompletion > start {
		total := max(monthsBetween(start, p.PlannedCompletion), 1)
		gone := min(monthsBetween(start, c.today), total)
		expected := float64(gone) / float64(total) * 100
		behind := round1(expected - float64(p.Progress))
		if lvl, th := grade(behind, r.ProgressPace); lvl != LevelGreen {
			add(WarningReason{Rule: RuleProgressPace, Level: lvl, Value: behind, Threshold: th, Unit: "points",
				Actual: float64(p.Progress), Elapsed: gone, Span: total})
		}
	}
	// Not started after the planned start.
	if r.NotStarted.Enabled && !p.Stage.Started() && p.PlannedStart != "" && p.PlannedStart < c.today {
		late := monthsBetween(p.PlannedStart, c.today)
		var lvl WarningLevel
		var th int
		switch {
		case late >= r.NotStarted.RedMonths:
			lvl, th = LevelRed, r.NotStarted.RedMonths
		case late >= r.NotStarted.YellowMonths && late > 0:
			lvl, th = LevelYellow, r.NotStarted.YellowMonths
		}
		if lvl != "" {
			add(WarningReason{Rule: RuleNotStarted, Level: lvl, Value: float64(late), Threshold: float64(th), Unit: "months",
				Date: p.PlannedStart})
		}
	}
	// Planned completion passed (in whole months, for the same reason).
	if r.CompletionOverdue.Enabled && !completed && p.PlannedCompletion != "" && p.PlannedCompletion < c.today {
		late := monthsBetween(p.PlannedCompletion, c.today)
		add(WarningReason{Rule: RuleCompletionOverdue, Level: r.CompletionOverdue.Level, Value: float64(late), Unit: "months",
			Date: p.PlannedCompletion})
	}
	// Last month's report missing after its deadline, once the office collects reports on
	// the board (from the first month anyone reported in the year).
	if r.ReportMissing.Enabled && c.report != nil {
		m := MonthOf(c.today).Add(-1)
		deadline := m.Deadline(r.ReportMissing.DeadlineDay)
		from := Month("")
		if c.reportingFrom != nil {
			from = c.reportingFrom(year)
		}
		if m.Year() == year && c.today > deadline && from != "" && m >= from {
			if st := c.report(p.ID, m); st == "" || st == ReportReturned {
				add(WarningReason{Rule: RuleReportMissing, Level: r.ReportMissing.Level, Unit: "", Date: deadline, Month: m})
			}
		}
	}
	// Overdue problems.
	if r.ProblemOverdue.Enabled && c.overdueProblems != nil {
		if n := c.overdueProblems(p.ID); n > 0 {
			add(WarningReason{Rule: RuleProblemOverdue, Level: r.ProblemOverdue.Level, Value: float64(n), Unit: "count"})
		}
	}
	// Yellow again after yellow in the last closed months.
	if r.ConsecutiveYellow.Enabled && w.Level == LevelYellow && c.closedLevels != nil {
		n := r.ConsecutiveYellow.Months
		levels := c.closedLevels(p.ID, n)
		if len(levels) >= n {
			all := true
			for _, l := range levels[:n] {
				all = all && l.rank() >= LevelYellow.rank()
			}
			if all {
				add(WarningReason{Rule: RuleConsecutiveYellow, Level: LevelRed, Value: float64(n), Threshold: float64(n), Unit: "months"})
			}
		}
	}
	return w
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
