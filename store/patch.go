package store

import (
	"fmt"
)

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
