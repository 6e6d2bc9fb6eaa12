package main

import (
	"math"
	"strings"
	"testing"

	"projectboard/store"
)

// servedLog is what instances on fileWithEdits's file would serve: its changes and projects.
func servedLog(t *testing.T, path string) ([]store.Change, []store.Project) {
	t.Helper()
	st, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	changes, err := st.Changes(0, math.MaxInt32)
	if err != nil {
		t.Fatal(err)
	}
	projects, _ := st.Projects()
	return changes, projects
}

func TestCheckChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(a []attempt, c []store.Change, p []store.Project) ([]attempt, []store.Change)
		want   string // "" for no violation
	}{
		{"truthful", func(a []attempt, c []store.Change, _ []store.Project) ([]attempt, []store.Change) { return a, c }, ""},
		{"acknowledged edit missing", func(a []attempt, c []store.Change, _ []store.Project) ([]attempt, []store.Change) {
			return append(a, attempt{id: "e2-1", project: "B", field: "progress", value: float64(7), outcome: acked, instance: 2}), c
		}, "LOST: edit e2-1"},
		{"refused edit present", func(a []attempt, c []store.Change, _ []store.Project) ([]attempt, []store.Change) {
			a[1].outcome = refused
			return a, c
		}, "edit e1-2 (refused with 412) is in the log"},
		{"change holds another value", func(a []attempt, c []store.Change, _ []store.Project) ([]attempt, []store.Change) {
			a[2].value = "something else"
			return a, c
		}, "rev 5 is not edit e1-3"},
		{"a revision missing", func(a []attempt, c []store.Change, _ []store.Project) ([]attempt, []store.Change) {
			return a, append(c[:2:2], c[3:]...)
		}, "holds rev 4, want 3"},
		{"a change nobody sent", func(a []attempt, c []store.Change, _ []store.Project) ([]attempt, []store.Change) {
			return a[1:], c
		}, `has comment "e1-1", which no editor sent`},
		{"project not at the last acknowledged value", func(a []attempt, c []store.Change, p []store.Project) ([]attempt, []store.Change) {
			p[0].Note = "lost"
			return a, c
		}, "A/note is lost, but the last acknowledged edit e1-2 set it to e1-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, attempts, _ := fileWithEdits(t)
			changes, projects := servedLog(t, path)
			attempts, changes = tt.change(attempts, changes, projects)
			r := checkChanges(changes, projects, attempts, editorTokenName)
			if tt.want == "" {
				if len(r.violations) != 0 || r.ackedChecked != 3 {
					t.Fatalf("got violations %q and %d acknowledged checked, want none and 3", r.violations, r.ackedChecked)
				}
				return
			}
			for _, v := range r.violations {
				if strings.Contains(v, tt.want) {
					return
				}
			}
			t.Fatalf("got violations %q, want one containing %q", r.violations, tt.want)
		})
	}
}

func TestMergeShown(t *testing.T) {
	_, _, shown := fileWithEdits(t)
	a := shownLog{changes: map[uint64]shownChange{3: shown.changes[3], 4: shown.changes[4]}, snapshots: shown.snapshots}
	b := shownLog{changes: map[uint64]shownChange{4: shown.changes[4], 5: shown.changes[5]}, snapshots: map[uint64][]byte{}}
	merged, overlap, v := mergeShown([]shownLog{a, b})
	if len(v) != 0 || overlap != 1 || len(merged.changes) != 3 || len(merged.snapshots) != 1 {
		t.Fatalf("got violations %q, overlap %d, %d changes and %d snapshots; want none, 1, 3, 1", v, overlap, len(merged.changes), len(merged.snapshots))
	}
	other := shown.changes[5]
	b.changes[4] = other
	if _, _, v := mergeShown([]shownLog{a, b}); len(v) != 1 || !strings.Contains(v[0], "screens 0 and 1 were shown rev 4 differently") {
		t.Fatalf("got violations %q, want one: screens 0 and 1 were shown rev 4 differently", v)
	}
}
