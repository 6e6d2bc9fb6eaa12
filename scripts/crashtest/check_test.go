package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"projectboard/store"
)

// fileWithEdits makes a database with two projects and three editors' edits, and returns its
// path with the attempts and the screen's log that describe it truthfully.
func fileWithEdits(t *testing.T) (string, []attempt, shownLog) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pb.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	shown := shownLog{changes: map[uint64]shownChange{}, snapshots: map[uint64][]byte{}}
	var events []store.Event
	st.SetCommitHook(func(ev []store.Event) { events = append(events, ev...) })
	for _, id := range []string{"A", "B"} {
		p := store.Project{ID: id, Name: "项目 " + id, Category: store.CategoryPlanned, Year: 2022, Sector: "数字经济",
			Department: "经济发展局", Stage: store.StagePreparing}
		if _, err := st.Apply(store.Edit{Kind: store.ChangeCreate, New: &p, By: "system"}); err != nil {
			t.Fatal(err)
		}
	}
	projects, rev := st.Projects()
	shown.snapshots[rev], _ = json.Marshal(projects)

	var attempts []attempt
	edit := func(id, field string, value any, ifMatch uint64) {
		a := attempt{id: fmt.Sprintf("e1-%d", len(attempts)+1), project: id, field: field, value: value, ifMatch: ifMatch}
		pt := &store.Patch{Comment: a.id}
		if field == "note" {
			pt.Note = ptr(value.(string))
		} else {
			pt.Progress = ptr(int(value.(float64)))
		}
		r, err := st.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: id, IfMatch: ifMatch, Patch: pt, By: editorTokenName, Comment: a.id})
		if err != nil {
			a.outcome = refused
		} else {
			a.outcome, a.version = acked, r.Project.Version
		}
		attempts = append(attempts, a)
	}
	edit("A", "progress", float64(40), 1)
	edit("A", "note", "e1-2", 2)
	edit("B", "note", "e1-3", 1)
	edit("A", "progress", float64(41), 1) // stale: refused
	for _, e := range events[2:] {
		c, _ := json.Marshal(e.Change)
		p, _ := json.Marshal(e.Project)
		shown.changes[e.Change.Rev] = shownChange{change: c, project: p}
	}
	return path, attempts, shown
}

func ptr[T any](v T) *T { return &v }

func TestCheckFilePassesATruthfulRecord(t *testing.T) {
	path, attempts, shown := fileWithEdits(t)
	r, err := checkFile(path, attempts, shown, editorTokenName, scope{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.violations) != 0 {
		t.Fatalf("got violations %q, want none", r.violations)
	}
	if r.rev != 5 || r.ackedChecked != 3 || r.shownChanges != 3 || r.shownSnapshots != 1 {
		t.Fatalf("got rev %d, %d acked, %d changes and %d snapshots shown; want 5, 3, 3, 1",
			r.rev, r.ackedChecked, r.shownChanges, r.shownSnapshots)
	}
}

// TestCheckFileFindsViolations proves each check can fail: a checker that never fails proves
// nothing.
func TestCheckFileFindsViolations(t *testing.T) {
	tests := []struct {
		name   string
		change func(a []attempt, s *shownLog) []attempt
		want   string
	}{
		{"acknowledged edit missing", func(a []attempt, _ *shownLog) []attempt {
			return append(a, attempt{id: "e2-1", project: "B", field: "progress", value: float64(7), ifMatch: 2, outcome: acked, version: 3})
		}, "LOST: edit e2-1"},
		{"acknowledged with another version", func(a []attempt, _ *shownLog) []attempt {
			a[0].version = 3
			return a
		}, "answered 200 with version 3"},
		{"refused edit present", func(a []attempt, _ *shownLog) []attempt {
			a[1].outcome = refused
			return a
		}, "edit e1-2 (refused with 412) is in the log"},
		{"never-sent edit present", func(a []attempt, _ *shownLog) []attempt {
			a[2].outcome = notSent
			return a
		}, "edit e1-3 (never sent) is in the log"},
		{"change nobody sent", func(a []attempt, _ *shownLog) []attempt {
			return a[1:]
		}, `has comment "e1-1", which no editor sent`},
		{"change holds another value", func(a []attempt, _ *shownLog) []attempt {
			a[2].value = "something else"
			return a
		}, "rev 5 is not edit e1-3"},
		{"screen shown a revision the file lacks", func(a []attempt, s *shownLog) []attempt {
			s.changes[6] = s.changes[5]
			return a
		}, "shown rev 6, but the file ends at rev 5"},
		{"screen shown other values", func(a []attempt, s *shownLog) []attempt {
			c := s.changes[4]
			c.project = []byte(strings.Replace(string(c.project), `"progress":40`, `"progress":39`, 1))
			s.changes[4] = c
			return a
		}, "the screen was shown rev 4 as"},
		{"screen shown another snapshot", func(a []attempt, s *shownLog) []attempt {
			s.snapshots[2] = []byte("[]")
			return a
		}, "snapshot at rev 2 that differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, attempts, shown := fileWithEdits(t)
			attempts = tt.change(attempts, &shown)
			wantViolation(t, path, attempts, shown, tt.want)
		})
	}
}

func TestUnknownOutcomeMayLandOrNot(t *testing.T) {
	path, attempts, shown := fileWithEdits(t)
	attempts[2].outcome, attempts[2].version = unknown, 0 // landed
	attempts = append(attempts, attempt{id: "e2-1", project: "B", field: "note", value: "e2-1", ifMatch: 2, outcome: unknown})
	r, err := checkFile(path, attempts, shown, editorTokenName, scope{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.violations) != 0 || r.unknownLanded != 1 {
		t.Fatalf("got violations %q and %d landed, want none and 1", r.violations, r.unknownLanded)
	}
}

// TestCheckFileFindsDamage damages the file behind the store's back: each damage must be found.
func TestCheckFileFindsDamage(t *testing.T) {
	key := func(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }
	tests := []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   string
	}{
		{"a change missing from the log", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("changes")).Delete(key(4))
		}, "holds rev 5, want 4"},
		{"a project's history cut short", func(tx *bolt.Tx) error {
			// project_last names the project's newest change; pointing it one change back
			// hides the newest from the history.
			return tx.Bucket([]byte("project_last")).Put([]byte("A"), key(3))
		}, "project A: its history gives 2 of its last 4 changes, want 3"},
		{"a project that is not its log's replay", func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("projects"))
			v := strings.Replace(string(b.Get([]byte("B"))), `"note":"e1-3"`, `"note":"x"`, 1)
			return b.Put([]byte("B"), []byte(v))
		}, "project B differs from the replay of the log's fields"},
		{"a log entry whose fields disagree with its project", func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("changes"))
			v := strings.Replace(string(b.Get(key(3))), `"to":40`, `"to":30`, 1)
			return b.Put(key(3), []byte(v))
		}, "rev 3 (A): the project after it differs from the replay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, attempts, shown := fileWithEdits(t)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tt.damage); err != nil {
				t.Fatal(err)
			}
			db.Close()
			wantViolation(t, path, attempts, shown, tt.want)
		})
	}
}

// wantViolation checks the file and fails unless one violation contains want.
func wantViolation(t *testing.T, path string, attempts []attempt, shown shownLog, want string) {
	t.Helper()
	r, err := checkFile(path, attempts, shown, editorTokenName, scope{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.violations {
		if strings.Contains(v, want) {
			return
		}
	}
	t.Fatalf("got violations %q, want one containing %q", r.violations, want)
}
