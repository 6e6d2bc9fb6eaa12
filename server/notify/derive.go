package notify

import (
	"encoding/json"
	"slices"

	"projectboard/store"
)

// item is one project a reminder is about, with the reasons that triggered it.
type item struct {
	ID, Name, Department, Leader string
	Reasons                      []store.WarningReason
}

// alert is one reminder before it is addressed to webhooks: an event and its projects.
// Unit is the responsible unit of a report_missing alert.
type alert struct {
	Event string
	Unit  string
	Items []item
}

// derive turns one commit's events into reminders:
//   - project_red: a project whose level became red from another level;
//   - problem_overdue: a project whose warning newly has a problemOverdue reason;
//   - report_missing: projects whose warning newly has a reportMissing reason, one alert per
//     responsible unit.
//
// Created and deleted projects are skipped: a project imported red has not turned red. So is
// a project's first evaluation (no level before): it sets the baseline, and reminding of every
// red project of the zone at once, on the first start of this version, would drown the group.
// Each project counts once per event in a commit, however many of its changes it holds.
func derive(events []store.Event) []alert {
	var red, overdue []item
	missing := map[string][]item{}
	var units []string // in order of first appearance
	seen := map[string]bool{}
	once := func(event, id string) bool {
		k := event + "\x00" + id
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	for i := range events {
		e := &events[i]
		p := e.Project
		if p == nil || e.Change.Kind == store.ChangeCreate || e.Change.Kind == store.ChangeDelete {
			continue
		}
		fc, ok := e.Change.Fields["warning"]
		if !ok {
			continue
		}
		from, ok := asWarning(fc.From)
		if !ok {
			continue
		}
		// The change records the warnings in brief (levels and rules); the project after it
		// carries the whole warning, reasons and sentences, which the reminder quotes.
		to := p.Warning
		if to.Level == "" {
			if to, ok = asWarning(fc.To); !ok {
				continue
			}
		}
		base := item{ID: p.ID, Name: p.Name, Department: p.Department, Leader: p.Leader}
		if to.Level == store.LevelRed && from.Level != store.LevelRed && once(store.EventProjectRed, p.ID) {
			it := base
			it.Reasons = reasonsAt(to, store.LevelRed)
			red = append(red, it)
		}
		if r, ok := gained(from, to, store.RuleProblemOverdue); ok && once(store.EventProblemOverdue, p.ID) {
			it := base
			it.Reasons = []store.WarningReason{r}
			overdue = append(overdue, it)
		}
		if r, ok := gained(from, to, store.RuleReportMissing); ok && once(store.EventReportMissing, p.ID) {
			it := base
			it.Reasons = []store.WarningReason{r}
			if _, ok := missing[p.Department]; !ok {
				units = append(units, p.Department)
			}
			missing[p.Department] = append(missing[p.Department], it)
		}
	}
	var out []alert
	if len(red) > 0 {
		out = append(out, alert{Event: store.EventProjectRed, Items: red})
	}
	if len(overdue) > 0 {
		out = append(out, alert{Event: store.EventProblemOverdue, Items: overdue})
	}
	for _, u := range units {
		out = append(out, alert{Event: store.EventReportMissing, Unit: u, Items: missing[u]})
	}
	return out
}

// gained returns to's reason for rule when from had none.
func gained(from, to store.Warning, rule string) (store.WarningReason, bool) {
	has := func(w store.Warning) int {
		return slices.IndexFunc(w.Reasons, func(r store.WarningReason) bool { return r.Rule == rule })
	}
	if i := has(to); i >= 0 && has(from) < 0 {
		return to.Reasons[i], true
	}
	return store.WarningReason{}, false
}

// reasonsAt lists w's reasons of level l, or all of them when none is.
func reasonsAt(w store.Warning, l store.WarningLevel) []store.WarningReason {
	var out []store.WarningReason
	for _, r := range w.Reasons {
		if r.Level == l {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return w.Reasons
	}
	return out
}

// asWarning reads a change's warning value: a store.Warning from the live commit hook, or
// the decoded JSON (a map) of a replayed change. A warning without a level (never
// evaluated) is not one.
func asWarning(v any) (store.Warning, bool) {
	switch w := v.(type) {
	case store.Warning:
		return w, w.Level != ""
	case *store.Warning:
		if w != nil {
			return *w, w.Level != ""
		}
		return store.Warning{}, false
	case nil:
		return store.Warning{}, false
	}
	var data []byte
	switch raw := v.(type) {
	case json.RawMessage:
		data = raw
	case []byte:
		data = raw
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return store.Warning{}, false
		}
	}
	var w store.Warning
	if err := json.Unmarshal(data, &w); err != nil || w.Level == "" {
		return store.Warning{}, false
	}
	return w, true
}
