package store

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
