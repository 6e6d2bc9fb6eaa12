package server

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/feedwire"
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

// encodeChange returns a change message.
func encodeChange(e store.Event) []byte { return appendChange(nil, e) }

// appendChange appends the change message (feedwire.Change, its members in that order) to
// dst. The change and the project the commit already encoded are spliced in as they are (the
// writer publishes before it answers, so encoding them again would hold up every editor); a
// replay's events are encoded here.
func appendChange(dst []byte, e store.Event) []byte {
	change, project := e.ChangeJSON, e.ProjectJSON
	if change == nil {
		change = mustMarshal(e.Change)
	}
	if e.Project != nil && project == nil {
		project = mustMarshal(e.Project)
	}
	sum, key := e.SummaryDelta, `,"summaryDelta":`
	if sum == nil && e.Summary != nil {
		sum, key = mustMarshal(e.Summary), `,"summary":`
	}
	b := slices.Grow(dst, 64+len(change)+len(project)+len(sum))
	b = append(b, `{"type":"change","rev":`...)
	b = strconv.AppendUint(b, e.Change.Rev, 10)
	b = append(b, `,"change":`...)
	b = append(b, change...)
	switch {
	case e.Project == nil:
		b = append(b, `,"project":null`...)
	case e.Change.Kind == store.ChangeCreate:
		b = append(b, `,"project":`...)
		b = append(b, project...)
	default:
		// An existing project: the members that moved (who and when only if they are not the
		// change's own).
		b = append(b, `,"projectPatch":`...)
		var err error
		if b, err = store.AppendProjectPatch(b, project, e.Change.Fields, mustMarshal(e.Change.At), mustMarshal(e.Change.By)); err != nil {
			panic(err) // the bytes are encoding/json's
		}
	}
	if sum != nil {
		b = append(b, key...)
		b = append(b, sum...)
	}
	return append(b, '}')
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain values: marshalling cannot fail
	}
	return b
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
		b, err := json.Marshal(feedwire.Hello{Type: feedwire.TypeHello, Epoch: epoch, Rev: rev, Build: build})
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
	b, err := json.Marshal(feedwire.Snapshot{Type: feedwire.TypeSnapshot, Rev: rev, Projects: projects, Summary: sum})
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
