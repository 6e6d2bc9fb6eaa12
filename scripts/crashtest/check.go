package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"projectboard/store"
)

// checkResult is what one offline check of the file found.
type checkResult struct {
	rev           uint64 // the last revision in the file
	ackedChecked  int
	ackedLost     int
	unknownLanded int
	// unavailableLanded: of those, edits answered 503 (cluster mode) that are in the log all
	// the same — etcd committed the entry, the instance did not hear it in time.
	unavailableLanded int
	shownChecked      int // revisions the screen was shown, found with the same values
	shownChanges      int
	shownSnapshots    int
	violations        []string
}

func (r *checkResult) violate(format string, args ...any) {
	if len(r.violations) < 1000 {
		r.violations = append(r.violations, fmt.Sprintf(format, args...))
	}
}

// editable is the JSON names of the fields a change's "fields" may hold.
var editable = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[store.Project]()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	for _, k := range []string{"id", "version", "updatedAt", "updatedBy"} {
		delete(m, k)
	}
	return m
}()

// setField sets one field of p from its JSON value, as a change's "from" or "to" holds it.
func setField(p *store.Project, name string, v any) error {
	if !editable[name] {
		return fmt.Errorf("%q is not an editable field", name)
	}
	b, err := json.Marshal(map[string]any{name: v})
	if err != nil {
		return err
	}
	return json.Unmarshal(b, p)
}

// sameEditable reports whether a and b agree on every editable field.
func sameEditable(a, b store.Project) bool {
	a.ID, a.Version, a.UpdatedAt, a.UpdatedBy = b.ID, b.Version, b.UpdatedAt, b.UpdatedBy
	// The warning is computed by the server, not edited: it is checked with the project's
	// other derived fields elsewhere.
	a.Warning, a.OpenProblems = b.Warning, b.OpenProblems
	return reflect.DeepEqual(a, b)
}

// scope limits the two costliest parts of a check to what is new since the previous check;
// the zero scope checks everything. Everything else is always checked in full.
type scope struct {
	// shownAfter: compare the screen's change messages only above this revision (the last
	// revision the screen had been shown at the previous check: it resumes from there).
	shownAfter uint64
	// indexAfter: compare the per-project index only for changes above this revision (the
	// file's revision at the previous check) and the one before them.
	indexAfter uint64
}

// checkFile opens the database file of a dead server and checks it against what the editors
// were told and what the screen was shown. An error means the file could not be read at all.
func checkFile(path string, attempts []attempt, shown shownLog, editorName string, sc scope) (checkResult, error) {
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return checkResult{}, fmt.Errorf("open the file after the kill: %w", err)
	}
	defer st.Close()
	return checkStore(st, attempts, shown, editorName, sc), nil
}

// checkStore is checkFile on an open store: the cluster mode opens an instance's file
// read-only, as the instance's view of the log is not this tool's to migrate.
func checkStore(st *store.Store, attempts []attempt, shown shownLog, editorName string, sc scope) checkResult {
	var r checkResult
	// 4. bbolt's own consistency check.
	if err := st.Check(); err != nil {
		r.violate("bbolt consistency check: %v", err)
	}

	// 2. Revisions 1..rev, each once.
	events, err := st.Replay(0, math.MaxInt32)
	if err != nil {
		r.violate("reading the change log: %v", err)
	}
	r.rev = st.Rev()
	if uint64(len(events)) != r.rev {
		r.violate("the file's rev is %d but its log holds %d changes", r.rev, len(events))
	}
	for i, e := range events {
		if e.Change.Rev != uint64(i+1) {
			r.violate("change log position %d holds rev %d, want %d (gap or repeat)", i+1, e.Change.Rev, i+1)
			break
		}
	}

	// 3. Replay the log's fields over the creates; compare with each entry's project and,
	// 5. at every revision the screen was shown, with what it was shown.
	state := map[string]*store.Project{}    // replayed from fields only
	after := map[string]*store.Project{}    // the log's own "after" of each project's last change
	updates := map[string]int{}             // update changes per project
	eventsOf := map[string][]*store.Event{} // each project's changes, oldest first
	byVersion := map[string]*store.Event{}  // "id@version" → the change that made it
	byComment := map[string]*store.Event{}  // the editors' changes by their edit id
	for i := range events {
		e := &events[i]
		c := &e.Change
		id := c.ProjectID
		eventsOf[id] = append(eventsOf[id], e)
		switch c.Kind {
		case store.ChangeCreate:
			if state[id] != nil {
				r.violate("rev %d creates %s, which exists", c.Rev, id)
			}
			p := &store.Project{ID: id}
			for name, fc := range c.Fields {
				if err := setField(p, name, fc.To); err != nil {
					r.violate("rev %d (create %s): field %s to %v: %v", c.Rev, id, name, fc.To, err)
				}
			}
			state[id] = p
		case store.ChangeUpdate:
			p := state[id]
			if p == nil {
				r.violate("rev %d updates %s, which does not exist", c.Rev, id)
				continue
			}
			updates[id]++
			for name, fc := range c.Fields {
				was := *p
				if err := setField(&was, name, fc.From); err != nil || !sameEditable(was, *p) {
					r.violate("rev %d (%s): field %s says from %v, but the log's replay has %v", c.Rev, id, name, fc.From, fieldJSON(p, name))
				}
				if err := setField(p, name, fc.To); err != nil {
					r.violate("rev %d (%s): field %s to %v: %v", c.Rev, id, name, fc.To, err)
				}
			}
		case store.ChangeDelete:
			delete(state, id)
		default:
			r.violate("rev %d has kind %q", c.Rev, c.Kind)
		}
		if e.Project == nil {
			if c.Kind != store.ChangeDelete {
				r.violate("rev %d (%s %s) has no project after it", c.Rev, c.Kind, id)
			}
			delete(after, id)
		} else {
			p := state[id]
			switch {
			case e.Project.ID != id:
				r.violate("rev %d is a change of %s but its project after is %s", c.Rev, id, e.Project.ID)
			case p != nil && !sameEditable(*p, *e.Project):
				r.violate("rev %d (%s): the project after it differs from the replay of the log's fields:\n    after:  %s\n    replay: %s",
					c.Rev, id, mustJSON(e.Project), mustJSON(p))
			case e.Project.Version != uint64(updates[id]+1):
				r.violate("rev %d (%s): version %d after %d updates, want %d", c.Rev, id, e.Project.Version, updates[id], updates[id]+1)
			}
			after[id] = e.Project
			byVersion[fmt.Sprintf("%s@%d", id, e.Project.Version)] = e
		}
		if c.By == editorName && c.Kind == store.ChangeUpdate {
			if prev := byComment[c.Comment]; prev != nil {
				r.violate("edit %q is in the log twice: revs %d and %d", c.Comment, prev.Change.Rev, c.Rev)
			}
			byComment[c.Comment] = e
		} else if c.By != editorName && c.By != "system" {
			r.violate("rev %d was made by %q, who is neither the editors nor the data set", c.Rev, c.By)
		}

		if m, ok := shown.changes[c.Rev]; ok && c.Rev > sc.shownAfter {
			cj, _ := json.Marshal(c)
			pj, _ := json.Marshal(e.Project)
			if !bytes.Equal(m.change, cj) || (!m.patch && !bytes.Equal(m.project, pj)) || (m.patch && !patchOf(m.project, pj, cj)) {
				r.violate("the screen was shown rev %d as\n    %s %s\n  but the file holds\n    %s %s", c.Rev, m.change, m.project, cj, pj)
			} else {
				r.shownChecked++
				r.shownChanges++
			}
		}
		if snap, ok := shown.snapshots[c.Rev]; ok {
			now := sortedProjects(after)
			if b, _ := json.Marshal(now); !bytes.Equal(b, snap) {
				r.violate("the screen was shown a snapshot at rev %d that differs from the file's projects at that revision", c.Rev)
			} else {
				r.shownChecked++
				r.shownSnapshots++
			}
		}
	}
	for rev := range shown.changes {
		if rev > uint64(len(events)) {
			r.violate("the screen was shown rev %d, but the file ends at rev %d: shown, then lost", rev, len(events))
		}
	}
	for rev := range shown.snapshots {
		if rev > uint64(len(events)) {
			r.violate("the screen was shown a snapshot at rev %d, but the file ends at rev %d: shown, then lost", rev, len(events))
		}
	}

	// 3. The stored projects are the replay, and each is its last log entry.
	projects, prev := st.Projects()
	if prev != r.rev {
		r.violate("the projects are at rev %d, the file at %d", prev, r.rev)
	}
	if len(projects) != len(state) {
		r.violate("the file holds %d projects, the log's replay %d", len(projects), len(state))
	}
	for i := range projects {
		p := &projects[i]
		want := state[p.ID]
		switch {
		case want == nil:
			r.violate("project %s is stored but not in the log", p.ID)
		case !sameEditable(*p, *want):
			r.violate("project %s differs from the replay of the log's fields:\n    stored: %s\n    replay: %s", p.ID, mustJSON(p), mustJSON(want))
		case p.Version != uint64(updates[p.ID]+1):
			r.violate("project %s is at version %d, but the log has %d updates of it (want version %d)", p.ID, p.Version, updates[p.ID], updates[p.ID]+1)
		case mustJSON(p) != mustJSON(after[p.ID]):
			r.violate("project %s differs from its last log entry:\n    stored: %s\n    log:    %s", p.ID, mustJSON(p), mustJSON(after[p.ID]))
		}
	}
	// Each project's history (a chain through the log, and the index for changes made before
	// schema 2) lists exactly its changes.
	for id, evs := range eventsOf {
		// Ask for the changes above indexAfter and one more: the history must list exactly the
		// log's last ones of this project, newest first.
		fresh := 0
		for fresh < len(evs) && evs[len(evs)-1-fresh].Change.Rev > sc.indexAfter {
			fresh++
		}
		if fresh == 0 {
			continue
		}
		hist, err := st.ProjectChanges(id, fresh+1)
		if err != nil {
			r.violate("project %s: reading its history: %v", id, err)
			continue
		}
		want := evs[len(evs)-min(len(evs), fresh+1):]
		if len(hist) != len(want) {
			r.violate("project %s: its history gives %d of its last %d changes, want %d", id, len(hist), fresh+1, len(want))
			continue
		}
		for i, e := range want {
			if got := hist[len(want)-1-i].Rev; got != e.Change.Rev { // hist is newest first
				r.violate("project %s: its history lists rev %d where the log has %d", id, got, e.Change.Rev)
				break
			}
		}
	}

	// 1. Every acknowledged edit is there as the change that made its version; refused ones
	// are not; unknown ones may be, complete.
	sent := map[string]*attempt{}
	lastAck := map[string]*attempt{} // "id/field" → the acknowledged edit of the highest version
	for i := range attempts {
		a := &attempts[i]
		sent[a.id] = a
		e := byComment[a.id]
		switch a.outcome {
		case acked:
			r.ackedChecked++
			if e == nil {
				r.ackedLost++
				r.violate("LOST: edit %s (PATCH %s If-Match %d {%s: %v}) was answered 200 with version %d but is not in the log",
					a.id, a.project, a.ifMatch, a.field, a.value, a.version)
				continue
			}
			if e.Project == nil || e.Project.Version != a.version {
				r.ackedLost++
				r.violate("edit %s was answered 200 with version %d, but the log's change (rev %d) made version %s",
					a.id, a.version, e.Change.Rev, versionOf(e.Project))
			}
			if byVersion[fmt.Sprintf("%s@%d", a.project, a.version)] != e {
				r.violate("edit %s: another change made version %d of %s", a.id, a.version, a.project)
			}
			k := a.project + "/" + a.field
			if l := lastAck[k]; l == nil || a.version > l.version {
				lastAck[k] = a
			}
		case refused, notSent:
			if e != nil {
				r.violate("edit %s (%s) is in the log at rev %d", a.id, a.outcome, e.Change.Rev)
			}
		case unknown, pending:
			if e != nil {
				r.unknownLanded++
			}
		}
	}
	// Every editors' change belongs to an edit that was sent, and holds exactly it.
	for id, e := range byComment {
		a := sent[id]
		if a == nil {
			r.violate("rev %d by the editors has comment %q, which no editor sent", e.Change.Rev, id)
			continue
		}
		fc, ok := e.Change.Fields[a.field]
		// Besides the edited field, a change may carry what the server derives from it: the
		// project's warning and open-problem count.
		edited := 0
		for k := range e.Change.Fields {
			if k != "warning" && k != "openProblems" {
				edited++
			}
		}
		if e.Change.ProjectID != a.project || edited != 1 || !ok || fc.To != a.value {
			r.violate("rev %d is not edit %s (PATCH %s {%s: %v}): it changed %s %s", e.Change.Rev, a.id, a.project,
				a.field, a.value, e.Change.ProjectID, mustJSON(e.Change.Fields))
		}
		if e.Project != nil && e.Project.Version != a.ifMatch+1 {
			r.violate("edit %s sent If-Match %d but its change (rev %d) made version %d", a.id, a.ifMatch, e.Change.Rev, e.Project.Version)
		}
	}
	// The project holds the last acknowledged value of each field, unless a later change
	// (an edit whose outcome was unknown) set that field again.
	for k, a := range lastAck {
		p := state[a.project]
		if p == nil {
			continue
		}
		overwritten := false
		for _, e := range eventsOf[a.project] {
			if _, ok := e.Change.Fields[a.field]; ok && e.Project != nil && e.Project.Version > a.version {
				overwritten = true
				break
			}
		}
		if got := fieldValue(p, a.field); !overwritten && got != a.value {
			r.violate("%s is %v, but the last acknowledged edit %s set it to %v and no later change touched it", k, got, a.id, a.value)
		}
	}
	return r
}

func sortedProjects(m map[string]*store.Project) []store.Project {
	out := make([]store.Project, 0, len(m))
	for _, p := range m {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func fieldJSON(p *store.Project, name string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(mustJSON(p)), &m)
	return string(m[name])
}

func versionOf(p *store.Project) string {
	if p == nil {
		return "none (a delete)"
	}
	return fmt.Sprint(p.Version)
}

// patchOf reports whether every member of a change message's projectPatch is the project's
// member as the file holds it, byte for byte, and the patch names the version; who and when,
// if the patch leaves them out, must be the change's at and by.
func patchOf(patch, project, change []byte) bool {
	var pm, all, c map[string]json.RawMessage
	if json.Unmarshal(patch, &pm) != nil || json.Unmarshal(project, &all) != nil || json.Unmarshal(change, &c) != nil || pm["version"] == nil {
		return false
	}
	if pm["updatedAt"] == nil {
		pm["updatedAt"] = c["at"]
	}
	if pm["updatedBy"] == nil {
		pm["updatedBy"] = c["by"]
	}
	for k, v := range pm {
		if !bytes.Equal(all[k], v) {
			return false
		}
	}
	return true
}
