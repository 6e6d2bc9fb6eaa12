// Package feedwire is the live feed's protocol (docs/api.md, "Live feed: GET /ws"): the
// messages the server sends, decoded by every client of ours — the command-line tools, the
// load and crash tests and the server's own tests — and State, a screen's copy of the board
// that applies them in order and says when it must resync. It has no sockets: the server
// writes the messages (server/feed.go) and scripts/internal/feedclient dials and reads them.
package feedwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"projectboard/store"
)

// The message types.
const (
	TypeHello    = "hello"
	TypeSnapshot = "snapshot"
	TypeChange   = "change"
	TypeReload   = "reload"
)

// Hello is always a connection's first message: the database's epoch, the revision the
// catch-up runs to and the build the server runs (screens reload when it changes).
type Hello struct {
	Type  string `json:"type"`
	Epoch string `json:"epoch"`
	Rev   uint64 `json:"rev"`
	Build string `json:"build"`
}

// Snapshot is the whole board at a revision: sent after hello when the screen cannot resume.
type Snapshot struct {
	Type     string          `json:"type"`
	Rev      uint64          `json:"rev"`
	Projects []store.Project `json:"projects"`
	Summary  *store.Summary  `json:"summary"`
}

// Change is one committed change: a new project whole (Project), a changed one as the
// members that moved (ProjectPatch), a deleted one or none as "project": null; the last
// change of a commit carries the summary's cells that moved (SummaryDelta) or, when a delta
// cannot say it (the first commit, a new year, a replay's end), the whole Summary. The
// server splices these members in this order without marshalling the struct
// (server/feed.go's appendChange); its tests check that the two agree.
type Change struct {
	Type         string          `json:"type"`
	Rev          uint64          `json:"rev"`
	Change       store.Change    `json:"change"`
	Project      json.RawMessage `json:"project,omitempty"`
	ProjectPatch json.RawMessage `json:"projectPatch,omitempty"`
	Summary      *store.Summary  `json:"summary,omitempty"`
	SummaryDelta json.RawMessage `json:"summaryDelta,omitempty"`
}

// Reload asks every screen to reload the page (POST /api/screens/reload).
type Reload struct {
	Type string `json:"type"`
}

// Message is any message as a client decodes it: the members of every type. Projects and
// the summary stay the server's JSON, so that a client can compare exactly what was sent and
// decode only what it uses (DecodeProject, DecodeProjects, DecodeSummary).
type Message struct {
	Type  string `json:"type"`
	Epoch string `json:"epoch,omitempty"` // hello
	Rev   uint64 `json:"rev"`
	Build string `json:"build,omitempty"` // hello

	Projects []json.RawMessage `json:"projects,omitempty"` // snapshot
	Summary  json.RawMessage   `json:"summary,omitempty"`  // snapshot; change, whole

	Change       *store.Change   `json:"change,omitempty"`       // change
	Project      json.RawMessage `json:"project,omitempty"`      // change: new, or "null"
	ProjectPatch json.RawMessage `json:"projectPatch,omitempty"` // change: the members that moved
	SummaryDelta json.RawMessage `json:"summaryDelta,omitempty"` // change: the cells that moved
}

// Decode decodes one frame: a message or, on a connection with batch=1, a JSON array of
// them.
func Decode(frame []byte) ([]Message, error) {
	if len(frame) > 0 && frame[0] == '[' {
		var msgs []Message
		err := json.Unmarshal(frame, &msgs)
		return msgs, err
	}
	var m Message
	if err := json.Unmarshal(frame, &m); err != nil {
		return nil, err
	}
	return []Message{m}, nil
}

var summaryKey = []byte(`,"summary":`)

// DecodeWithoutSummary decodes one message (not a batch) but the whole summary it may carry,
// for clients that do not use it: the summary is most of a snapshot's or a replay's last
// change's bytes. It is the last member of the server's encoding, and the sequence
// `,"summary":` cannot occur inside a JSON string (its quote would be escaped), so the
// message is cut there; if the cut message does not decode, the whole is. data is changed
// during the call and restored.
func DecodeWithoutSummary(data []byte) (Message, error) {
	var m Message
	if i := bytes.LastIndex(data, summaryKey); i > 0 {
		c := data[i]
		data[i] = '}'
		err := json.Unmarshal(data[:i+1], &m)
		data[i] = c
		if err == nil {
			return m, nil
		}
		m = Message{}
	}
	err := json.Unmarshal(data, &m)
	return m, err
}

// DecodeProjects decodes a snapshot's projects.
func (m Message) DecodeProjects() ([]store.Project, error) {
	out := make([]store.Project, len(m.Projects))
	for i, p := range m.Projects {
		if err := json.Unmarshal(p, &out[i]); err != nil {
			return nil, fmt.Errorf("snapshot rev %d, project %d: %w", m.Rev, i, err)
		}
	}
	return out, nil
}

// DecodeProject decodes a change's whole project: nil for none (a delete).
func (m Message) DecodeProject() (*store.Project, error) {
	if len(m.Project) == 0 || string(m.Project) == "null" {
		return nil, nil
	}
	var p store.Project
	if err := json.Unmarshal(m.Project, &p); err != nil {
		return nil, fmt.Errorf("change rev %d: project: %w", m.Rev, err)
	}
	return &p, nil
}

// DecodeSummary decodes the whole summary a snapshot or change carries: nil for none.
func (m Message) DecodeSummary() (*store.Summary, error) {
	if len(m.Summary) == 0 || string(m.Summary) == "null" {
		return nil, nil
	}
	var s store.Summary
	if err := json.Unmarshal(m.Summary, &s); err != nil {
		return nil, fmt.Errorf("%s rev %d: summary: %w", m.Type, m.Rev, err)
	}
	return &s, nil
}

// ErrGap is a change whose revision is not the next one: the screen missed something and
// must resync (reconnect without since).
var ErrGap = errors.New("revision gap")

// ErrMismatch is a change computed against another state than the screen holds — a patch of
// a project at another version, a summary delta that does not fit its summary: the screen
// must resync.
var ErrMismatch = errors.New("state mismatch")

// State is a screen's copy of the board, kept as the web UI keeps it: a snapshot replaces
// it, each change applies in revision order, a new epoch (a restored database) throws it
// away. Projects and the summary stay JSON as the server sent them. The zero value holds
// nothing and needs a snapshot.
type State struct {
	Epoch string
	Rev   uint64
	// Projects by id; nil until a snapshot (and after a new epoch or Reset).
	Projects map[string]json.RawMessage
	// Summary as JSON, kept by the changes' summaries and deltas; not kept with IgnoreSummary.
	Summary json.RawMessage
	// IgnoreSummary leaves the summary out, for clients that decode without it.
	IgnoreSummary bool
}

// Held says whether the state holds a board to resume from.
func (s *State) Held() bool { return s.Projects != nil }

// Reset throws the board away: the next connection must get a snapshot.
func (s *State) Reset() { s.Rev, s.Projects, s.Summary = 0, nil, nil }

// Apply applies one message. Errors wrapping ErrGap or ErrMismatch mean the screen must
// resync; others are the server breaking the protocol. A failed change leaves the state as
// it was.
func (s *State) Apply(m Message) error {
	switch m.Type {
	case TypeHello:
		if m.Epoch != s.Epoch {
			s.Epoch = m.Epoch
			s.Reset()
		}
	case TypeSnapshot:
		projects := make(map[string]json.RawMessage, len(m.Projects))
		for _, p := range m.Projects {
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(p, &head); err != nil || head.ID == "" {
				return fmt.Errorf("snapshot project without an id: %.100s", p)
			}
			projects[head.ID] = p
		}
		s.Projects, s.Rev = projects, m.Rev
		if !s.IgnoreSummary {
			s.Summary = m.Summary
		}
	case TypeChange:
		return s.applyChange(m)
	case TypeReload:
	default:
		return fmt.Errorf("unknown message type %q", m.Type)
	}
	return nil
}

func (s *State) applyChange(m Message) error {
	if s.Projects == nil {
		return fmt.Errorf("change %d before any snapshot", m.Rev)
	}
	if m.Rev != s.Rev+1 {
		return fmt.Errorf("%w: have %d, got %d", ErrGap, s.Rev, m.Rev)
	}
	if m.Change == nil {
		return fmt.Errorf("change message rev %d without a change", m.Rev)
	}
	id := m.Change.ProjectID
	var project json.RawMessage // the project after the change; nil: gone
	switch {
	case len(m.ProjectPatch) > 0:
		held, ok := s.Projects[id]
		if !ok {
			return fmt.Errorf("change %d patches %s, which the screen does not hold", m.Rev, id)
		}
		at, _ := json.Marshal(m.Change.At) // a time and a string: marshalling cannot fail
		by, _ := json.Marshal(m.Change.By)
		p, err := PatchProject(held, m.ProjectPatch, at, by)
		if err != nil {
			return fmt.Errorf("change %d: %w", m.Rev, err)
		}
		project = p
	case len(m.Project) > 0 && string(m.Project) != "null":
		project = m.Project
	}
	var summary json.RawMessage
	if !s.IgnoreSummary {
		summary = s.Summary
		switch {
		case len(m.SummaryDelta) > 0:
			b, err := store.ApplySummaryDelta(s.Summary, m.SummaryDelta)
			if err != nil {
				return fmt.Errorf("%w: change %d: summary delta: %v", ErrMismatch, m.Rev, err)
			}
			summary = b
		case len(m.Summary) > 0:
			summary = m.Summary
		}
	}
	if project != nil {
		s.Projects[id] = project
	} else if id != "" {
		delete(s.Projects, id)
	}
	s.Summary, s.Rev = summary, m.Rev
	return nil
}

// PatchProject puts a projectPatch's members over the project held (both JSON objects), as
// the web UI does: who and when (updatedAt, updatedBy) are the change's at and by (JSON)
// unless the patch names them. It refuses, with ErrMismatch, a patch whose version is neither
// the held project's next nor the same (a change that left the project as it was).
func PatchProject(held, patch, at, by json.RawMessage) (json.RawMessage, error) {
	var p, h map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(held, &h); err != nil {
		return nil, err
	}
	var pv, hv uint64
	if json.Unmarshal(p["version"], &pv) != nil || json.Unmarshal(h["version"], &hv) != nil || (pv != hv+1 && pv != hv) {
		return nil, fmt.Errorf("%w: a patch of version %s on version %s", ErrMismatch, p["version"], h["version"])
	}
	h["updatedAt"], h["updatedBy"] = at, by
	for k, v := range p {
		h[k] = v
	}
	return json.Marshal(h)
}
