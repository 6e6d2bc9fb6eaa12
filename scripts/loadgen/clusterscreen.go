package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/server/feedwire"
)

// The cluster mode's screens keep, for every revision they read, what it changed — the
// project and the version it left — and when they read it, and check the feed as a screen's
// copy of the board does: each change the next revision, each patch on the version held.
// Decoding thousands of copies of every message would cost more CPU than the servers spend
// on the run, so each distinct message (revision, length, CRC) is decoded once, into a
// decodeCache shared by all screens; a few screens (one per instance) also apply every
// message to a whole feedwire.State, summary included, and compare their boards at the end.

// seqEntry is what one revision changed, as a screen read it.
type seqEntry struct {
	rev       uint64
	projectID string
	version   uint64
}

// decodedChange is a change message as the screens use it.
type decodedChange struct {
	entry   int32 // index into decodeCache.entries
	project int   // index into decodeCache.projects; -1: none
	version uint64
	patch   bool // projectPatch: the version must follow the one held
}

type frameKey struct {
	rev  uint64
	n    int
	hash uint32
}

// decodeCache decodes each distinct frame once and numbers the projects and sequence
// entries, so that screens keep small integers.
type decodeCache struct {
	mu        sync.Mutex
	changes   map[frameKey]decodedChange
	snapshots map[frameKey][]uint64 // versions by project index
	entries   []seqEntry
	entryID   map[seqEntry]int32
	projects  map[string]int
}

func newDecodeCache() *decodeCache {
	return &decodeCache{changes: map[frameKey]decodedChange{}, snapshots: map[frameKey][]uint64{},
		entryID: map[seqEntry]int32{}, projects: map[string]int{}}
}

func (c *decodeCache) projectIndex(id string) int {
	i, ok := c.projects[id]
	if !ok {
		i = len(c.projects)
		c.projects[id] = i
	}
	return i
}

func (c *decodeCache) entry(e seqEntry) int32 {
	id, ok := c.entryID[e]
	if !ok {
		id = int32(len(c.entries))
		c.entries = append(c.entries, e)
		c.entryID[e] = id
	}
	return id
}

// change decodes a change message (frame b, revision rev).
func (c *decodeCache) change(rev uint64, b []byte) (decodedChange, error) {
	k := frameKey{rev, len(b), crc32.ChecksumIEEE(b)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.changes[k]; ok {
		return d, nil
	}
	m, err := feedwire.DecodeWithoutSummary(b)
	if err != nil {
		return decodedChange{}, err
	}
	if m.Change == nil {
		return decodedChange{}, fmt.Errorf("change message rev %d without a change", rev)
	}
	d := decodedChange{project: -1}
	var v struct {
		Version uint64 `json:"version"`
	}
	switch {
	case len(m.ProjectPatch) > 0:
		if err := json.Unmarshal(m.ProjectPatch, &v); err != nil {
			return d, fmt.Errorf("change %d: projectPatch: %w", rev, err)
		}
		d.patch = true
	case len(m.Project) > 0 && string(m.Project) != "null":
		if err := json.Unmarshal(m.Project, &v); err != nil {
			return d, fmt.Errorf("change %d: project: %w", rev, err)
		}
	}
	if m.Change.ProjectID != "" {
		d.project = c.projectIndex(m.Change.ProjectID)
	}
	d.version = v.Version
	d.entry = c.entry(seqEntry{rev: rev, projectID: m.Change.ProjectID, version: v.Version})
	c.changes[k] = d
	return d, nil
}

// snapshot decodes a snapshot's project versions, by project index; the slice is shared
// and must not be changed.
func (c *decodeCache) snapshot(rev uint64, b []byte) ([]uint64, error) {
	k := frameKey{rev, len(b), crc32.ChecksumIEEE(b)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.snapshots[k]; ok {
		return v, nil
	}
	m, err := feedwire.DecodeWithoutSummary(b)
	if err != nil {
		return nil, err
	}
	var versions []uint64
	for _, raw := range m.Projects {
		var p struct {
			ID      string `json:"id"`
			Version uint64 `json:"version"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("snapshot rev %d: %w", rev, err)
		}
		i := c.projectIndex(p.ID)
		for len(versions) <= i {
			versions = append(versions, 0)
		}
		versions[i] = p.Version
	}
	c.snapshots[k] = versions
	return versions, nil
}

// screen is one websocket client of the cluster mode. Its reader goroutine owns everything
// but the atomics and conn; the rest is read after the reader has returned.
type screen struct {
	idx  int
	home int // the instance it connected to first
	cl   *clusterRun

	mu   sync.Mutex // conn, for closing from another goroutine
	conn *websocket.Conn

	inst    atomic.Int32 // the instance it is connected to
	lastRev atomic.Uint64
	epoch   string

	base       uint64          // the revision of its first snapshot
	ids        []int32         // decodeCache entries, by revision base+1 …; -1: not read
	at         []int64         // when each was read, nanoseconds after the edits began
	versions   []uint64        // each project's version it holds, by project index
	full       *feedwire.State // the whole board, on one screen per instance
	fullFailed bool

	// What went wrong: snapshots after the first, revisions that skipped (gaps) or came
	// again (repeats), patches on another version than held, other protocol errors.
	snapshots, gaps, repeats, mismatches int
	errs                                 []string

	// reconnects counts connections after the first; moved is set when its instance was
	// killed, with the revision it resumed after and the instance it resumed on.
	reconnects int
	moved      bool
	since      uint64
	to         int
	helloRev   uint64       // the first hello's rev after the kill: the head it catches up to
	helloAt    atomic.Int64 // unix nanoseconds of that hello
	caughtAt   atomic.Int64 // … and of reading that revision
	resumeSnap bool         // the resume brought a snapshot

	connected chan struct{} // closed after the first snapshot
	gone      chan struct{} // closed when the reader returns
	dead      error         // why the reader returned, if not asked to
}

func (s *screen) fail(format string, a ...any) {
	if len(s.errs) < 5 {
		s.errs = append(s.errs, fmt.Sprintf(format, a...))
	}
}

// dial connects to instance i, resuming after lastRev once the screen holds a board.
func (s *screen) dial(ctx context.Context, i int) error {
	cl := s.cl
	addr := cl.inst[i].addr
	u := "ws://" + addr + "/ws?token=" + url.QueryEscape(cl.displayToken)
	if s.epoch != "" {
		u += "&since=" + strconv.FormatUint(s.lastRev.Load(), 10) + "&epoch=" + url.QueryEscape(s.epoch)
	}
	d := cl.dialers[s.idx/cl.o.perAddr]
	conn, resp, err := d.DialContext(ctx, u, http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial instance %d: %w (HTTP %d)", i, err, resp.StatusCode)
		}
		return fmt.Errorf("dial instance %d: %w", i, err)
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	s.inst.Store(int32(i))
	return nil
}

func (s *screen) close() {
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close()
	}
	s.mu.Unlock()
}

// frames lends buffers to readers while they read a frame.
var frames = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// read is the screen's goroutine: it reads and checks every message, and reconnects when its
// connection ends (to its instance, or when that was killed to the survivors in turn).
func (s *screen) read() {
	defer close(s.gone)
	cl := s.cl
	for {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		_, r, err := conn.NextReader()
		if err != nil {
			if cl.closing.Load() {
				return
			}
			if !s.redial() {
				return
			}
			continue
		}
		buf := frames.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = io.Copy(buf, r)
		now := time.Now()
		if err == nil {
			err = s.handle(buf.Bytes(), now)
		}
		frames.Put(buf)
		if err != nil {
			if cl.closing.Load() {
				return
			}
			s.dead = err
			s.close()
			return
		}
	}
}

// handle applies one frame; an error ends the screen (the server broke the protocol).
func (s *screen) handle(b []byte, now time.Time) error {
	cl := s.cl
	if s.full != nil && !s.fullFailed {
		msgs, err := feedwire.Decode(b)
		if err != nil {
			return fmt.Errorf("undecodable message %.100s: %w", b, err)
		}
		for _, m := range msgs {
			if err := s.full.Apply(m); err != nil {
				// Counted once; the light check below goes on.
				s.fail("whole-board check at rev %d: %v", m.Rev, err)
				s.fullFailed = true
				break
			}
		}
	}
	typ, rev := feedwire.Head(b)
	switch typ {
	case feedwire.TypeHello:
		var h feedwire.Hello
		if err := json.Unmarshal(b, &h); err != nil {
			return fmt.Errorf("bad hello: %w", err)
		}
		if s.epoch != "" && h.Epoch != s.epoch {
			s.fail("instance %d has epoch %s, the screen held %s", s.inst.Load(), h.Epoch, s.epoch)
		}
		s.epoch = h.Epoch
		if s.moved && s.helloAt.Load() == 0 {
			s.helloRev = h.Rev
			s.helloAt.Store(now.UnixNano())
			if h.Rev <= s.lastRev.Load() {
				s.caughtAt.Store(now.UnixNano())
			}
		}
	case feedwire.TypeSnapshot:
		versions, err := cl.cache.snapshot(rev, b)
		if err != nil {
			return err
		}
		s.versions = append(s.versions[:0], versions...)
		if s.base == 0 {
			s.base = rev
			s.lastRev.Store(rev)
			close(s.connected)
			break
		}
		s.snapshots++
		if s.moved && s.helloAt.Load() != 0 && s.caughtAt.Load() == 0 {
			s.resumeSnap = true
		}
		last := s.lastRev.Load()
		if rev < last {
			s.fail("a snapshot at rev %d after rev %d", rev, last)
			break
		}
		s.skipTo(rev)
		s.lastRev.Store(rev)
		s.caughtUp(rev, now)
	case feedwire.TypeChange:
		if s.base == 0 {
			return fmt.Errorf("change %d before the snapshot", rev)
		}
		d, err := cl.cache.change(rev, b)
		if err != nil {
			return err
		}
		last := s.lastRev.Load()
		if rev <= last {
			s.repeats++
			s.fail("rev %d after rev %d", rev, last)
			break
		}
		if rev > last+1 {
			s.gaps++
			s.fail("gap: rev %d after rev %d on instance %d", rev, last, s.inst.Load())
			s.skipTo(rev - 1)
		}
		if d.project >= 0 {
			for len(s.versions) <= d.project {
				s.versions = append(s.versions, 0)
			}
			if held := s.versions[d.project]; d.patch && d.version != held+1 && d.version != held {
				s.mismatches++
				s.fail("rev %d patches %s to version %d on version %d", rev, cl.cache.entries[d.entry].projectID, d.version, held)
			}
			s.versions[d.project] = d.version
		}
		s.ids = append(s.ids, d.entry)
		s.at = append(s.at, int64(now.Sub(cl.t0)))
		s.lastRev.Store(rev)
		s.caughtUp(rev, now)
	case feedwire.TypeReload:
	default:
		return fmt.Errorf("unexpected message %.100s", b)
	}
	return nil
}

// skipTo marks the revisions up to rev that the screen never read.
func (s *screen) skipTo(rev uint64) {
	for uint64(len(s.ids)) < rev-s.base {
		s.ids = append(s.ids, -1)
		s.at = append(s.at, 0)
	}
}

func (s *screen) caughtUp(rev uint64, now time.Time) {
	if s.moved && s.helloAt.Load() != 0 && s.caughtAt.Load() == 0 && rev >= s.helloRev {
		s.caughtAt.Store(now.UnixNano())
	}
}

// redial reconnects after the connection ended: to the same instance if it still runs,
// else to the survivors in turn, as a round-robin proxy would; the first attempt at once,
// then with full-jitter backoff (50–500 ms), as the web UI does.
func (s *screen) redial() bool {
	cl := s.cl
	s.close()
	s.reconnects++
	if from := int(s.inst.Load()); cl.dead[from].Load() && !s.moved {
		s.moved, s.since = true, s.lastRev.Load()
	}
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if cl.closing.Load() {
			return false
		}
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(backoff)) + 1))
			backoff = min(backoff*2, 500*time.Millisecond)
		}
		i := int(s.inst.Load())
		if cl.dead[i].Load() {
			i = cl.nextSurvivor()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.dial(ctx, i)
		cancel()
		if err == nil {
			if s.moved && s.to < 0 {
				s.to = i
			}
			return true
		}
		cl.dialFails.Add(1)
	}
}

// newDialers makes one dialer per loopback source address (127.0.0.2 …) for n screens.
func newDialers(n, perAddr int) ([]*websocket.Dialer, error) {
	addrs := (n + perAddr - 1) / perAddr
	if addrs > 250 {
		return nil, fmt.Errorf("%d clients need %d source addresses; raise --per-addr", n, addrs)
	}
	pool := &writePool{}
	var out []*websocket.Dialer
	for i := range addrs {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}, Timeout: 10 * time.Second}
		out = append(out, &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 20 * time.Second,
			ReadBufferSize: 4096, WriteBufferSize: 256, WriteBufferPool: pool})
	}
	return out, nil
}

// sequenceCheck compares the screens' sequences over the revisions from..to: at each, every
// screen that read it must have read the same change. It returns how many revisions were
// compared, how many screen-revisions differed from the first screen's, and the first
// difference.
func sequenceCheck(screens []*screen, entries []seqEntry, from, to uint64) (revs int, differ int, first string) {
	for rev := from; rev <= to; rev++ {
		ref, refScreen := int32(-1), -1
		for _, s := range screens {
			if rev <= s.base || rev-s.base > uint64(len(s.ids)) {
				continue
			}
			id := s.ids[rev-s.base-1]
			switch {
			case id < 0:
			case ref < 0:
				ref, refScreen = id, s.idx
			case id != ref:
				differ++
				if first == "" {
					first = fmt.Sprintf("rev %d: screen %d read %+v, screen %d %+v", rev, refScreen, entries[ref], s.idx, entries[id])
				}
			}
		}
		revs++
	}
	return revs, differ, first
}

// missing counts the revisions base+1..head a screen never read.
func (s *screen) missing(head uint64) int {
	n := 0
	for rev := s.base + 1; rev <= head; rev++ {
		if i := rev - s.base - 1; i >= uint64(len(s.ids)) || s.ids[i] < 0 {
			n++
		}
	}
	return n
}
