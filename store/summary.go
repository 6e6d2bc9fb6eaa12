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

// Bucket is one row of a breakdown by stage, category, sector or department.
type Bucket struct {
	Key string `json:"key"`
	Tally
	AnnualPlanYuan          int64 `json:"annualPlanYuan"`
	InvestmentCompletedYuan int64 `json:"investmentCompletedYuan"`
	Started                 int   `json:"started"`   // construction projects at under_construction or later
	Completed               int   `json:"completed"` // construction projects at completed or later
}

// ConstructionTally adds start and completion counts to a Tally.
type ConstructionTally struct {
	Tally
	Started   int `json:"started"`
	Completed int `json:"completed"`
}

// PlannedTally is the planned projects' tally with 开复工率.
type PlannedTally struct {
	ConstructionTally
	StartRate float64 `json:"startRate"`
}

// AttractionTally splits the investment-attraction projects by stage.
type AttractionTally struct {
	Tally
	Negotiating Tally `json:"negotiating"`
	Signed      Tally `json:"signed"`
	Landed      Tally `json:"landed"`
}

// Completion holds the numerator and denominator of 竣工率.
type Completion struct {
	Completed int `json:"completed"`
	Due       int `json:"due"`
}

// Investment holds the figures of 投资完成率.
type Investment struct {
	AnnualPlanYuan int64   `json:"annualPlanYuan"`
	CompletedYuan  int64   `json:"completedYuan"`
	CompletionRate float64 `json:"completionRate"`
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
	ElapsedShare   float64           `json:"elapsedShare"`
	ByStage        []Bucket          `json:"byStage"`
	ByCategory     []Bucket          `json:"byCategory"`
	BySector       []Bucket          `json:"bySector"`
	ByDepartment   []Bucket          `json:"byDepartment"`
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
	due        bool // a construction project whose planned completion is in or before its year
}

type cell struct {
	count     int
	invest    int64
	plan      int64
	completed int64
}

type aggregate struct {
	cells map[cellKey]*cell // for filtered summaries
	all   *tallies          // every project, kept up to date at each change
}

func newAggregate() *aggregate { return &aggregate{cells: map[cellKey]*cell{}, all: newTallies()} }

func keyOf(p *Project) cellKey {
	due := p.Category.Construction() && p.PlannedCompletion != "" && p.PlannedCompletion.Year() <= p.Year
	return cellKey{year: p.Year, category: p.Category, stage: p.Stage, sector: p.Sector,
		department: p.Department, due: due}
}

// add adds p's contribution with sign +1, or removes it with sign -1.
func (a *aggregate) add(p *Project, sign int) {
	if p == nil {
		return
	}
	k := keyOf(p)
	a.all.add(k, cell{count: 1, invest: p.InvestmentYuan, plan: p.AnnualPlanYuan, completed: p.InvestmentCompletedYuan}, sign)
	c := a.cells[k]
	if c == nil {
		c = &cell{}
		a.cells[k] = c
	}
	c.count += sign
	c.invest += int64(sign) * p.InvestmentYuan
	c.plan += int64(sign) * p.AnnualPlanYuan
	c.completed += int64(sign) * p.InvestmentCompletedYuan
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
	tl := Tally{Count: n, InvestmentYuan: invest}
	addTally(&t.total, tl)
	if t.years[k.year] += n; t.years[k.year] == 0 {
		delete(t.years, k.year)
	}
	switch k.category {
	case CategoryPlanned, CategoryUnplanned:
		ct := &t.unplanned
		if k.category == CategoryPlanned {
			ct = &t.planned
		}
		addTally(&ct.Tally, tl)
		if k.stage.Started() {
			ct.Started += n
		}
		if k.stage.Completed() {
			ct.Completed += n
			t.completion.Completed += n
		}
		if k.due {
			t.completion.Due += n
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
		if k.category.Construction() {
			b.AnnualPlanYuan += plan
			b.InvestmentCompletedYuan += done
			if k.stage.Started() {
				b.Started += n
			}
			if k.stage.Completed() {
				b.Completed += n
			}
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
		Completion: t.completion, Investment: t.investment}
	s.Planned.ConstructionTally = t.planned
	if year != 0 {
		y := year
		s.Year = &y
	} else {
		for y := range t.years {
			year = max(year, y)
		}
	}
	s.Planned.StartRate = ratio(float64(s.Planned.Started), float64(s.Planned.Count))
	s.CompletionRate = ratio(float64(s.Completion.Completed), float64(s.Completion.Due))
	s.Investment.CompletionRate = ratio(float64(s.Investment.CompletedYuan), float64(s.Investment.AnnualPlanYuan))
	s.ElapsedShare = ElapsedShare(year, now)
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
// project offices do (month/12), 1 for a past year and 0 for a future one.
func ElapsedShare(year int, now time.Time) float64 {
	now = now.In(ZoneTime)
	switch {
	case year == 0:
		return 0
	case year < now.Year():
		return 1
	case year > now.Year():
		return 0
	}
	return float64(now.Month()) / 12
}
