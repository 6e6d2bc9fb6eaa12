// Package hub fans committed changes out to live screens. Each message is framed once, and
// compressed once for the screens that negotiated permessage-deflate (without context
// takeover, so the same compressed bytes are valid for all of them), and the same bytes go to
// every screen.
//
// A few fan-out goroutines (writers) write to the screens' sockets directly, without waiting:
// a socket that takes the whole frame, as a screen that reads does, costs one write and no
// goroutine wake-up. The writers share passes over the screens, taking a chunk at a time, so
// that a writer the kernel holds up delays only its own chunk. A screen whose socket cannot
// take it all is "backlogged": its messages queue (boundedly: a screen further behind is
// dropped and resumes with since) and a goroutine of its own writes them, waiting for the
// socket, until the queue is empty. A new screen starts backlogged while it is sent its
// catch-up, so nothing committed meanwhile is missed.
//
// Waking one goroutine per screen for every change, as a hub of per-screen queues does, puts
// 10,000 goroutines in the run queue for each edit; an editor's request then waits behind all
// of them. Here the run queue holds a few writers.
package hub

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Close codes a subscriber is dropped with.
const (
	CodeGoingAway   = 1001 // the server is shutting down
	CodeRevoked     = 4001 // the session ended or the token was revoked
	CodeSlowConsume = 4008 // the queue overflowed: resume with since
)

// maxFrameMessages bounds how many messages the fan-out takes at once, and so how many one
// batched frame carries.
const maxFrameMessages = 64

// Message is one pre-encoded message. Rev is 0 for messages outside the change sequence.
type Message struct {
	Rev  uint64
	Data []byte
	At   time.Time // when it was published, for delivery latency

	frame   []byte // the websocket frame carrying Data (or the control frame)
	control bool   // a ping, pong or close frame: never put into a batch, never compressed
	zOnce   sync.Once
	zframe  []byte // the compressed frame, made when a screen first needs it
}

// deflated is the message's compressed frame, made once for every screen.
func (m *Message) deflated() []byte {
	if m.control {
		return m.frame
	}
	m.zOnce.Do(func() { m.zframe = appendDeflated(nil, m.Data) })
	return m.zframe
}

// Format is the shape of the frames a screen gets.
type Format uint8

const (
	// Batches: what is queued for the screen goes out as one frame holding a JSON array
	// (the screen asked for batch=1).
	Batches Format = 1 << iota
	// Deflate: frames are compressed (the screen negotiated permessage-deflate).
	Deflate
)

// Meta says who a subscriber is, so that sessions and tokens can be disconnected.
type Meta struct {
	SessionKey string
	TokenID    string
	Username   string
	Addr       string
}

// Sink is a screen's socket as the hub writes to it.
type Sink interface {
	// TryWrite writes what of b the socket takes now, without waiting (0 when it is full).
	TryWrite(b []byte) (int, error)
	// Write writes all of bufs, waiting for the socket up to the sink's write timeout.
	Write(bufs ...[]byte) error
	// Wake stops the connection's reader: the subscriber was dropped or its socket failed.
	Wake()
	// Abort makes a Write in progress, and every later one, fail at once.
	Abort()
}

// Options configure a hub.
type Options struct {
	// Queue is how many messages a backlogged screen may fall behind before it is dropped
	// (default 256: at ten changes a second, 25 s of slack).
	Queue int
	// Writers is the number of fan-out goroutines (default GOMAXPROCS, at least 2).
	Writers int
	// PingInterval is how often every screen is pinged (0: never).
	PingInterval time.Duration
	// Delivered, if set, is called for every change message written to a screen's socket
	// with the time it was published.
	Delivered func(at time.Time)
	// WriteFailed, if set, is called when a write to a screen fails or times out.
	WriteFailed func()
}

// Stats are the hub's counters since it started.
type Stats struct {
	Subscribers int
	Delivered   uint64 // messages written to screens' sockets
	Dropped     uint64 // subscribers dropped for a full queue
	Backlogs    uint64 // times a screen's socket was full and a writer of its own took over
}

// Hub holds the subscribers and the fan-out.
//
// The fan-out is a few writer goroutines that share passes over the subscribers: a pass
// visits every subscriber in turn, in chunks that the writers take one after the other, and
// writes to each what it has not had. A chunk is taken under the fan-out's lock, so the
// writers spread a pass over the cores between them, and a writer whose thread the kernel
// holds up (in a write, or preempted) holds up only the rest of its chunk: the others take
// the remaining chunks. A message published in the middle of a pass reaches the chunks not
// yet taken in the same write as the one before it, and the subscribers already visited in
// the next pass: a screen waits at most one pass for a change.
type Hub struct {
	opt Options

	mu     sync.Mutex // subs, byAddr
	subs   map[*Subscriber]struct{}
	byAddr map[string]int

	// The fan-out's state, under fmu; wake is signalled when there is work.
	fmu  sync.Mutex
	wake *sync.Cond
	list []*Subscriber // every subscriber, in the order passes visit them; s.idx is its place
	log  []*Message    // the messages from sequence number base on
	base uint64
	// The pass under way (if running): a copy of list when it began, the first subscriber of
	// it no writer has taken, the chunks being written, the least sequence number a visited
	// subscriber had after its visit, the head of the log when the pass began, and whether
	// something was published since.
	running   bool
	pass      []*Subscriber
	rotation  int // the place in list where the last pass began
	next      int
	busy      int
	low       uint64
	passHead  uint64
	published bool
	closed    bool

	delivered atomic.Uint64
	dropped   atomic.Uint64
	backlogs  atomic.Uint64
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
}

// chunk is how many subscribers a writer takes from a pass at a time. Between two chunks it
// yields (runtime.Gosched), so that an editor's request and the database writer need not wait
// for the scheduler to preempt a long pass (10 ms) at every step.
const chunk = 64

// New starts a hub; Close stops its goroutines.
func New(o Options) *Hub {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Writers <= 0 {
		o.Writers = max(2, runtime.GOMAXPROCS(0))
	}
	h := &Hub{opt: o, subs: map[*Subscriber]struct{}{}, byAddr: map[string]int{}, done: make(chan struct{})}
	h.wake = sync.NewCond(&h.fmu)
	for range o.Writers {
		h.wg.Add(1)
		go h.writer()
	}
	if o.PingInterval > 0 {
		h.wg.Add(1)
		go h.pinger()
	}
	return h
}

// Close stops the fan-out goroutines; messages published afterwards reach no one.
func (h *Hub) Close() {
	h.fmu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.fmu.Unlock()
	h.wake.Broadcast()
	h.wg.Wait()
}

// Subscribe adds a backlogged subscriber writing to sink in format f: every message
// published from now on is queued for it until Live.
func (h *Hub) Subscribe(m Meta, sink Sink, f Format) *Subscriber {
	s := &Subscriber{Meta: m, h: h, sink: sink, format: f, state: backlogged, done: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.byAddr[m.Addr]++
	h.fmu.Lock()
	s.idx = len(h.list)
	s.seq = h.base + uint64(len(h.log)) // from the next message on
	h.list = append(h.list, s)
	h.fmu.Unlock()
	h.mu.Unlock()
	return s
}

// Unsubscribe removes a subscriber and stops its writes: a backlogged one's writer is
// aborted and waited for. It is safe to call more than once.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	h.forgetLocked(s)
	h.mu.Unlock()
	s.mu.Lock()
	s.closeLocked()
	d := s.draining
	if d != nil {
		s.broken = true // the writer may be cut in the middle of a frame
	}
	s.mu.Unlock()
	if d != nil {
		s.sink.Abort()
		<-d
	}
}

func (h *Hub) forgetLocked(s *Subscriber) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.byAddr[s.Meta.Addr]--; h.byAddr[s.Meta.Addr] <= 0 {
		delete(h.byAddr, s.Meta.Addr)
	}
	h.fmu.Lock()
	if i := s.idx; i >= 0 && i < len(h.list) && h.list[i] == s {
		last := len(h.list) - 1
		h.list[i] = h.list[last]
		h.list[i].idx = i
		h.list[last] = nil
		h.list = h.list[:last]
	}
	s.idx = -1
	h.fmu.Unlock()
}

// CountAddr is the number of subscribers from one address, in constant time: it is asked at
// every handshake.
func (h *Hub) CountAddr(addr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byAddr[addr]
}

// Publish hands msgs, in order, to the fan-out. It does not wait for a single write: it is
// called on the database writer's goroutine.
func (h *Hub) Publish(msgs ...*Message) {
	for _, m := range msgs {
		if m.frame == nil {
			m.frame = textFrame(m.Data)
		}
	}
	h.fmu.Lock()
	if h.closed {
		h.fmu.Unlock()
		return // nobody would take them out of the log
	}
	h.log = append(h.log, msgs...)
	if h.running {
		h.published = true // the subscribers already visited need another pass
	} else {
		h.startPassLocked()
	}
	h.fmu.Unlock()
	h.wake.Broadcast()
}

// pinger pings every screen, in line with the messages, every PingInterval.
func (h *Hub) pinger() {
	defer h.wg.Done()
	t := time.NewTicker(h.opt.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
			h.Publish(&Message{frame: pingFrame, control: true})
		}
	}
}

// startPassLocked begins a pass over every subscriber, from the place after where the
// previous pass began plus about 0.618 of the subscribers: a screen's place in the passes
// wanders over all of them, so no screen is always the last written. (A pass writes in its
// order: at 2,000 screens the last tenth read a change 45 ms after the first tenth, every
// change the same screens, where a hub of a goroutine per screen has no fixed order.)
func (h *Hub) startPassLocked() {
	if n := len(h.list); n > 0 {
		h.rotation = (h.rotation + n*618/1000 + 1) % n
	} else {
		h.rotation = 0
	}
	h.pass = append(append(h.pass[:0], h.list[h.rotation:]...), h.list[:h.rotation]...)
	h.next, h.busy, h.low = 0, 0, math.MaxUint64
	h.passHead = h.base + uint64(len(h.log))
	h.published = false
	h.running = true
}

// endPassLocked is called when every subscriber of the pass was visited: it lets go of the
// messages every subscriber has had, and begins another pass if some are behind.
func (h *Hub) endPassLocked() {
	head := h.base + uint64(len(h.log))
	// Subscribers that joined during the pass start at the head of their moment, which is at
	// least the pass's.
	// The log's array is never written below its length again, nor cleared: batches of a
	// backlogged subscriber still hold parts of it.
	if h.low >= head && !h.published {
		// Everyone has everything: let the messages go, and wait for the next.
		h.log, h.base = nil, head
		clear(h.pass)
		h.pass = h.pass[:0]
		h.running = false
		return
	}
	if keep := min(h.low, h.passHead); keep > h.base {
		h.log = append([]*Message(nil), h.log[keep-h.base:]...)
		h.base = keep
	}
	h.startPassLocked()
}

// claim returns the next chunk of the pass to a writer, with the log as it is now. A writer
// that has written the chunk it took before says so (had) with the least sequence number its
// subscribers had after their visits (low). claim waits while there is nothing to write, and
// returns false once the hub is closed.
func (h *Hub) claim(had bool, low uint64) (subs []*Subscriber, log []*Message, base uint64, ok bool) {
	h.fmu.Lock()
	defer h.fmu.Unlock()
	if had {
		h.busy--
		h.low = min(h.low, low)
	}
	for {
		if h.closed {
			return nil, nil, 0, false
		}
		if h.running && h.next < len(h.pass) {
			end := min(h.next+chunk, len(h.pass))
			subs = h.pass[h.next:end]
			h.next = end
			h.busy++
			return subs, h.log, h.base, true
		}
		if h.running && h.busy == 0 {
			// The last chunk of the pass is written.
			h.endPassLocked()
			if h.running {
				h.wake.Broadcast() // the other writers, for the new pass
			}
			continue
		}
		h.wake.Wait()
	}
}

// writer is one fan-out goroutine: it writes chunk after chunk of the passes.
func (h *Hub) writer() {
	defer h.wg.Done()
	var c frameCache
	had, low := false, uint64(0)
	for {
		subs, log, base, ok := h.claim(had, low)
		if !ok {
			return
		}
		head := base + uint64(len(log))
		low = math.MaxUint64
		for _, s := range subs {
			low = min(low, s.visit(log, base, head, &c))
		}
		had = true
		runtime.Gosched()
	}
}

// frameCache keeps, for one writer, the batches it built for subscribers at the same point of
// the log, so that their frames are built once.
type frameCache struct {
	head    uint64
	batches map[uint64]*batch // by first sequence number, up to head
}

func (c *frameCache) batch(log []*Message, base, from, head uint64) *batch {
	if c.batches == nil || c.head != head {
		if c.batches == nil {
			c.batches = map[uint64]*batch{}
		}
		clear(c.batches)
		c.head = head
	}
	b := c.batches[from]
	if b == nil {
		to := min(head, from+maxFrameMessages)
		b = newBatch(log[from-base : to-base])
		c.batches[from] = b
	}
	return b
}

// Drop disconnects every subscriber for which match returns true; it returns how many.
func (h *Hub) Drop(match func(Meta) bool, code int, reason string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.subs {
		if match(s.Meta) {
			h.forgetLocked(s)
			s.mu.Lock()
			s.dropLocked(code, reason)
			s.mu.Unlock()
			n++
		}
	}
	return n
}

// Len is the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	return Stats{Subscribers: h.Len(), Delivered: h.delivered.Load(), Dropped: h.dropped.Load(), Backlogs: h.backlogs.Load()}
}

// batch is what the fan-out writes in one go, with the frames every screen in line shares.
type batch struct {
	msgs        []*Message
	first, last uint64    // revisions of the first and last change in msgs (0: none)
	inLine      bool      // the changes' revisions follow one another
	frames      [4][]byte // all of msgs, by Format
}

func newBatch(msgs []*Message) *batch {
	b := &batch{msgs: msgs, inLine: true}
	for _, m := range msgs {
		if m.Rev == 0 {
			continue
		}
		if b.first == 0 {
			b.first = m.Rev
		} else if m.Rev != b.last+1 {
			b.inLine = false
		}
		b.last = m.Rev
	}
	return b
}

// shared is the frame of the whole batch in format f, for screens that follow on from
// b.first-1; a batch belongs to one writer, so it is built once without a lock.
func (b *batch) shared(f Format) []byte {
	if len(b.msgs) == 1 {
		if f&Deflate != 0 {
			return b.msgs[0].deflated()
		}
		return b.msgs[0].frame
	}
	if b.frames[f] == nil {
		b.frames[f] = appendFrames(nil, b.msgs, f)
	}
	return b.frames[f]
}

// appendFrames appends the frames of msgs in format f to buf: each message its own frame,
// or, with Batches, each run of change messages one frame holding a JSON array of them.
func appendFrames(buf []byte, msgs []*Message, f Format) []byte {
	deflate := f&Deflate != 0
	for i := 0; i < len(msgs); {
		j := i
		for f&Batches != 0 && j < len(msgs) && !msgs[j].control && j-i < maxFrameMessages {
			j++
		}
		if j-i > 1 {
			buf = appendArray(buf, msgs[i:j], deflate)
			i = j
			continue
		}
		if deflate {
			buf = append(buf, msgs[i].deflated()...)
		} else {
			buf = append(buf, msgs[i].frame...)
		}
		i++
	}
	return buf
}
