package server

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"projectboard/server/feedwire"
	"projectboard/store"
)

// The feed splices the JSON the commit already made into change messages, and the API
// answers an edit with the stored bytes: both must be exactly what encoding gives.
func TestPreEncodedBytesMatchEncoding(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "feed.db"))
	defer st.Close()
	var events []store.Event
	st.SetCommitHook(func(evs []store.Event) { events = append(events, evs...) })

	p := store.Project{ID: "F1", Name: `名称 "<script>" & \ ` + "\u2028", Category: store.CategoryPlanned, Year: 2022,
		Sector: "数字经济", Department: "经济发展局", Stage: store.StagePreparing, PlannedStart: "2022-03-01"}
	var results []store.Result
	r, err := st.Apply(store.Edit{Kind: store.ChangeCreate, New: &p, By: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	results = append(results, r)
	rs, err := st.ApplyAtomic([]store.Edit{
		{Kind: store.ChangeUpdate, ProjectID: "F1", IfMatch: 1, By: "tester", Comment: "<b>批注</b>",
			Patch: &store.Patch{Progress: ptrTo(30), Stage: ptrTo(store.StageUnderConstruction)}},
		{Kind: store.ChangeDelete, ProjectID: "F1", IfMatch: 2, By: "tester"},
	})
	if err != nil {
		t.Fatal(err)
	}
	results = append(results, rs...)
	if len(events) != 3 || events[2].Summary == nil || events[1].Summary != nil {
		t.Fatalf("events: %d, summaries on %v %v %v", len(events), events[0].Summary != nil, events[1].Summary != nil, events[2].Summary != nil)
	}
	for _, e := range events {
		if e.ChangeJSON == nil {
			t.Fatalf("rev %d: the commit handed over no encoded change", e.Change.Rev)
		}
		spliced := encodeChange(e)
		e.ChangeJSON, e.ProjectJSON = nil, nil
		encoded := encodeChange(e)
		if !bytes.Equal(spliced, encoded) {
			t.Errorf("rev %d spliced:\n got %s\nwant %s", e.Change.Rev, spliced, encoded)
		}
		var m feedwire.Change
		if err := json.Unmarshal(spliced, &m); err != nil {
			t.Fatalf("rev %d: %v: %s", e.Change.Rev, err, spliced)
		}
		// The splicing writes what marshalling the wire type would (the same JSON; a
		// change's field values decode as maps, whose keys marshal sorted).
		if b, _ := json.Marshal(m); !jsonSame(t, b, spliced) {
			t.Errorf("rev %d: feedwire.Change encodes\n%s\nthe feed sent\n%s", e.Change.Rev, b, spliced)
		}
		// The load tool reads only a message's head: type and rev first, as spliced.
		if typ, rev := feedwire.Head(spliced); typ != feedwire.TypeChange || rev != e.Change.Rev {
			t.Errorf("rev %d: feedwire.Head reads %q %d from %s", e.Change.Rev, typ, rev, spliced)
		}
	}
	for i, r := range results[:2] {
		want, _ := json.Marshal(r.Project)
		if !bytes.Equal(r.ProjectJSON, want) {
			t.Errorf("result %d: stored bytes\n%s\ndiffer from encoding\n%s", i, r.ProjectJSON, want)
		}
	}
	if results[2].ProjectJSON != nil {
		t.Error("a delete's result carries project bytes")
	}
}

// TestChangeMessageSize measures what every screen receives for a one-field edit on the
// bundled data at the browser tests' clock (warnings and the report status as in November
// 2022): a change message carries the project's members that moved and the summary's cells
// that moved, not the project and the summary. The bar: 1.2 KB for any project's progress or
// investment (a message carried the whole summary: 6.3 KB, since the monthly cycle 9.0 KB),
// the edits that also move the project's warning level included (they move the warning counts
// in five places and record the level in the change: the largest messages).
func TestChangeMessageSize(t *testing.T) {
	st := openBundled(t)
	var last []byte
	st.SetCommitHook(func(evs []store.Event) { last = encodeChange(evs[len(evs)-1]) })
	full, _ := json.Marshal(st.Summary(store.SummaryFilter{}))

	const bar = 1200
	sizes := map[string][]int{}
	all, _, _ := st.Snapshot()
	for _, p := range all {
		if p.Stage != store.StageUnderConstruction {
			continue
		}
		for _, edit := range []struct {
			name  string
			patch store.Patch
		}{
			{"progress", store.Patch{Progress: ptrTo((p.Progress + 1) % 101)}},
			{"investmentCompletedYuan", store.Patch{InvestmentCompletedYuan: ptrTo(p.InvestmentCompletedYuan + 1_000_000)}},
		} {
			cur, _ := st.Project(p.ID)
			if _, err := st.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: p.ID, IfMatch: cur.Version, By: "ed1", Patch: &edit.patch}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(last, []byte(`"summaryDelta":`)) || bytes.Contains(last, []byte(`"summary":`)) ||
				!bytes.Contains(last, []byte(`"projectPatch":`)) {
				t.Fatalf("%s of %s: the message carries the whole project or summary: %s", edit.name, p.ID, last)
			}
			name := edit.name
			if bytes.Contains(last, []byte(`"warning":{"from"`)) {
				name = edit.name + " moving the warning level"
			}
			sizes[name] = append(sizes[name], len(last))
			if len(last) > bar {
				t.Errorf("%s of %s: %d bytes, over %d: %s", name, p.ID, len(last), bar, last)
			}
		}
	}
	for name, s := range sizes {
		slices.Sort(s)
		t.Logf("%-48s %3d edits: median %4d B, max %4d B (the whole summary: %d B)", name, len(s), s[len(s)/2], s[len(s)-1], len(full))
	}
}

// TestPatchesAndDeltasRebuildTheState plays every kind of change on the bundled data to a
// screen that holds the projects and the summary as the feed gives them (converge_test.go's
// screen): after each commit its projects and summary must equal the database's exactly. A
// patch that missed a member a change altered, or a delta a cell, fails here.
func TestPatchesAndDeltasRebuildTheState(t *testing.T) {
	st := openBundled(t)
	all, sum, rev := st.Snapshot()
	snap, _ := json.Marshal(feedwire.Snapshot{Type: feedwire.TypeSnapshot, Rev: rev, Projects: all, Summary: sum})
	s := &feedwire.State{}
	if err := applyAll(s, mustDecode(t, snap)); err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	st.SetCommitHook(func(evs []store.Event) {
		for _, e := range evs {
			msgs = append(msgs, encodeChange(e))
		}
	})
	check := func(what string) {
		t.Helper()
		for _, b := range msgs {
			if err := applyAll(s, mustDecode(t, b)); err != nil {
				t.Fatalf("%s: %v: %s", what, err, b)
			}
		}
		msgs = nil
		want, rev := st.Projects()
		if s.Rev != rev || len(s.Projects) != len(want) {
			t.Fatalf("%s: screen at rev %d with %d projects, database at %d with %d", what, s.Rev, len(s.Projects), rev, len(want))
		}
		for _, p := range want {
			if got := heldProject(t, s, p.ID); !reflect.DeepEqual(got, p) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(p)
				t.Fatalf("%s: %s on the screen\n%s\nin the database\n%s", what, p.ID, g, w)
			}
		}
		if w, _ := json.Marshal(st.Summary(store.SummaryFilter{})); !jsonSame(t, s.Summary, w) {
			t.Fatalf("%s: summary on the screen\n%s\nin the database\n%s", what, s.Summary, w)
		}
	}
	apply := func(what string, e store.Edit) {
		t.Helper()
		if e.By == "" {
			e.By = "ed1"
		}
		if _, err := st.Apply(e); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		check(what)
	}
	update := func(id string, p store.Patch) store.Edit {
		cur, _ := st.Project(id)
		return store.Edit{Kind: store.ChangeUpdate, ProjectID: id, IfMatch: cur.Version, Patch: &p}
	}
	var building []string
	for _, p := range all {
		if p.Stage == store.StageUnderConstruction && p.Category.Construction() {
			building = append(building, p.ID)
		}
	}
	for _, p := range all {
		// A warning's figures move while its level stays: the change does not name it.
		if p.Warning.Level != store.LevelGreen && p.Stage == store.StageUnderConstruction {
			apply("a warning's figures", update(p.ID, store.Patch{InvestmentCompletedYuan: ptrTo(p.InvestmentCompletedYuan + 1_000_000)}))
			apply("a warning's figures", update(p.ID, store.Patch{Progress: ptrTo(p.Progress + 1)}))
		}
	}
	apply("progress", update(building[0], store.Patch{Progress: ptrTo(3)}))
	apply("investment", update(building[1], store.Patch{InvestmentCompletedYuan: ptrTo(int64(1))}))
	apply("note and leader", update(building[2], store.Patch{Note: ptrTo("冬季施工"), Leader: ptrTo("王副主任")}))
	apply("on hold", update(building[3], store.Patch{OnHold: ptrTo(true)}))
	apply("completed", update(building[4], store.Patch{Stage: ptrTo(store.StageCompleted), Progress: ptrTo(100)}))
	apply("back to construction", update(building[4], store.Patch{Stage: ptrTo(store.StageUnderConstruction), Progress: ptrTo(90)}))
	apply("unit and sector", update(building[5], store.Patch{Department: ptrTo("新设单位"), Sector: ptrTo("新兴产业")}))
	nw := store.Project{ID: "NEW1", Name: "新项目", Category: store.CategoryPlanned, Year: 2022, Sector: "数字经济",
		Department: "经济发展局", Stage: store.StagePreparing, PlannedStart: "2022-05-01"}
	apply("created", store.Edit{Kind: store.ChangeCreate, New: &nw})
	apply("started (dates implied)", update("NEW1", store.Patch{Stage: ptrTo(store.StageUnderConstruction)}))
	apply("deleted", store.Edit{Kind: store.ChangeDelete, ProjectID: "NEW1", IfMatch: 2})
	p := building[6]
	apply("report submitted", store.Edit{Kind: store.ChangeReport, ProjectID: p,
		Report: &store.ReportEdit{Month: "2022-10", Action: store.ReportSubmit, Input: store.ReportInput{MonthYuan: 5_000_000, Progress: 61}}})
	r, _ := st.Report(p, "2022-10")
	apply("report returned", store.Edit{Kind: store.ChangeReport, ProjectID: p, By: "admin",
		Report: &store.ReportEdit{Month: "2022-10", Action: store.ReportReturn, IfMatch: r.Version, Reason: "数字有误"}})
	apply("problem raised", store.Edit{Kind: store.ChangeProblem, ProjectID: p,
		Problem: &store.ProblemEdit{Patch: store.ProblemPatch{Description: ptrTo("用地指标未落实"), Unit: ptrTo("自然资源局"), Due: ptrTo(store.Date("2022-11-01"))}}})
	rules := st.WarningRules()
	rules.NotStarted.RedMonths++
	if _, err := st.SetWarningRules(rules, rules.Version, "admin"); err != nil {
		t.Fatal(err)
	}
	check("rules changed: every project re-evaluated")
	if _, err := st.CloseMonth("2022-10", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	check("October closed")
}

// openBundled opens a store on the bundled data at the browser tests' clock (November 2022:
// warnings and the report status as the wall shows them).
func openBundled(t *testing.T) *store.Store {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "assets", "seed", "jingyue-2022.csv"))
	if err != nil {
		t.Fatal(err)
	}
	projects, err := store.ReadProjectsCSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, "2022-11-08T10:00:00+08:00")
	st, err := store.Open(filepath.Join(t.TempDir(), "bundled.db"), store.Options{PasswordParams: fastHash, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Seed(projects, "system", "导入数据集 jingyue-2022"); err != nil {
		t.Fatal(err)
	}
	return st
}

// mustDecode decodes a frame of the feed.
func mustDecode(t *testing.T, frame []byte) []feedwire.Message {
	t.Helper()
	msgs, err := feedwire.Decode(frame)
	if err != nil {
		t.Fatalf("%v: %.200s", err, frame)
	}
	return msgs
}
