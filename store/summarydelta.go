package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// AppendSummaryDelta appends to dst what moved from summary a to summary b, as the live feed
// sends it with a change (docs/api.md, "Summary deltas"), and reports whether it could: a
// delta needs both summaries, of the same year, and b newer. Otherwise the feed sends b
// whole. A one-field edit moves a few cells of a 7.5 KB summary; the delta is those cells:
//
//	{"from":197,"rev":198,
//	 "set":{"investment":{"completedYuan":…,"completionRate":…,"gapPoints":…}},
//	                                                  members that moved (an object's that moved)
//	 "lists":{"byDepartment":[{"key":"教育局","investmentCompletedYuan":123}]},
//	                                                  the fields that moved in a list's entries, by key
//	 "order":{"bySector":["…","…"]}}                  a list's keys, when one came, went or moved
//
// A screen applies it only on top of the summary with rev `from`; holding any other, it
// resyncs. The lists are byStage, byCategory, bySector, byDepartment (entries keyed by
// `key`) and reporting.units (by `department`); an entry new to a list comes whole.
func AppendSummaryDelta(dst []byte, a, b *Summary) ([]byte, bool) {
	if a == nil || b == nil || b.Rev <= a.Rev || !sameYear(a.Year, b.Year) {
		return dst, false
	}
	d := deltaWriter{b: dst}
	d.b = append(d.b, `{"from":`...)
	d.b = strconv.AppendUint(d.b, a.Rev, 10)
	d.b = append(d.b, `,"rev":`...)
	d.b = strconv.AppendUint(d.b, b.Rev, 10)

	// Members replaced whole: each is a few numbers.
	d.open(`,"set":{`)
	d.member("total", a.Total != b.Total, a.Total, b.Total)
	d.member("planned", a.Planned != b.Planned, a.Planned, b.Planned)
	d.member("unplanned", a.Unplanned != b.Unplanned, a.Unplanned, b.Unplanned)
	d.member("attraction", a.Attraction != b.Attraction, a.Attraction, b.Attraction)
	d.member("completion", a.Completion != b.Completion, a.Completion, b.Completion)
	d.member("completionRate", a.CompletionRate != b.CompletionRate, a.CompletionRate, b.CompletionRate)
	d.member("investment", a.Investment != b.Investment, a.Investment, b.Investment)
	d.member("elapsedShare", a.ElapsedShare != b.ElapsedShare, a.ElapsedShare, b.ElapsedShare)
	d.member("elapsedMonths", a.ElapsedMonths != b.ElapsedMonths, a.ElapsedMonths, b.ElapsedMonths)
	d.member("warnings", a.Warnings != b.Warnings, a.Warnings, b.Warnings)
	d.member("problems", a.Problems != b.Problems, a.Problems, b.Problems)
	unitsByDelta := a.Reporting != nil && b.Reporting != nil && a.Reporting.Month == b.Reporting.Month &&
		a.Reporting.Deadline == b.Reporting.Deadline && a.Reporting.Status == b.Reporting.Status
	if !unitsByDelta {
		d.member("reporting", !reportingEqual(a.Reporting, b.Reporting), a.Reporting, b.Reporting)
	}
	d.close()

	// Lists: the entries' fields that moved.
	d.open(`,"lists":{`)
	d.buckets("byStage", a.ByStage, b.ByStage)
	d.buckets("byCategory", a.ByCategory, b.ByCategory)
	d.buckets("bySector", a.BySector, b.BySector)
	d.buckets("byDepartment", a.ByDepartment, b.ByDepartment)
	if unitsByDelta {
		d.units(a.Reporting.Units, b.Reporting.Units)
	}
	d.close()

	d.open(`,"order":{`)
	d.order("byStage", a.ByStage, b.ByStage)
	d.order("byCategory", a.ByCategory, b.ByCategory)
	d.order("bySector", a.BySector, b.BySector)
	d.order("byDepartment", a.ByDepartment, b.ByDepartment)
	if unitsByDelta && !unitKeysEqual(a.Reporting.Units, b.Reporting.Units) {
		d.key(`reporting.units`)
		d.b = append(d.b, '[')
		for i, u := range b.Reporting.Units {
			if i > 0 {
				d.b = append(d.b, ',')
			}
			d.b = appendString(d.b, u.Department)
		}
		d.b = append(d.b, ']')
	}
	d.close()
	return append(d.b, '}'), true
}

func sameYear(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func reportingEqual(a, b *Reporting) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Month == b.Month && a.Deadline == b.Deadline && a.Status == b.Status && slices.Equal(a.Units, b.Units)
}

func unitKeysEqual(a, b []UnitReport) bool {
	return slices.EqualFunc(a, b, func(x, y UnitReport) bool { return x.Department == y.Department })
}

// deltaWriter writes the objects of a delta, leaving out the empty ones.
type deltaWriter struct {
	b     []byte
	start int // where the open object's key began
	n     int // members written in the open object
}

// open starts an object (prefix is `,"name":{`); close drops it again if nothing was written.
func (d *deltaWriter) open(prefix string) {
	d.start, d.n = len(d.b), 0
	d.b = append(d.b, prefix...)
}

func (d *deltaWriter) close() {
	if d.n == 0 {
		d.b = d.b[:d.start]
	} else {
		d.b = append(d.b, '}')
	}
}

// key writes a member's key (with the comma before it if needed).
func (d *deltaWriter) key(k string) {
	if d.n > 0 {
		d.b = append(d.b, ',')
	}
	d.n++
	d.b = appendString(d.b, k)
	d.b = append(d.b, ':')
}

// member writes summary member k if it changed: a number or null whole, an object as its
// members that changed (one level deep: a reader merges them into the object it holds).
func (d *deltaWriter) member(k string, changed bool, a, b any) {
	if !changed {
		return
	}
	jb := mustJSON(b)
	ja := mustJSON(a)
	d.key(k)
	if len(ja) < 2 || ja[0] != '{' || jb[0] != '{' {
		d.b = append(d.b, jb...)
		return
	}
	old := map[string][]byte{}
	if eachMember(ja, func(key string, m []byte) { old[key] = m }) != nil {
		d.b = append(d.b, jb...)
		return
	}
	d.b = append(d.b, '{')
	n := 0
	_ = eachMember(jb, func(key string, m []byte) {
		if string(old[key]) == string(m) {
			return
		}
		if n > 0 {
			d.b = append(d.b, ',')
		}
		n++
		d.b = append(d.b, m...)
	})
	d.b = append(d.b, '}')
}

func mustJSON(v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain values
	}
	return j
}

// buckets writes, for each bucket of b that differs from a's bucket of the same key, its key
// and the fields that moved (every field when a has no such bucket).
func (d *deltaWriter) buckets(name string, a, b []Bucket) {
	var old map[string]*Bucket
	wrote := false
	for i := range b {
		nb := &b[i]
		var ob *Bucket
		if i < len(a) && a[i].Key == nb.Key {
			ob = &a[i] // the usual case: the same order
		} else {
			if old == nil {
				old = make(map[string]*Bucket, len(a))
				for j := range a {
					old[a[j].Key] = &a[j]
				}
			}
			ob = old[nb.Key]
		}
		if ob != nil && *ob == *nb {
			continue
		}
		if !wrote {
			d.key(name)
			d.b = append(d.b, '[')
			wrote = true
		} else {
			d.b = append(d.b, ',')
		}
		if ob == nil {
			ob = &Bucket{Tally: Tally{Count: -1, InvestmentYuan: -1}, AnnualPlanYuan: -1, InvestmentCompletedYuan: -1,
				Started: -1, Completed: -1, Construction: -1, Yellow: -1, Red: -1, OpenProblems: -1}
		}
		d.b = append(d.b, `{"key":`...)
		d.b = appendString(d.b, nb.Key)
		d.int("count", ob.Count, nb.Count)
		d.int64("investmentYuan", ob.InvestmentYuan, nb.InvestmentYuan)
		d.int64("annualPlanYuan", ob.AnnualPlanYuan, nb.AnnualPlanYuan)
		d.int64("investmentCompletedYuan", ob.InvestmentCompletedYuan, nb.InvestmentCompletedYuan)
		d.int("started", ob.Started, nb.Started)
		d.int("completed", ob.Completed, nb.Completed)
		d.int("construction", ob.Construction, nb.Construction)
		d.int("yellow", ob.Yellow, nb.Yellow)
		d.int("red", ob.Red, nb.Red)
		d.int("openProblems", ob.OpenProblems, nb.OpenProblems)
		d.b = append(d.b, '}')
	}
	if wrote {
		d.b = append(d.b, ']')
	}
}

// units is buckets for the report status per unit, keyed by department; a unit that
// changed comes whole (seven small numbers).
func (d *deltaWriter) units(a, b []UnitReport) {
	old := make(map[string]UnitReport, len(a))
	for _, u := range a {
		old[u.Department] = u
	}
	wrote := false
	for _, u := range b {
		if o, ok := old[u.Department]; ok && o == u {
			continue
		}
		if !wrote {
			d.key("reporting.units")
			d.b = append(d.b, '[')
			wrote = true
		} else {
			d.b = append(d.b, ',')
		}
		j, err := json.Marshal(u)
		if err != nil {
			panic(err)
		}
		d.b = append(d.b, j...)
	}
	if wrote {
		d.b = append(d.b, ']')
	}
}

func (d *deltaWriter) order(name string, a, b []Bucket) {
	if slices.EqualFunc(a, b, func(x, y Bucket) bool { return x.Key == y.Key }) {
		return
	}
	d.key(name)
	d.b = append(d.b, '[')
	for i := range b {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.b = appendString(d.b, b[i].Key)
	}
	d.b = append(d.b, ']')
}

func (d *deltaWriter) int(k string, a, b int) { d.int64(k, int64(a), int64(b)) }

func (d *deltaWriter) int64(k string, a, b int64) {
	if a == b {
		return
	}
	d.b = append(d.b, ',', '"')
	d.b = append(d.b, k...)
	d.b = append(d.b, '"', ':')
	d.b = strconv.AppendInt(d.b, b, 10)
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	j, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return append(dst, j...)
}

// ApplySummaryDelta applies a delta to a summary, both as JSON, and returns the summary after
// it: the reference for the feed's readers (the web UI's frontend/src/live/summaryDelta.ts does
// the same on objects). It fails, changing nothing, when the summary is not the delta's
// `from`: the reader must then resync.
func ApplySummaryDelta(summary, delta []byte) ([]byte, error) {
	var sum map[string]any
	if err := json.Unmarshal(summary, &sum); err != nil {
		return nil, err
	}
	var d struct {
		From  uint64                      `json:"from"`
		Rev   uint64                      `json:"rev"`
		Set   map[string]any              `json:"set"`
		Lists map[string][]map[string]any `json:"lists"`
		Order map[string][]string         `json:"order"`
	}
	if err := json.Unmarshal(delta, &d); err != nil {
		return nil, err
	}
	if rev, _ := sum["rev"].(float64); uint64(rev) != d.From {
		return nil, fmt.Errorf("summary delta from %d on a summary at %v", d.From, sum["rev"])
	}
	for k, v := range d.Set {
		held, isObj := sum[k].(map[string]any)
		if in, ok := v.(map[string]any); ok && isObj {
			maps.Copy(held, in) // an object's members that moved
		} else {
			sum[k] = v
		}
	}
	// list returns the parent object and the member holding a list named by a delta.
	list := func(name string) (map[string]any, string, string) {
		if name == "reporting.units" {
			r, _ := sum["reporting"].(map[string]any)
			return r, "units", "department"
		}
		return sum, name, "key"
	}
	for name, entries := range d.Lists {
		parent, member, keyField := list(name)
		if parent == nil {
			return nil, fmt.Errorf("summary delta: no list %s", name)
		}
		items, _ := parent[member].([]any)
		for _, e := range entries {
			found := false
			for _, it := range items {
				if m, ok := it.(map[string]any); ok && m[keyField] == e[keyField] {
					maps.Copy(m, e)
					found = true
					break
				}
			}
			if !found {
				items = append(items, e)
			}
		}
		parent[member] = items
	}
	for name, keys := range d.Order {
		parent, member, keyField := list(name)
		if parent == nil {
			return nil, fmt.Errorf("summary delta: no list %s", name)
		}
		items, _ := parent[member].([]any)
		byKey := make(map[any]any, len(items))
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				byKey[m[keyField]] = it
			}
		}
		ordered := make([]any, 0, len(keys))
		for _, k := range keys {
			it, ok := byKey[k]
			if !ok {
				return nil, fmt.Errorf("summary delta: %s orders %q, which it does not hold", name, k)
			}
			ordered = append(ordered, it)
		}
		parent[member] = ordered
	}
	sum["rev"] = d.Rev
	return json.Marshal(sum)
}
