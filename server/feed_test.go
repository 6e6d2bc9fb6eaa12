package server

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

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
		want, err := json.Marshal(changeMsg{Type: "change", Rev: e.Change.Rev, Change: e.Change, Project: e.Project, Summary: e.Summary})
		if err != nil {
			t.Fatal(err)
		}
		if e.ChangeJSON == nil {
			t.Fatalf("rev %d: the commit handed over no encoded change", e.Change.Rev)
		}
		if got := encodeChange(e); !bytes.Equal(got, want) {
			t.Errorf("rev %d spliced:\n got %s\nwant %s", e.Change.Rev, got, want)
		}
		e.ChangeJSON, e.ProjectJSON = nil, nil
		if got := encodeChange(e); !bytes.Equal(got, want) {
			t.Errorf("rev %d encoded:\n got %s\nwant %s", e.Change.Rev, got, want)
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
