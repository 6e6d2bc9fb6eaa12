package feedwire

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"projectboard/store"
)

// realMessages commits a create, two updates (a projectPatch and a summaryDelta) and a
// delete in a real store and encodes the messages a screen gets as the server does: hello
// and snapshot marshalled from the wire types, each change as Change with the members the
// server splices (server/feed.go's appendChange; server/feed_test.go checks that the two
// agree).
func realMessages(t *testing.T) (msgs [][]byte, changes [][]byte) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "head.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var events []store.Event
	st.SetCommitHook(func(evs []store.Event) { events = append(events, evs...) })
	p := store.Project{ID: "H1", Name: `名称 "{\"type\":\"change\",\"rev\":9}" \ ` + "\u2028", Category: store.CategoryPlanned,
		Year: 2022, Sector: "数字经济", Department: "经济发展局", Stage: store.StagePreparing, PlannedStart: "2022-03-01"}
	progress := func(n int) *int { return &n }
	edits := []store.Edit{
		{Kind: store.ChangeCreate, New: &p, By: "tester"},
		{Kind: store.ChangeUpdate, ProjectID: "H1", IfMatch: 1, By: "tester", Patch: &store.Patch{Progress: progress(30)}},
		{Kind: store.ChangeUpdate, ProjectID: "H1", IfMatch: 2, By: "tester", Comment: `"rev":1`, Patch: &store.Patch{Progress: progress(31)}},
		{Kind: store.ChangeDelete, ProjectID: "H1", IfMatch: 3, By: "tester"},
	}
	for _, e := range edits {
		if _, err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	marshal := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	projects, rev := st.Projects()
	msgs = append(msgs,
		marshal(Hello{Type: TypeHello, Epoch: "0193a1b2c3d4", Rev: rev, Build: "v1.2.3"}),
		marshal(Snapshot{Type: TypeSnapshot, Rev: rev, Projects: projects, Summary: st.Summary(store.SummaryFilter{})}),
		marshal(Reload{Type: TypeReload}))
	var patched, delta bool
	for _, e := range events {
		c := Change{Type: TypeChange, Rev: e.Change.Rev, Change: e.Change}
		switch {
		case e.Project == nil:
			c.Project = json.RawMessage("null")
		case e.Change.Kind == store.ChangeCreate:
			c.Project = marshal(e.Project)
		default:
			b, err := store.AppendProjectPatch(nil, marshal(e.Project), e.Change.Fields, marshal(e.Change.At), marshal(e.Change.By))
			if err != nil {
				t.Fatal(err)
			}
			c.ProjectPatch, patched = b, true
		}
		if e.SummaryDelta != nil {
			c.SummaryDelta, delta = e.SummaryDelta, true
		} else {
			c.Summary = e.Summary
		}
		changes = append(changes, marshal(c))
	}
	if !patched || !delta {
		t.Fatalf("the edits made no projectPatch (%v) or no summaryDelta (%v)", patched, delta)
	}
	return append(msgs, changes...), changes
}

// Head agrees with decoding on every message the server sends, read whole or from the
// first 96 bytes as scripts/loadgen reads them.
func TestHeadMatchesDecode(t *testing.T) {
	msgs, _ := realMessages(t)
	for _, b := range msgs {
		m := mustDecode(t, string(b))
		want := m.Rev
		if m.Type == TypeHello {
			want = 0
		}
		for _, in := range [][]byte{b, b[:min(len(b), 96)]} {
			if typ, rev := Head(in); typ != m.Type || rev != want {
				t.Errorf("Head(%.96s) = %q, %d; want %q, %d", in, typ, rev, m.Type, want)
			}
		}
	}
	for _, in := range []string{`{"type":"other","rev":3}`, `{"type":"chan`, `[{"type":"change","rev":1}]`, `not json`, ``} {
		if typ, rev := Head([]byte(in)); typ != "" || rev != 0 {
			t.Errorf("Head(%q) = %q, %d; want \"\", 0", in, typ, rev)
		}
	}
	if typ, rev := Head([]byte(`{"type":"change","rev":18446744073709551615,`)); typ != TypeChange || rev != 18446744073709551615 {
		t.Errorf("the largest revision: got %q, %d", typ, rev)
	}
}

// NextChange finds every change of a batch as the hub writes it (a JSON array of the
// messages), and of a frame holding one change, with the revisions decoding gives.
func TestNextChangeMatchesDecode(t *testing.T) {
	_, changes := realMessages(t)
	var batch []byte
	for i, c := range changes {
		batch = append(batch, "[,"[min(i, 1)])
		batch = append(batch, c...)
	}
	batch = append(batch, ']')
	for _, frame := range append([][]byte{batch}, changes...) {
		msgs, err := Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		var revs []uint64
		for rev, rest, ok := NextChange(frame); ok; rev, rest, ok = NextChange(rest) {
			revs = append(revs, rev)
		}
		if len(revs) != len(msgs) {
			t.Fatalf("%s: got revisions %v, want %d", frame, revs, len(msgs))
		}
		for i, m := range msgs {
			if revs[i] != m.Rev {
				t.Errorf("change %d: got rev %d, want %d", i, revs[i], m.Rev)
			}
		}
	}
}

func TestHeadDoesNotAllocate(t *testing.T) {
	_, changes := realMessages(t)
	frame := changes[1]
	n := testing.AllocsPerRun(100, func() {
		Head(frame)
		for _, rest, ok := NextChange(frame); ok; _, rest, ok = NextChange(rest) {
		}
	})
	if n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
