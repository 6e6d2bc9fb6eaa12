package server

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/hub"
	"projectboard/store"
)

// feed turns committed changes into pre-encoded messages and caches, per revision, the
// snapshot a new screen needs and the summary the API serves, so neither is re-encoded per
// connection or request.
type feed struct {
	store *store.Store
	hub   *hub.Hub

	mu       sync.Mutex
	snapRev  uint64
	snapshot []byte
	snapZRev uint64
	snapZ    []byte // the snapshot as one compressed frame
	sumRev   uint64
	summary  []byte
	helloRev uint64
	hello    []byte
}

func newFeed(st *store.Store, h *hub.Hub) *feed { return &feed{store: st, hub: h} }

type helloMsg struct {
	Type  string `json:"type"`
	Epoch string `json:"epoch"`
	Rev   uint64 `json:"rev"`
	Build string `json:"build"`
}

type changeMsg struct {
	Type    string         `json:"type"`
	Rev     uint64         `json:"rev"`
	Change  store.Change   `json:"change"`
	Project *store.Project `json:"project"`
	Summary *store.Summary `json:"summary,omitempty"`
}

type snapshotMsg struct {
	Type     string          `json:"type"`
	Rev      uint64          `json:"rev"`
	Projects []store.Project `json:"projects"`
	Summary  *store.Summary  `json:"summary"`
}

// encodeChange returns a change message. The change and the project the commit already
// encoded are spliced in as they are (the writer publishes before it answers, so encoding
// them again would hold up every editor); the result is byte for byte what encoding a
// changeMsg gives.
func encodeChange(e store.Event) []byte { return appendChange(nil, e) }

// appendChange appends the change message to dst.
func appendChange(dst []byte, e store.Event) []byte {
	if e.ChangeJSON == nil || (e.Project != nil && e.ProjectJSON == nil) {
		b, err := json.Marshal(changeMsg{Type: "change", Rev: e.Change.Rev, Change: e.Change, Project: e.Project, Summary: e.Summary})
		if err != nil {
			panic(err) // every field is a plain value: marshalling cannot fail
		}
		return append(dst, b...)
	}
	var sum []byte
	if e.Summary != nil {
		var err error
		if sum, err = json.Marshal(e.Summary); err != nil {
			panic(err)
		}
	}
	project := e.ProjectJSON
	if e.Project == nil {
		project = []byte("null")
	}
	b := slices.Grow(dst, 64+len(e.ChangeJSON)+len(project)+len(sum))
	b = append(b, `{"type":"change","rev":`...)
	b = strconv.AppendUint(b, e.Change.Rev, 10)
	b = append(b, `,"change":`...)
	b = append(b, e.ChangeJSON...)
	b = append(b, `,"project":`...)
	b = append(b, project...)
	if sum != nil {
		b = append(b, `,"summary":`...)
		b = append(b, sum...)
	}
	return append(b, '}')
}

// publish is the store's commit hook: it runs on the writer goroutine after each durable
// commit, so messages enter the hub in revision order.
func (f *feed) publish(events []store.Event) {
	msgs := make([]*hub.Message, len(events))
	now := time.Now()
	for i, e := range events {
		// Encoded behind room for the frame header, so the hub frames it without a copy.
		b := appendChange(make([]byte, hub.FrameRoom), e)
		msgs[i] = hub.FramedMessage(e.Change.Rev, now, b)
	}
	f.hub.Publish(msgs...)
}

// helloBytes returns the hello message for a screen connecting at revision rev, encoded once
// per revision: when 10,000 screens reconnect after a restart, they all get the same one.
func (f *feed) helloBytes(epoch string, rev uint64, build string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hello == nil || f.helloRev != rev {
		b, err := json.Marshal(helloMsg{Type: "hello", Epoch: epoch, Rev: rev, Build: build})
		if err != nil {
			panic(err) // plain values
		}
		f.hello, f.helloRev = b, rev
	}
	return f.hello
}

// snapshotBytes returns the encoded snapshot at the current revision, building it at most
// once per revision.
func (f *feed) snapshotBytes() ([]byte, uint64) {
	rev := f.store.Rev()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapshot != nil && f.snapRev == rev {
		return f.snapshot, rev
	}
	projects, sum, rev := f.store.Snapshot()
	b, err := json.Marshal(snapshotMsg{Type: "snapshot", Rev: rev, Projects: projects, Summary: sum})
	if err != nil {
		panic(err)
	}
	f.snapshot, f.snapRev = b, rev
	return b, rev
}

// snapshotDeflated returns the snapshot as one compressed frame, compressed at most once per
// revision: after a restart, every screen that needs a snapshot shares it.
func (f *feed) snapshotDeflated() ([]byte, uint64) {
	snap, rev := f.snapshotBytes()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapZ == nil || f.snapZRev != rev {
		f.snapZ, f.snapZRev = hub.DeflatedText(snap), rev
	}
	return f.snapZ, rev
}

// sendSummary answers GET /api/summary without filters from the per-revision cache.
func (f *feed) sendSummary(c *fiber.Ctx) error {
	sum := f.store.Summary(store.SummaryFilter{})
	f.mu.Lock()
	if f.summary == nil || f.sumRev != sum.Rev {
		b, err := json.Marshal(sum)
		if err != nil {
			f.mu.Unlock()
			return err
		}
		f.summary, f.sumRev = b, sum.Rev
	}
	b := f.summary
	f.mu.Unlock()
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}
