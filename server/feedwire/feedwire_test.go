package feedwire

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecodeWithoutSummary(t *testing.T) {
	tests := []struct {
		name, in string
		typ      string
		rev      uint64
		project  string
		projects int
	}{
		{"change", `{"type":"change","rev":5,"change":{"projectId":"P1","fields":{"note":{"from":"a","to":",\"summary\":"}}},"project":{"id":"P1","note":",\"summary\":"},"summary":{"rev":5,"byStage":[{"key":"x"}]}}`,
			"change", 5, `{"id":"P1","note":",\"summary\":"}`, 0},
		{"change without summary", `{"type":"change","rev":6,"change":{"projectId":"P1"},"project":null}`, "change", 6, "null", 0},
		{"snapshot", `{"type":"snapshot","rev":7,"projects":[{"id":"A"},{"id":"B"}],"summary":{"rev":7}}`, "snapshot", 7, "", 2},
		{"hello", `{"type":"hello","epoch":"e","rev":3,"build":"b"}`, "hello", 3, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.in)
			m, err := DecodeWithoutSummary(data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != tt.typ || m.Rev != tt.rev || string(m.Project) != tt.project || len(m.Projects) != tt.projects || m.Summary != nil {
				t.Errorf("got %s %d %s %d projects, summary %s; want %s %d %s %d, none", m.Type, m.Rev, m.Project, len(m.Projects), m.Summary,
					tt.typ, tt.rev, tt.project, tt.projects)
			}
			if string(data) != tt.in {
				t.Errorf("DecodeWithoutSummary changed its input: %s", data)
			}
		})
	}
	if _, err := DecodeWithoutSummary([]byte(`{"type":`)); err == nil {
		t.Error("a truncated message decoded")
	}
}

func TestDecodeBatch(t *testing.T) {
	msgs, err := Decode([]byte(`[{"type":"change","rev":8,"change":{"rev":8,"projectId":"A"}},{"type":"reload"}]`))
	if err != nil || len(msgs) != 2 || msgs[0].Change.ProjectID != "A" || msgs[1].Type != TypeReload {
		t.Fatalf("got %+v, %v", msgs, err)
	}
	if _, err := Decode([]byte("not json")); err == nil {
		t.Error("got no error for a frame that is not JSON")
	}
}

func mustDecode(t *testing.T, frame string) Message {
	t.Helper()
	msgs, err := Decode([]byte(frame))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%s: %v", frame, err)
	}
	return msgs[0]
}

func TestStateApply(t *testing.T) {
	s := &State{}
	steps := []struct {
		msg     string
		wantErr error
		rev     uint64
	}{
		{`{"type":"hello","epoch":"E","rev":2}`, nil, 0},
		{`{"type":"snapshot","rev":2,"projects":[{"id":"A","version":1},{"id":"B","version":1}],"summary":{"rev":2}}`, nil, 2},
		{`{"type":"change","rev":3,"change":{"projectId":"A"},"project":{"id":"A","version":2},"summary":{"rev":3}}`, nil, 3},
		{`{"type":"change","rev":4,"change":{"projectId":"B"},"project":null}`, nil, 4},
		{`{"type":"change","rev":5,"change":{"projectId":"A","at":"2022-11-08T10:00:00+08:00","by":"ed1"},"projectPatch":{"version":3,"note":"n"}}`, nil, 5},
		{`{"type":"change","rev":6,"change":{"projectId":"A"},"projectPatch":{"version":9}}`, ErrMismatch, 5},
		{`{"type":"change","rev":7,"change":{"projectId":"A"},"project":{"id":"A","version":3}}`, ErrGap, 5},
	}
	for _, st := range steps {
		err := s.Apply(mustDecode(t, st.msg))
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Fatalf("%s: got error %v, want %v", st.msg, err, st.wantErr)
		}
		if s.Rev != st.rev {
			t.Fatalf("%s: got rev %d, want %d", st.msg, s.Rev, st.rev)
		}
	}
	var a map[string]any
	if err := json.Unmarshal(s.Projects["A"], &a); err != nil || a["version"] != 3.0 || a["note"] != "n" ||
		a["updatedAt"] != "2022-11-08T10:00:00+08:00" || a["updatedBy"] != "ed1" {
		t.Errorf("got A = %s", s.Projects["A"])
	}
	if _, ok := s.Projects["B"]; ok {
		t.Error("deleted B is still there")
	}
	if string(s.Summary) != `{"rev":3}` {
		t.Errorf("got summary %s, want the change's", s.Summary)
	}
	// A change before any snapshot breaks the protocol; it is no gap.
	if err := (&State{}).Apply(mustDecode(t, `{"type":"change","rev":1,"change":{"projectId":"A"},"project":null}`)); err == nil ||
		errors.Is(err, ErrGap) {
		t.Errorf("a change without a snapshot: got %v", err)
	}
	// A new epoch throws the state away.
	if err := s.Apply(Message{Type: TypeHello, Epoch: "F"}); err != nil || s.Held() || s.Rev != 0 {
		t.Errorf("after a new epoch: err %v, rev %d, %d projects", err, s.Rev, len(s.Projects))
	}
}

// A summary delta that does not fit the summary held is a mismatch, and leaves the state as
// it was.
func TestStateSummaryDeltaMismatch(t *testing.T) {
	s := &State{}
	if err := s.Apply(mustDecode(t, `{"type":"snapshot","rev":2,"projects":[{"id":"A","version":1}],"summary":{"rev":2}}`)); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(mustDecode(t, `{"type":"change","rev":3,"change":{"projectId":"A"},"projectPatch":{"version":2},"summaryDelta":{"rev":3,"nosuch":{"x":1}}}`))
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("got %v, want ErrMismatch", err)
	}
	if s.Rev != 2 || string(s.Projects["A"]) != `{"id":"A","version":1}` {
		t.Errorf("a failed change moved the state: rev %d, A %s", s.Rev, s.Projects["A"])
	}
}
