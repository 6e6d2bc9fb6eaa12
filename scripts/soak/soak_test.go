package main

import (
	"encoding/json"
	"strings"
	"testing"

	"projectboard/server/feedwire"
)

// TestScreenApply: a screen counts its snapshots and leaves the summary out (the feed's
// state itself is tested in server/feedwire).
func TestScreenApply(t *testing.T) {
	s := newScreen(0)
	for _, msg := range []string{
		`{"type":"hello","epoch":"E","rev":2}`,
		`{"type":"snapshot","rev":2,"projects":[{"id":"A","version":1}],"summary":{"rev":2}}`,
		`{"type":"change","rev":3,"change":{"projectId":"A"},"projectPatch":{"version":2},"summaryDelta":{"rev":3}}`,
	} {
		m, err := feedwire.DecodeWithoutSummary([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.apply(m); err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
	}
	if s.snapshots != 1 || s.state.Rev != 3 || s.state.Summary != nil {
		t.Errorf("got %d snapshots, rev %d, summary %s; want 1, 3 and none", s.snapshots, s.state.Rev, s.state.Summary)
	}
	gap, _ := feedwire.DecodeWithoutSummary([]byte(`{"type":"change","rev":5,"change":{"projectId":"A"},"project":null}`))
	if err := s.apply(gap); !resync(err) {
		t.Errorf("a gap: got %v, want a resync", err)
	}
}

func TestCompareState(t *testing.T) {
	want := map[string]json.RawMessage{"A": json.RawMessage(`{"id":"A","n":1}`), "B": json.RawMessage(`{"id":"B","n":2}`)}
	decoded := map[string]any{}
	for id, p := range want {
		var v any
		if err := decodeExact(p, &v); err != nil {
			t.Fatal(err)
		}
		decoded[id] = v
	}
	same := map[string]json.RawMessage{"A": json.RawMessage(`{"n":1, "id":"A"}`), "B": want["B"]}
	if d := compareState(same, want, decoded); len(d) != 0 {
		t.Errorf("equal JSON reported different: %v", d)
	}
	other := map[string]json.RawMessage{"A": json.RawMessage(`{"id":"A","n":3}`), "C": want["B"]}
	if d := compareState(other, want, decoded); len(d) != 3 {
		t.Errorf("got %d differences, want 3 (A differs, B missing, C extra): %v", len(d), d)
	}
}

func change(rev uint64, id, by, from, to string) logChange {
	q := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	return logChange{Rev: rev, ProjectID: id, By: by, Kind: "update", Fields: map[string]fieldChange{"note": {From: q(from), To: q(to)}}}
}

func TestCheckLedger(t *testing.T) {
	start := map[string]projectHead{"P": {ID: "P", Version: 1, Note: ""}, "Q": {ID: "Q", Version: 4, Note: "q"}}
	good := []logChange{change(11, "P", "ed", "", "a"), change(12, "Q", "ed", "q", "b"), change(13, "P", "ed", "a", "c")}
	acks := []ack{{project: "P", note: "a", version: 2}, {project: "Q", note: "b", version: 5}, {project: "P", note: "c", version: 3}}
	final := map[string]projectHead{"P": {ID: "P", Version: 3, Note: "c"}, "Q": {ID: "Q", Version: 5, Note: "b"}}
	none := map[string]bool{}

	tests := []struct {
		name      string
		log       []logChange
		acks      []ack
		rejected  map[string]bool
		uncertain map[string]bool
		final     map[string]projectHead
		want      string // a substring of the one mismatch, "" for none
	}{
		{"consistent", good, acks, none, none, final, ""},
		{"acknowledged edit lost", good[:2], acks, none, none, map[string]projectHead{"P": {Version: 2, Note: "a"}, "Q": final["Q"]}, "acknowledged edit lost"},
		{"two 200s claim one version", good, append(acks[:2:2], ack{project: "P", note: "c", version: 2}), none, none, final, "acknowledged twice"},
		{"overwrite", []logChange{good[0], good[1], change(13, "P", "ed", "", "c")}, acks, none, none, final, "was overwritten"},
		{"412 stored", append(good, change(14, "P", "ed", "c", "d")), acks, map[string]bool{"d": true}, none,
			map[string]projectHead{"P": {Version: 4, Note: "d"}, "Q": final["Q"]}, "refused edit stored"},
		{"no answer but stored", append(good, change(14, "P", "ed", "c", "d")), acks, none, map[string]bool{"d": true},
			map[string]projectHead{"P": {Version: 4, Note: "d"}, "Q": final["Q"]}, ""},
		{"gap in the log", []logChange{good[0], good[1], {Rev: 15, ProjectID: "P", By: "ed", Kind: "update",
			Fields: good[2].Fields}}, acks, none, none, final, "follows rev"},
		{"someone else", []logChange{good[0], good[1], change(13, "P", "admin", "a", "c")}, acks[:2], none, none, final, "want updates by"},
		{"database disagrees", good, acks, none, none, map[string]projectHead{"P": {Version: 3, Note: "x"}, "Q": final["Q"]}, "the database has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkLedger(start, 10, tt.log, tt.acks, tt.rejected, tt.uncertain, "ed", tt.final)
			if tt.want == "" {
				if len(r.mismatches) != 0 {
					t.Fatalf("got mismatches %v, want none", r.mismatches)
				}
				if r.checked != len(tt.acks) {
					t.Errorf("checked %d, want %d", r.checked, len(tt.acks))
				}
				return
			}
			found := false
			for _, m := range r.mismatches {
				found = found || strings.Contains(m, tt.want)
			}
			if !found {
				t.Errorf("got mismatches %v, want one with %q", r.mismatches, tt.want)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_gc_duration_seconds{quantile="0"} 1e-05
process_resident_memory_bytes 1.5466496e+08
projectboard_screens 3
projectboard_screen_drops_total 2
`
	s, err := parseMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if s.goroutines != 42 || s.rss != 154664960 || s.screens != 3 || s.drops != 2 {
		t.Errorf("got %+v", s)
	}
	if _, err := parseMetrics([]byte("projectboard_screens 1\n")); err == nil {
		t.Error("metrics without go_goroutines parsed")
	}
}
