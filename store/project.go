package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Category is the list a project belongs to in the zone's register (项目库).
type Category string

// The categories.
const (
	CategoryPlanned    Category = "planned"    // 计划内重点项目
	CategoryUnplanned  Category = "unplanned"  // 计划外新开工
	CategoryAttraction Category = "attraction" // 招商引资
)

// Categories lists every category in display order.
var Categories = []Category{CategoryPlanned, CategoryUnplanned, CategoryAttraction}

// Construction reports whether projects of this category are counted as construction
// projects (开复工, 竣工, 投资完成).
func (c Category) Construction() bool { return c == CategoryPlanned || c == CategoryUnplanned }

func (c Category) valid() bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// Stage is where a project stands, from negotiation to production.
type Stage string

// The stages, in order.
const (
	StageNegotiating       Stage = "negotiating"        // 洽谈
	StageSigned            Stage = "signed"             // 签约
	StageLanded            Stage = "landed"             // 落位
	StagePreparing         Stage = "preparing"          // 前期
	StageUnderConstruction Stage = "under_construction" // 在建 (开工或复工)
	StageCompleted         Stage = "completed"          // 竣工
	StageOperating         Stage = "operating"          // 投产
)

// Stages lists every stage in order.
var Stages = []Stage{StageNegotiating, StageSigned, StageLanded, StagePreparing,
	StageUnderConstruction, StageCompleted, StageOperating}

// Index is the stage's position in Stages, or -1 for an unknown stage.
func (s Stage) Index() int {
	for i, k := range Stages {
		if s == k {
			return i
		}
	}
	return -1
}

// Started reports whether the project has started or resumed construction.
func (s Stage) Started() bool { return s.Index() >= StageUnderConstruction.Index() }

// Completed reports whether construction is finished.
func (s Stage) Completed() bool { return s.Index() >= StageCompleted.Index() }

// Date is a calendar date "YYYY-MM-DD"; the empty Date is JSON null.
type Date string

const dateLayout = "2006-01-02"

// MarshalJSON writes null for the empty date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	if len(d) == len(dateLayout) && dateChars(string(d)) {
		return []byte(`"` + d + `"`), nil // nothing to escape in a YYYY-MM-DD date
	}
	return json.Marshal(string(d))
}

func dateChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// UnmarshalJSON accepts null or a valid "YYYY-MM-DD" date.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return ErrWrongType
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ErrWrongType is what a store type's UnmarshalJSON returns for a JSON value of the wrong
// kind (a Date given a number): a decoder of requests reports it as a value of the wrong type.
var ErrWrongType = errors.New("wrong type")

// ParseDate checks that s is a real calendar date between 1990 and 2100.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return "", nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil || t.Format(dateLayout) != s {
		return "", fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	if t.Year() < 1990 || t.Year() > 2100 {
		return "", fmt.Errorf("%q is outside 1990–2100", s)
	}
	return Date(s), nil
}

// Year is the date's year, or 0 for the empty date.
func (d Date) Year() int {
	if len(d) < 4 {
		return 0
	}
	y := 0
	for _, c := range d[:4] {
		y = y*10 + int(c-'0')
	}
	return y
}

// Project is one entry of the zone's project register.
type Project struct {
	ID                      string   `json:"id"`
	Name                    string   `json:"name"`
	Category                Category `json:"category"`
	Year                    int      `json:"year"`
	Sector                  string   `json:"sector"`
	Department              string   `json:"department"` // 责任单位
	Leader                  string   `json:"leader"`     // 包保领导
	Stage                   Stage    `json:"stage"`
	InvestmentYuan          int64    `json:"investmentYuan"`
	AnnualPlanYuan          int64    `json:"annualPlanYuan"`
	InvestmentCompletedYuan int64    `json:"investmentCompletedYuan"`
	Progress                int      `json:"progress"` // 形象进度, 0–100
	PlannedStart            Date     `json:"plannedStart"`
	StartedAt               Date     `json:"startedAt"`
	// ResumedAt is when a continuing project (续建: started before its year) restarted
	// construction within its year (复工), e.g. after the winter; see docs/metrics.md.
	ResumedAt         Date   `json:"resumedAt"`
	PlannedCompletion Date   `json:"plannedCompletion"`
	CompletedAt       Date   `json:"completedAt"`
	OnHold            bool   `json:"onHold"`
	Note              string `json:"note"`
	// CarriedFrom is the project's entry in the year before, when "start the year's lists"
	// carried it over as continuing (续建).
	CarriedFrom string `json:"carriedFrom,omitempty"`
	// Warning is the project's traffic light with its reasons, computed by the store (never
	// set by an edit): see docs/metrics.md, "Warnings".
	Warning Warning `json:"warning"`
	// OpenProblems counts the project's unresolved problems (问题台账), kept by the store.
	OpenProblems int       `json:"openProblems"`
	Version      uint64    `json:"version"`
	UpdatedAt    time.Time `json:"updatedAt"`
	UpdatedBy    string    `json:"updatedBy"`
}

// MaxYuan bounds every amount of money: a trillion yuan is beyond any single project.
const MaxYuan int64 = 1_000_000_000_000_000

// CheckText is the one validation of free text, on every route that takes some: valid UTF-8,
// between min and max characters, and nothing invisible or misleading — no control
// characters (C0, DEL, C1), no format characters (Unicode Cf: bidirectional overrides and
// isolates such as U+202E, zero-width spaces and joiners, the BOM) and no line or paragraph
// separators. Single-line fields (names) refuse newlines and tabs too; see CheckLongText.
func CheckText(field, v string, min, max int) error { return checkTextOf(field, v, min, max, false) }

// CheckLongText is CheckText for multi-line text (notes, comments): newlines and tabs are allowed.
func CheckLongText(field, v string, min, max int) error { return checkTextOf(field, v, min, max, true) }

func checkText(field, v string, min, max int) error { return checkTextOf(field, v, min, max, false) }

func checkTextOf(field, v string, min, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return invalid(field, "is not valid UTF-8")
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return invalid(field, "is required")
		}
		return invalid(field, "needs at least %d characters", min)
	}
	if n > max {
		return invalid(field, "has more than %d characters", max)
	}
	for _, r := range v {
		if unsafeRune(r, multiline) {
			return invalid(field, "contains a control or invisible character (U+%04X)", r)
		}
	}
	return nil
}

// unsafeRune reports whether r may not appear in stored text.
func unsafeRune(r rune, multiline bool) bool {
	if r == '\n' || r == '\t' {
		return !multiline
	}
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

func checkYuan(field string, v int64) error {
	if v < 0 {
		return invalid(field, "must not be negative")
	}
	if v > MaxYuan {
		return invalid(field, "is larger than %d yuan", MaxYuan)
	}
	return nil
}

// MaxComment is the longest comment a change may carry.
const MaxComment = 500

// CheckComment validates a change's comment, the same for every route that takes one.
func CheckComment(c string) error { return CheckLongText("comment", c, 0, MaxComment) }

// Validate checks every field of p; it returns a *ValidationError naming the first bad one.
func (p *Project) Validate() error {
	if err := checkID(p.ID); err != nil {
		return err
	}
	checks := []error{
		checkText("name", strings.TrimSpace(p.Name), 1, 200),
		checkText("sector", p.Sector, 1, 50),
		checkText("department", p.Department, 1, 50),
		checkText("leader", p.Leader, 0, 100),
		CheckLongText("note", p.Note, 0, 2000),
		checkYuan("investmentYuan", p.InvestmentYuan),
		checkYuan("annualPlanYuan", p.AnnualPlanYuan),
		checkYuan("investmentCompletedYuan", p.InvestmentCompletedYuan),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if !p.Category.valid() {
		return invalid("category", "must be one of planned, unplanned, attraction")
	}
	if p.Stage.Index() < 0 {
		return invalid("stage", "must be one of %s", stageList())
	}
	if p.Year < 2000 || p.Year > 2100 {
		return invalid("year", "must be between 2000 and 2100")
	}
	if p.Progress < 0 || p.Progress > 100 {
		return invalid("progress", "must be between 0 and 100")
	}
	dates := []struct {
		field string
		v     Date
	}{{"plannedStart", p.PlannedStart}, {"startedAt", p.StartedAt}, {"resumedAt", p.ResumedAt},
		{"plannedCompletion", p.PlannedCompletion}, {"completedAt", p.CompletedAt}}
	for _, d := range dates {
		if _, err := ParseDate(string(d.v)); err != nil {
			return invalid(d.field, "%s", err.Error())
		}
	}
	if p.StartedAt != "" && p.CompletedAt != "" && p.CompletedAt < p.StartedAt {
		return invalid("completedAt", "is before startedAt (%s)", p.StartedAt)
	}
	if p.ResumedAt != "" {
		switch {
		case p.StartedAt == "":
			return invalid("resumedAt", "needs startedAt: only a project that started can restart")
		case p.ResumedAt < p.StartedAt:
			return invalid("resumedAt", "is before startedAt (%s)", p.StartedAt)
		case p.CompletedAt != "" && p.CompletedAt < p.ResumedAt:
			return invalid("resumedAt", "is after completedAt (%s)", p.CompletedAt)
		}
	}
	if p.PlannedStart != "" && p.PlannedCompletion != "" && p.PlannedCompletion < p.PlannedStart {
		return invalid("plannedCompletion", "is before plannedStart (%s)", p.PlannedStart)
	}
	return nil
}

func stageList() string {
	s := make([]string, len(Stages))
	for i, st := range Stages {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func checkID(id string) error {
	if id == "" || len(id) > 64 {
		return invalid("id", "must have 1 to 64 characters")
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return invalid("id", "may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// Patch is a partial update of a project: a nil field is left as it is. A date field set to
// a pointer to the empty Date clears it.
type Patch struct {
	Name                    *string
	Category                *Category
	Year                    *int
	Sector                  *string
	Department              *string
	Leader                  *string
	Stage                   *Stage
	InvestmentYuan          *int64
	AnnualPlanYuan          *int64
	InvestmentCompletedYuan *int64
	Progress                *int
	PlannedStart            *Date
	StartedAt               *Date
	ResumedAt               *Date
	PlannedCompletion       *Date
	CompletedAt             *Date
	OnHold                  *bool
	Note                    *string
	// Comment says why; it goes on the change, not on the project.
	Comment string
	// EffectiveDate is the day a stage move happened (body field "effectiveDate"): the date
	// it fills into startedAt, resumedAt or completedAt. Nil or empty means today (the zone's
	// date). Like Comment it is not stored on the project; Prepare refuses a date after today
	// or before the project's year.
	EffectiveDate *Date
}

// Apply returns a copy of p with the patch applied, and the fields that changed. today is the
// zone's date: a stage move fills in the dates it implies with the patch's EffectiveDate, or
// today without one (see stageMoved). Apply checks nothing; Prepare is Apply with the checks.
func (pt *Patch) Apply(p Project, today Date) (Project, map[string]FieldChange) {
	before := p
	setS := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setS(&p.Name, pt.Name)
	setS(&p.Sector, pt.Sector)
	setS(&p.Department, pt.Department)
	setS(&p.Leader, pt.Leader)
	setS(&p.Note, pt.Note)
	if pt.Category != nil {
		p.Category = *pt.Category
	}
	if pt.Year != nil {
		p.Year = *pt.Year
	}
	if pt.Stage != nil {
		p.Stage = *pt.Stage
	}
	for _, m := range []struct{ dst, v *int64 }{{&p.InvestmentYuan, pt.InvestmentYuan},
		{&p.AnnualPlanYuan, pt.AnnualPlanYuan}, {&p.InvestmentCompletedYuan, pt.InvestmentCompletedYuan}} {
		if m.v != nil {
			*m.dst = *m.v
		}
	}
	if pt.Progress != nil {
		p.Progress = *pt.Progress
	}
	for _, d := range []struct{ dst, v *Date }{{&p.PlannedStart, pt.PlannedStart}, {&p.StartedAt, pt.StartedAt},
		{&p.ResumedAt, pt.ResumedAt}, {&p.PlannedCompletion, pt.PlannedCompletion}, {&p.CompletedAt, pt.CompletedAt}} {
		if d.v != nil {
			*d.dst = *d.v
		}
	}
	if pt.OnHold != nil {
		p.OnHold = *pt.OnHold
	}
	if pt.Stage != nil && p.Stage != before.Stage {
		eff := today
		if pt.EffectiveDate != nil && *pt.EffectiveDate != "" {
			eff = *pt.EffectiveDate
		}
		pt.stageMoved(&p, before.Stage, eff)
	}
	return p, Diff(before, p)
}

// stageMoved fills in what a stage move implies, on the date it happened (eff), wherever the
// patch does not give the value itself:
//   - into construction (from 前期 or the attraction stages): a new project's startedAt; a
//     continuing project's (started before its year) resumedAt, if it has none yet;
//   - into 竣工 or 投产: completedAt (a new completion, so an older date is replaced), and
//     形象进度 100 if it was lower;
//   - back out of 竣工/投产: completedAt is cleared (the completion did not stand).
//
// A move back to 前期 keeps startedAt: the start happened, and it tells a continuing project
// from a new one; the figures count a start only at a construction stage.
func (pt *Patch) stageMoved(p *Project, from Stage, eff Date) {
	if p.Stage.Started() && !from.Started() {
		switch {
		case pt.StartedAt == nil && p.StartedAt == "":
			p.StartedAt = eff
		case p.continuing() && pt.ResumedAt == nil && p.ResumedAt == "":
			p.ResumedAt = eff
		}
	}
	switch {
	case p.Stage.Completed() && !from.Completed():
		if pt.CompletedAt == nil {
			p.CompletedAt = eff
		}
		if pt.Progress == nil {
			p.Progress = 100
		}
	case p.Stage.Completed():
		if pt.Progress == nil {
			p.Progress = 100 // 竣工 → 投产 of a project recorded below 100
		}
	case from.Completed() && pt.CompletedAt == nil:
		p.CompletedAt = ""
	}
}

// continuing reports whether p is a 续建 project: one that started before its year.
func (p *Project) continuing() bool { return p.StartedAt != "" && p.StartedAt.Year() < p.Year }

// Prepare is what the writer does with an update, for anyone who must check one without
// committing it (an import's dry run): Apply, then — if anything changed — Validate, the
// effective date (not after today, not before 1 January of the project's year) and the
// domain rules of the fields the change touches (CheckRules).
func (pt *Patch) Prepare(before Project, today Date) (Project, map[string]FieldChange, error) {
	after, fields := pt.Apply(before, today)
	if len(fields) == 0 {
		return after, fields, nil
	}
	if err := after.Validate(); err != nil {
		return after, fields, err
	}
	if err := pt.checkEffectiveDate(after.Year, today); err != nil {
		return after, fields, err
	}
	return after, fields, checkRules(&before, &after, fields)
}

// checkEffectiveDate refuses an effective date in the future or before the project's year.
func (pt *Patch) checkEffectiveDate(year int, today Date) error {
	if pt.EffectiveDate == nil || *pt.EffectiveDate == "" {
		return nil
	}
	d := *pt.EffectiveDate
	if today != "" && d > today {
		return ruleError("effectiveDate", "effective_date",
			fmt.Sprintf("%s is in the future (today is %s)", d, today),
			fmt.Sprintf("%s 晚于今天（%s）", d, today))
	}
	if d.Year() < year {
		return ruleError("effectiveDate", "effective_date",
			fmt.Sprintf("%s is before the project's year %d", d, year),
			fmt.Sprintf("%s 早于项目所属年度 %d 年", d, year))
	}
	return nil
}

// PrepareNew is what the writer does with a new project: the dates its stage implies (today
// for a start or completion without a date), then Validate and every domain rule.
func PrepareNew(p Project, today Date) (Project, error) {
	if p.Stage.Started() && p.StartedAt == "" {
		p.StartedAt = today
	}
	if p.Stage.Completed() && p.CompletedAt == "" {
		p.CompletedAt = today
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, CheckRules(nil, &p)
}

// FieldChange is one field's value before and after a change.
type FieldChange struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// Diff lists the editable fields that differ between a and b, by their JSON names.
func Diff(a, b Project) map[string]FieldChange {
	d := map[string]FieldChange{}
	add := func(name string, x, y any, same bool) {
		if !same {
			d[name] = FieldChange{From: x, To: y}
		}
	}
	add("name", a.Name, b.Name, a.Name == b.Name)
	add("category", a.Category, b.Category, a.Category == b.Category)
	add("year", a.Year, b.Year, a.Year == b.Year)
	add("sector", a.Sector, b.Sector, a.Sector == b.Sector)
	add("department", a.Department, b.Department, a.Department == b.Department)
	add("leader", a.Leader, b.Leader, a.Leader == b.Leader)
	add("stage", a.Stage, b.Stage, a.Stage == b.Stage)
	add("investmentYuan", a.InvestmentYuan, b.InvestmentYuan, a.InvestmentYuan == b.InvestmentYuan)
	add("annualPlanYuan", a.AnnualPlanYuan, b.AnnualPlanYuan, a.AnnualPlanYuan == b.AnnualPlanYuan)
	add("investmentCompletedYuan", a.InvestmentCompletedYuan, b.InvestmentCompletedYuan,
		a.InvestmentCompletedYuan == b.InvestmentCompletedYuan)
	add("progress", a.Progress, b.Progress, a.Progress == b.Progress)
	add("plannedStart", a.PlannedStart, b.PlannedStart, a.PlannedStart == b.PlannedStart)
	add("startedAt", a.StartedAt, b.StartedAt, a.StartedAt == b.StartedAt)
	add("resumedAt", a.ResumedAt, b.ResumedAt, a.ResumedAt == b.ResumedAt)
	add("plannedCompletion", a.PlannedCompletion, b.PlannedCompletion, a.PlannedCompletion == b.PlannedCompletion)
	add("completedAt", a.CompletedAt, b.CompletedAt, a.CompletedAt == b.CompletedAt)
	add("onHold", a.OnHold, b.OnHold, a.OnHold == b.OnHold)
	add("note", a.Note, b.Note, a.Note == b.Note)
	add("carriedFrom", a.CarriedFrom, b.CarriedFrom, a.CarriedFrom == b.CarriedFrom)
	return d
}
