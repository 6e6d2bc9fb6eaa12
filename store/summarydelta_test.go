package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// seeded opens a store on the bundled data at the monthly-cycle clock of the browser tests.
func seeded(tb testing.TB) *Store {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "assets", "seed", "jingyue-2022.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	projects, err := ReadProjectsCSV(f)
	if err != nil {
		tb.Fatal(err)
	}
	s, _ := openCycle(tb, "", "2022-11-08T10:00:00+08:00")
	if err := s.Seed(projects, "system", "导入数据集 jingyue-2022"); err != nil {
		tb.Fatal(err)
	}
	return s
}

// recorder keeps the events of every commit.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) hook(evs []Event) {
	r.mu.Lock()
	r.events = append(r.events, evs...)
	r.mu.Unlock()
}

func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	return evs
}

// deltaStep is one line of testdata/summary-deltas.json, which the web UI's reducer test
// replays: a delta and the summary it must give.
type deltaStep struct {
	What  string          `json:"what"`
	Delta json.RawMessage `json:"delta"`
	After json.RawMessage `json:"after"`
}

// TestSummaryDeltaRebuildsTheSummary makes every kind of edit on the bundled data and applies
// each commit's delta to the summary before it: the result must be the summary after it,
// exactly. It writes the steps for the web UI's test with -update.
func TestSummaryDeltaRebuildsTheSummary(t *testing.T) {
	s := seeded(t)
	var rec recorder
	s.SetCommitHook(rec.hook)
	held, err := json.Marshal(s.Summary(SummaryFilter{}))
	if err != nil {
		t.Fatal(err)
	}
	before := held
	all, _, _ := s.Snapshot()
	var projects []Project // under construction: any progress may be typed
	for _, p := range all {
		if p.Stage == StageUnderConstruction {
			projects = append(projects, p)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() Project { return projects[rng.IntN(len(projects))] }
	current := func(id string) Project { p, _ := s.Project(id); return p }
	var steps []deltaStep
	do := func(what string, edits ...Edit) {
		t.Helper()
		if _, err := s.ApplyAtomic(edits); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		evs := rec.take()
		if len(evs) == 0 {
			t.Fatalf("%s: nothing committed", what)
		}
		last := evs[len(evs)-1]
		for _, e := range evs[:len(evs)-1] {
			if e.Summary != nil || e.SummaryDelta != nil {
				t.Fatalf("%s: rev %d is not the commit's last but carries a summary", what, e.Change.Rev)
			}
		}
		want, err := json.Marshal(last.Summary)
		if err != nil {
			t.Fatal(err)
		}
		if last.SummaryDelta == nil {
			t.Fatalf("%s: no delta", what)
		}
		got, err := ApplySummaryDelta(held, last.SummaryDelta)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !jsonEqual(t, got, want) {
			t.Fatalf("%s: delta %s\ngave  %s\nwant %s", what, last.SummaryDelta, got, want)
		}
		if _, err := ApplySummaryDelta(want, last.SummaryDelta); err == nil {
			t.Fatalf("%s: a delta applied twice was taken", what)
		}
		steps = append(steps, deltaStep{What: what, Delta: last.SummaryDelta, After: want})
		held = want
	}
	update := func(id string, patch Patch) Edit {
		return Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: current(id).Version, By: "tester", Patch: &patch}
	}
	for i := 0; i < 30; i++ {
		p := current(pick().ID)
		do(fmt.Sprintf("progress of %s", p.ID), update(p.ID, Patch{Progress: ptr((p.Progress + 7) % 101)}))
		p = current(pick().ID)
		do(fmt.Sprintf("investment of %s", p.ID), update(p.ID, Patch{InvestmentCompletedYuan: ptr(p.InvestmentCompletedYuan + 12_345_678)}))
	}
	a, b := current("JY22-P001"), current("JY22-P030")
	if a.Department == b.Department {
		t.Fatalf("%s and %s are of one unit", a.ID, b.ID)
	}
	do("department moved", update(a.ID, Patch{Department: ptr(b.Department)}))
	do("a new unit and sector", update(a.ID, Patch{Department: ptr("新设单位"), Sector: ptr("新兴产业")}))
	done := current(projects[0].ID)
	do("stage moved", update(done.ID, Patch{Stage: ptr(StageCompleted), Progress: ptr(100), CompletedAt: ptr(Date("2022-11-01"))}))
	nw := sample("NEW1", StagePreparing)
	nw.Department, nw.Year, nw.PlannedStart = "另一个单位", 2022, "2022-05-01"
	do("created", Edit{Kind: ChangeCreate, New: nw, By: "tester"})
	do("deleted", Edit{Kind: ChangeDelete, ProjectID: "NEW1", IfMatch: 1, By: "tester"})
	do("two edits in one commit", update("JY22-P003", Patch{Progress: ptr(1)}), update("JY22-P004", Patch{Progress: ptr(2)}))
	c := current("JY22-P005")
	do("report submitted", Edit{Kind: ChangeReport, ProjectID: c.ID, By: "tester",
		Report: &ReportEdit{Month: "2022-10", Action: ReportSubmit, Input: ReportInput{MonthYuan: 1_000_000, Progress: c.Progress}}})
	do("problem raised", Edit{Kind: ChangeProblem, ProjectID: c.ID, By: "tester",
		Problem: &ProblemEdit{Patch: ProblemPatch{Description: ptr("用地指标未落实"), Unit: ptr("自然资源局"), Due: ptr(Date("2022-11-01"))}}})
	do("unit back where it was", update(a.ID, Patch{Department: ptr(a.Department), Sector: ptr(a.Sector)}))

	// The steps for the web UI's reducer test (frontend/test/summaryDelta.test.ts).
	const path = "testdata/summary-deltas.json"
	if *updateGolden {
		b, err := json.Marshal(struct {
			Before json.RawMessage `json:"before"`
			Steps  []deltaStep     `json:"steps"`
		}{before, steps})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
