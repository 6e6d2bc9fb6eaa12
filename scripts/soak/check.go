package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// logChange is an entry of GET /api/changes, with only the note's from and to decoded.
type logChange struct {
	Rev       uint64                 `json:"rev"`
	ProjectID string                 `json:"projectId"`
	By        string                 `json:"by"`
	Kind      string                 `json:"kind"`
	Fields    map[string]fieldChange `json:"fields"`
}

type fieldChange struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

// ledgerResult is what checkLedger found.
type ledgerResult struct {
	checked    int // acknowledged edits found in the log at their version
	logChanges int // changes in the log since editing started
	uncertain  int // changes in the log whose request got no answer
	mismatches []string
}

// checkLedger holds the change log against what the editors were told.
//
// For each edited project it walks the log in revision order from the project as it was
// when editing started: every change must be an update by the editors' token whose
// note.from is the note the previous change left (so no write was lost under a later one),
// and the k-th change makes version start+k. Then every 200 must be a change of that
// project at the version the 200 claimed (so no two 200s share a version: one of them would
// have been silently overwritten), and no edit answered 412 or 4xx may be in the log.
func checkLedger(start map[string]projectHead, since uint64, log []logChange, acks []ack,
	rejected, uncertain map[string]bool, by string, final map[string]projectHead) ledgerResult {
	var r ledgerResult
	bad := func(format string, a ...any) { r.mismatches = append(r.mismatches, fmt.Sprintf(format, a...)) }

	type written struct {
		project string
		version uint64
		rev     uint64
	}
	byNote := map[string]written{}
	cur := map[string]projectHead{}
	for id, p := range start {
		cur[id] = p
	}
	want := since + 1
	for _, c := range log {
		r.logChanges++
		if c.Rev != want {
			bad("change log: rev %d follows rev %d", c.Rev, want-1)
		}
		want = c.Rev + 1
		p, edited := cur[c.ProjectID]
		if !edited {
			bad("rev %d: a %s of %s, which no editor touched", c.Rev, c.Kind, c.ProjectID)
			continue
		}
		if c.Kind != "update" || c.By != by {
			bad("rev %d: a %s of %s by %q; want updates by %q only", c.Rev, c.Kind, c.ProjectID, c.By, by)
			continue
		}
		f, ok := c.Fields["note"]
		var from, to string
		if !ok || json.Unmarshal(f.From, &from) != nil || json.Unmarshal(f.To, &to) != nil {
			bad("rev %d: an update of %s without a note change: %v", c.Rev, c.ProjectID, c.Fields)
			continue
		}
		if from != p.Note {
			bad("rev %d: %s note from %q, but the previous change left %q (a write was overwritten)", c.Rev, c.ProjectID, from, p.Note)
		}
		p.Version++
		p.Note = to
		cur[c.ProjectID] = p
		if w, dup := byNote[to]; dup {
			bad("rev %d: note %q written twice (also rev %d)", c.Rev, to, w.rev)
		}
		byNote[to] = written{project: c.ProjectID, version: p.Version, rev: c.Rev}
	}

	claimed := map[string]map[uint64]string{} // project → version → note
	for _, a := range acks {
		if claimed[a.project] == nil {
			claimed[a.project] = map[uint64]string{}
		}
		if other, dup := claimed[a.project][a.version]; dup {
			bad("%s version %d acknowledged twice: notes %q and %q", a.project, a.version, other, a.note)
		}
		claimed[a.project][a.version] = a.note
		w, ok := byNote[a.note]
		switch {
		case !ok:
			bad("acknowledged edit lost: %s note %q version %d is not in the change log", a.project, a.note, a.version)
		case w.project != a.project || w.version != a.version:
			bad("acknowledged edit %q: 200 said %s version %d, the log has %s version %d (rev %d)",
				a.note, a.project, a.version, w.project, w.version, w.rev)
		default:
			r.checked++
		}
	}
	acked := make(map[string]bool, len(acks))
	for _, a := range acks {
		acked[a.note] = true
	}
	notes := make([]string, 0, len(byNote))
	for note := range byNote {
		notes = append(notes, note)
	}
	sort.Strings(notes)
	for _, note := range notes {
		switch {
		case acked[note]:
		case uncertain[note]:
			r.uncertain++
		case rejected[note]:
			bad("refused edit stored: note %q got 412/4xx but is in the log at rev %d", note, byNote[note].rev)
		default:
			bad("note %q is in the log at rev %d but was never sent", note, byNote[note].rev)
		}
	}
	for id, p := range cur {
		if f, ok := final[id]; !ok || f.Version != p.Version || f.Note != p.Note {
			bad("%s: the database has version %d note %q; the log leads to version %d note %q", id, f.Version, f.Note, p.Version, p.Note)
		}
	}
	return r
}

// compareState holds one screen's projects against the database's, project by project,
// as decoded JSON.
func compareState(got, want map[string]json.RawMessage, wantDecoded map[string]any) []string {
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			diffs = append(diffs, id+" missing")
			continue
		}
		if bytes.Equal(g, w) {
			continue
		}
		var gv any
		if err := decodeExact(g, &gv); err != nil || !reflect.DeepEqual(gv, wantDecoded[id]) {
			diffs = append(diffs, fmt.Sprintf("%s differs: screen %.300s, database %.300s", id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, id+" is on the screen but not in the database")
		}
	}
	sort.Strings(diffs)
	return diffs
}

// decodeExact decodes JSON keeping numbers as written, so large integers compare exactly.
func decodeExact(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
