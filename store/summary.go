package store

import (
	"sort"
	"time"
)

// Tally is a count of projects and their total investment.
type Tally struct {
	Count          int   `json:"count"`
	InvestmentYuan int64 `json:"investmentYuan"`
}

// Bucket is one row of a breakdown by stage, category, sector or department. Started and
// Completed count events dated within each project's year, as the rates do (docs/metrics.md).
type Bucket struct {
	Key string `json:"key"`
	Tally
	AnnualPlanYuan          int64 `json:"annualPlanYuan"`
	InvestmentCompletedYuan int64 `json:"investmentCompletedYuan"`
	Started                 int   `json:"started"`      // construction projects started or restarted within their year (开复工)
	Completed               int   `json:"completed"`    // construction projects completed within their year (竣工)
	Construction            int   `json:"construction"` // planned and unplanned projects (those that report monthly)
	Yellow                  int   `json:"yellow"`       // projects whose warning is yellow
	Red                     int   `json:"red"`          // projects whose warning is red
	OpenProblems            int   `json:"openProblems"`
}

// ConstructionTally adds the starts and completions dated within the year to a Tally.
type ConstructionTally struct {
	Tally
	Started   int `json:"started"`   // 开复工 = NewStarts + Restarts
	NewStarts int `json:"newStarts"` // 新开工: startedAt within the year, at a construction stage
	Restarts  int `json:"restarts"`  // 续建复工: started in an earlier year, resumedAt within the year
	Completed int `json:"completed"` // 竣工: completedAt within the year, at 竣工 or 投产
}

// PlannedTally is the planned projects' tally with 开复工率 and 开工率 and their denominators.
type PlannedTally struct {
	ConstructionTally
	StartDue     int     `json:"startDue"`     // 计划开复工 = NewStartDue + RestartDue
	NewStartDue  int     `json:"newStartDue"`  // 计划新开工: not started before the year, planned start not after it
	RestartDue   int     `json:"restartDue"`   // 计划复工: 续建, started before the year and not completed before it
	StartRate    float64 `json:"startRate"`    // 开复工率 = Started / StartDue; may exceed 1
	NewStartRate float64 `json:"newStartRate"` // 开工率 = NewStarts / NewStartDue; may exceed 1
}

// AttractionTally splits the investment-attraction projects by stage.
type AttractionTally struct {
	Tally
	Negotiating Tally `json:"negotiating"`
	Signed      Tally `json:"signed"`
	Landed      Tally `json:"landed"`
}

// Completion holds the numerator and denominator of 竣工率 (construction projects).
type Completion struct {
	Completed int `json:"completed"` // completedAt within the project's year, at 竣工 or 投产
	Due       int `json:"due"`       // plannedCompletion within the project's year
	// NotDue counts the completions of Completed whose plannedCompletion is not in the year
	// (early, overdue from an earlier plan, or never planned): why 竣工率 may exceed 1.
	NotDue int `json:"notDue"`
}

// Investment holds the figures of 投资完成率 and its gap to 序时进度.
type Investment struct {
	AnnualPlanYuan int64   `json:"annualPlanYuan"`
	CompletedYuan  int64   `json:"completedYuan"`
	CompletionRate float64 `json:"completionRate"`
	// GapPoints is (CompletionRate − ElapsedShare) × 100: percentage points ahead of 序时进度
	// (negative: behind), as in "超过序时进度 5.9 个百分点".
	GapPoints float64 `json:"gapPoints"`
}

// Summary holds the computed figures of the dashboard. See docs/api.md for each one.
type Summary struct {
	Rev            uint64            `json:"rev"`
	Year           *int              `json:"year"`
	Total          Tally             `json:"total"`
	Planned        PlannedTally      `json:"planned"`
	Unplanned      ConstructionTally `json:"unplanned"`
	Attraction     AttractionTally   `json:"attraction"`
	Completion     Completion        `json:"completion"`
	CompletionRate float64           `json:"completionRate"`
	Investment     Investment        `json:"investment"`
	ElapsedShare   float64           `json:"elapsedShare"`  // 序时进度 = ElapsedMonths / 12
	ElapsedMonths  int               `json:"elapsedMonths"` // months of the year counted as elapsed, 0–12
	ByStage        []Bucket          `json:"byStage"`
	ByCategory     []Bucket          `json:"byCategory"`
	BySector       []Bucket          `json:"bySector"`
	ByDepartment   []Bucket          `json:"byDepartment"`
	// Warnings counts the projects by level (by unit and category: the buckets' yellow and red).
	Warnings WarningCounts `json:"warnings"`
	// Problems counts the 问题台账 of the projects summarised.
	Problems ProblemCounts `json:"problems"`
	// Reporting is the report status per unit of the month being reported (the month before
	// today's, or today's once that one is closed); nil for a summary of another year.
	Reporting *Reporting `json:"reporting"`
}

// WarningCounts counts projects by warning level.
type WarningCounts struct {
	Green  int `json:"green"`
	Yellow int `json:"yellow"`
	Red    int `json:"red"`
}

// Reporting is a month's report status per unit.
type Reporting struct {
	Month    Month        `json:"month"`
	Deadline Date         `json:"deadline"`
	Status   MonthStatus  `json:"status"`
	Units    []UnitReport `json:"units"`
}

// SummaryFilter narrows a summary; zero fields match everything.
type SummaryFilter struct {
	Year       int
	Category   Category
	Department string
	Sector     string
}

// cellKey groups projects that contribute identically to every figure, so a summary is a fold
// over a few hundred cells instead of a scan of every project, and a change updates one or two
// cells.
type cellKey struct {
	year       int
	category   Category
	stage      Stage
	sector     string
	department string
	flags      uint8        // which rates of its year the project counts in (rateFlags)
	level      WarningLevel // the project's warning
}

type cell struct {
	count     int
	invest    int64
	plan      int64
	completed int64
	problems  int // open problems
}

type aggregate struct {
	cells map[cellKey]*cell // for filtered summaries
	years map[int]*tallies  // every project of each year, kept up to date at each change
}

func newAggregate() *aggregate {
	return &aggregate{cells: map[cellKey]*cell{}, years: map[int]*tallies{}}
}

func keyOf(p *Project) cellKey {
	level := p.Warning.Level
	if level == "" {
		level = LevelGreen
	}
	return cellKey{year: p.Year, category: p.Category, stage: p.Stage, sector: p.Sector,
		department: p.Department, flags: rateFlags(p), level: level}
}

// currentYear is the newest year with projects, or 0 when there are none.
func (a *aggregate) currentYear() int {
	y := 0
	for k := range a.years {
		y = max(y, k)
	}
	return y
}

// yearSummary is the summary of every project of one year.
func (a *aggregate) yearSummary(rev uint64, year int, now time.Time) *Summary {
	t := a.years[year]
	if t == nil {
		t = newTallies()
	}
	return t.summary(rev, year, now)
}

// The numerators and denominators a construction project counts in, for its own year Y (the
// register year, Project.Year). Facts count by their dates: a start, restart or completion
// dated in another year is not one of Y's, whenever it was recorded. See docs/metrics.md.
const (
	flagNewStartDue   uint8 = 1 << iota // 计划新开工: not started before Y, plannedStart empty or not after Y
	flagRestartDue                      // 计划复工: 续建 (startedAt before Y), not completed before Y
	flagNewStart                        // 新开工: not 续建, at a construction stage, startedAt in Y
	flagRestart                         // 续建复工: 续建, at a construction stage, resumedAt in Y
	flagCompletionDue                   // 计划竣工: plannedCompletion in Y
	flagCompleted                       // 竣工: at 竣工 or 投产, completedAt in Y
)

// rateFlags says which rates of its year p counts in; attraction projects count in none.
func rateFlags(p *Project) uint8 {
	if !p.Category.Construction() {
		return 0
	}
	y := p.Year
	var f uint8
	if p.continuing() {
		if !(p.Stage.Completed() && p.CompletedAt != "" && p.CompletedAt.Year() < y) {
			f |= flagRestartDue
		}
		if p.Stage.Started() && p.ResumedAt.Year() == y {
			f |= flagRestart
		}
	} else {
		if p.PlannedStart == "" || p.PlannedStart.Year() <= y {
			f |= flagNewStartDue
		}
		if p.Stage.Started() && p.StartedAt.Year() == y {
			f |= flagNewStart
		}
	}
	if p.PlannedCompletion.Year() == y {
		f |= flagCompletionDue
	}
	if p.Stage.Completed() && p.CompletedAt.Year() == y {
		f |= flagCompleted
	}
	return f
}

// count is n if the flag is set, else 0.
func (k cellKey) count(flag uint8, n int) int {
	if k.flags&flag != 0 {
		return n
	}
	return 0
}

// add adds p's contribution with sign +1, or removes it with sign -1.
func (a *aggregate) add(p *Project, sign int) {
	if p == nil {
		return
	}
	k := keyOf(p)
	t := a.years[p.Year]
	if t == nil {
		t = newTallies()
		a.years[p.Year] = t
	}
	t.add(k, cell{count: 1, invest: p.InvestmentYuan, plan: p.AnnualPlanYuan, completed: p.InvestmentCompletedYuan,
		problems: p.OpenProblems}, sign)
	if t.total.Count == 0 {
		delete(a.years, p.Year)
	}
	c := a.cells[k]
	if c == nil {
		c = &cell{}
		a.cells[k] = c
	}
	c.count += sign
	c.invest += int64(sign) * p.InvestmentYuan
	c.plan += int64(sign) * p.AnnualPlanYuan
	c.completed += int64(sign) * p.InvestmentCompletedYuan
	c.problems += sign * p.OpenProblems
	if c.count == 0 {
		delete(a.cells, k)
	}
}

func (f SummaryFilter) match(k cellKey) bool {
	return (f.Year == 0 || k.year == f.Year) && (f.Category == "" || k.category == f.Category) &&
		(f.Department == "" || k.department == f.Department) && (f.Sector == "" || k.sector == f.Sector)
}

func ratio(n, d float64) float64 {
	if d == 0 {
		return 0
	}
	return n / d
}

// tallies accumulate the figures of a set of projects. Adding a project's cell with sign -1
// removes it again, so the store keeps one tallies for all projects up to date at every
// change in time proportional to the number of buckets, not of projects.
type tallies struct {
	total        Tally
	planned      ConstructionTally
	unplanned    ConstructionTally
	attraction   AttractionTally
	completion   Completion
	investment   Investment
	warnings     WarningCounts
	newStartDue  int // planned projects' 计划新开工
	restartDue   int // planned projects' 计划复工
	byStage      map[string]*Bucket
	byCategory   map[string]*Bucket
	bySector     map[string]*Bucket
	byDepartment map[string]*Bucket
	years        map[int]int
}

func newTallies() *tallies {
	return &tallies{byStage: map[string]*Bucket{}, byCategory: map[string]*Bucket{}, bySector: map[string]*Bucket{},
		byDepartment: map[string]*Bucket{}, years: map[int]int{}}
}

// add adds (sign +1) or removes (sign -1) the projects of one cell.
func (t *tallies) add(k cellKey, c cell, sign int) {
	n, invest := sign*c.count, int64(sign)*c.invest
	plan, done := int64(sign)*c.plan, int64(sign)*c.completed
	problems := sign * c.problems
	tl := Tally{Count: n, InvestmentYuan: invest}
	addTally(&t.total, tl)
	switch k.level {
	case LevelRed:
		t.warnings.Red += n
	case LevelYellow:
		t.warnings.Yellow += n
	default:
		t.warnings.Green += n
	}
	if t.years[k.year] += n; t.years[k.year] == 0 {
		delete(t.years, k.year)
	}
	switch k.category {
	case CategoryPlanned, CategoryUnplanned:
		ct := &t.unplanned
		if k.category == CategoryPlanned {
			ct = &t.planned
			t.newStartDue += k.count(flagNewStartDue, n)
			t.restartDue += k.count(flagRestartDue, n)
		}
		addTally(&ct.Tally, tl)
		ct.NewStarts += k.count(flagNewStart, n)
		ct.Restarts += k.count(flagRestart, n)
		ct.Started += k.count(flagNewStart|flagRestart, n)
		ct.Completed += k.count(flagCompleted, n)
		t.completion.Completed += k.count(flagCompleted, n)
		t.completion.Due += k.count(flagCompletionDue, n)
		if k.flags&(flagCompleted|flagCompletionDue) == flagCompleted {
			t.completion.NotDue += n
		}
		t.investment.AnnualPlanYuan += plan
		t.investment.CompletedYuan += done
	case CategoryAttraction:
		addTally(&t.attraction.Tally, tl)
		switch k.stage {
		case StageNegotiating:
			addTally(&t.attraction.Negotiating, tl)
		case StageSigned:
			addTally(&t.attraction.Signed, tl)
		case StageLanded:
			addTally(&t.attraction.Landed, tl)
		}
	}
	bump := func(m map[string]*Bucket, key string) {
		b := m[key]
		if b == nil {
			b = &Bucket{Key: key}
			m[key] = b
		}
		addTally(&b.Tally, tl)
		b.OpenProblems += problems
		switch k.level {
		case LevelRed:
			b.Red += n
		case LevelYellow:
			b.Yellow += n
		}
		if k.category.Construction() {
			b.Construction += n
			b.AnnualPlanYuan += plan
			b.InvestmentCompletedYuan += done
			b.Started += k.count(flagNewStart|flagRestart, n)
			b.Completed += k.count(flagCompleted, n)
		}
		if b.Count == 0 {
			delete(m, key)
		}
	}
	bump(t.byStage, string(k.stage))
	bump(t.byCategory, string(k.category))
	bump(t.bySector, k.sector)
	bump(t.byDepartment, k.department)
}

// summary makes an immutable Summary of the tallies. year is the filter's year, 0 for all.
func (t *tallies) summary(rev uint64, year int, now time.Time) *Summary {
	s := &Summary{Rev: rev, Total: t.total, Unplanned: t.unplanned, Attraction: t.attraction,
		Completion: t.completion, Investment: t.investment, Warnings: t.warnings}
	s.Planned.ConstructionTally = t.planned
	if year != 0 {
		y := year
		s.Year = &y
	} else {
		for y := range t.years {
			year = max(year, y)
		}
	}
	s.Planned.NewStartDue, s.Planned.RestartDue = t.newStartDue, t.restartDue
	s.Planned.StartDue = t.newStartDue + t.restartDue
	s.Planned.StartRate = ratio(float64(s.Planned.Started), float64(s.Planned.StartDue))
	s.Planned.NewStartRate = ratio(float64(s.Planned.NewStarts), float64(s.Planned.NewStartDue))
	s.CompletionRate = ratio(float64(s.Completion.Completed), float64(s.Completion.Due))
	s.Investment.CompletionRate = ratio(float64(s.Investment.CompletedYuan), float64(s.Investment.AnnualPlanYuan))
	s.ElapsedMonths = ElapsedMonths(year, now)
	s.ElapsedShare = ElapsedShare(year, now)
	s.Investment.GapPoints = (s.Investment.CompletionRate - s.ElapsedShare) * 100
	for _, st := range Stages {
		s.ByStage = append(s.ByStage, bucketOrZero(t.byStage, string(st)))
	}
	for _, c := range Categories {
		s.ByCategory = append(s.ByCategory, bucketOrZero(t.byCategory, string(c)))
	}
	s.BySector = sortedBuckets(t.bySector)
	s.ByDepartment = sortedBuckets(t.byDepartment)
	return s
}

func bucketOrZero(m map[string]*Bucket, key string) Bucket {
	if b := m[key]; b != nil {
		return *b
	}
	return Bucket{Key: key}
}

// summary folds the cells that match a filter into a Summary. now gives 序时进度.
func (a *aggregate) summary(rev uint64, f SummaryFilter, now time.Time) *Summary {
	t := newTallies()
	for k, c := range a.cells {
		if f.match(k) {
			t.add(k, *c, 1)
		}
	}
	return t.summary(rev, f.Year, now)
}

func addTally(dst *Tally, t Tally) {
	dst.Count += t.Count
	dst.InvestmentYuan += t.InvestmentYuan
}

func sortedBuckets(m map[string]*Bucket) []Bucket {
	out := make([]Bucket, 0, len(m))
	for _, b := range m {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].InvestmentYuan != out[j].InvestmentYuan {
			return out[i].InvestmentYuan > out[j].InvestmentYuan
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// ZoneTime is the zone's time zone: dates set by stage moves and 序时进度 use it.
var ZoneTime = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// ElapsedShare is 序时进度: the share of year elapsed at now, counted in whole months as
// project offices do (ElapsedMonths/12: in March, the figures of 1–3月 against 3/12), 1 for a
// past year and 0 for a future one.
func ElapsedShare(year int, now time.Time) float64 {
	return float64(ElapsedMonths(year, now)) / 12
}

// ElapsedMonths is the number of months of year counted as elapsed at now, in the zone's
// time: the current month counts whole, since the figures are those of 1 to this month; 12
// for a past year, 0 for a future one (and for year 0).
func ElapsedMonths(year int, now time.Time) int {
	now = now.In(ZoneTime)
	switch {
	case year == 0:
		return 0
	case year < now.Year():
		return 12
	case year > now.Year():
		return 0
	}
	return int(now.Month())
}
