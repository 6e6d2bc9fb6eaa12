// Package hub fans committed changes out to live screens. Each message is framed once, and
// compressed once for the screens that negotiated permessage-deflate (without context
// takeover, so the same compressed bytes are valid for all of them), and the same bytes go to
// every screen.
//
// A few fan-out goroutines (shards) write to the screens' sockets directly, without waiting:
// a socket that takes the whole frame, as a screen that reads does, costs one write and no
// goroutine wake-up. A screen whose socket cannot take it all is "backlogged": its messages
// queue (boundedly: a screen further behind is dropped and resumes with since) and a goroutine
// of its own writes them, waiting for the socket, until the queue is empty. A new screen starts
// backlogged while it is sent its catch-up, so nothing committed meanwhile is missed.
//
// Waking one goroutine per screen for every change, as a hub of per-screen queues does, puts
// 10,000 goroutines in the run queue for each edit; an editor's request then waits behind all
// of them. Here the run queue holds a few shards.
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
	// Shards is the number of fan-out goroutines (default GOMAXPROCS, at least 2).
	Shards int
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

// Hub holds the subscribers.
type Hub struct {
	opt    Options
	shards []*shard

	mu     sync.Mutex
	subs   map[*Subscriber]struct{}
	byAddr map[string]int
	next   int // the shard the next subscriber joins

	dropped  atomic.Uint64
	backlogs atomic.Uint64
	closed   chan struct{}
	wg       sync.WaitGroup
}

// New starts a hub; Close stops its goroutines.
func New(o Options) *Hub {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Shards <= 0 {
		o.Shards = max(2, runtime.GOMAXPROCS(0))
	}
	h := &Hub{opt: o, subs: map[*Subscriber]struct{}{}, byAddr: map[string]int{}, closed: make(chan struct{})}
	for range o.Shards {
		sh := &shard{h: h, wake: make(chan struct{}, 1)}
		h.shards = append(h.shards, sh)
		h.wg.Add(1)
		go sh.run()
	}
	return h
}

// Close stops the fan-out goroutines; messages published afterwards reach no one.
func (h *Hub) Close() {
	h.mu.Lock()
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// Subscribe adds a backlogged subscriber writing to sink in format f: every message
// published from now on is queued for it until Live.
func (h *Hub) Subscribe(m Meta, sink Sink, f Format) *Subscriber {
	s := &Subscriber{Meta: m, h: h, sink: sink, format: f, state: backlogged, done: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.byAddr[m.Addr]++
	s.sh = h.shards[h.next]
	h.next = (h.next + 1) % len(h.shards)
	s.sh.add(s)
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
	s.sh.remove(s)
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
	select {
	case <-h.closed:
		return // nobody would take them out of the shards' logs
	default:
	}
	for _, m := range msgs {
		if m.frame == nil {
			m.frame = textFrame(m.Data)
		}
	}
	for _, sh := range h.shards {
		sh.mu.Lock()
		sh.log = append(sh.log, msgs...)
		sh.mu.Unlock()
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
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
	st := Stats{Subscribers: h.Len(), Dropped: h.dropped.Load(), Backlogs: h.backlogs.Load()}
	for _, sh := range h.shards {
		st.Delivered += sh.delivered.Load()
	}
	return st
}

// shard is one fan-out goroutine and the subscribers it writes to. It keeps the messages
// published since every one of its subscribers had all of them, and passes over its
// subscribers writing each everything it has not had, until none is behind. A message
// published in the middle of a pass reaches the rest of that pass's subscribers in the same
// write as the one before it: a screen waits at most one pass for a change, not the rest of
// the current pass and then its place in the next.
type shard struct {
	h         *Hub
	wake      chan struct{}
	delivered atomic.Uint64

	mu   sync.Mutex
	subs []*Subscriber
	log  []*Message // messages from sequence number base on
	base uint64
}

func (sh *shard) add(s *Subscriber) {
	sh.mu.Lock()
	s.idx = len(sh.subs)
	s.seq = sh.base + uint64(len(sh.log)) // from the next message on
	sh.subs = append(sh.subs, s)
	sh.mu.Unlock()
}

func (sh *shard) remove(s *Subscriber) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := s.idx
	if i < 0 || i >= len(sh.subs) || sh.subs[i] != s {
		return
	}
	last := len(sh.subs) - 1
	sh.subs[i] = sh.subs[last]
	sh.subs[i].idx = i
	sh.subs[last] = nil
	sh.subs = sh.subs[:last]
	s.idx = -1
}

func (sh *shard) run() {
	defer sh.h.wg.Done()
	var ping <-chan time.Time
	if d := sh.h.opt.PingInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		ping = t.C
	}
	var subs []*Subscriber
	for {
		select {
		case <-sh.h.closed:
			return
		case <-ping:
			sh.mu.Lock()
			subs = append(subs[:0], sh.subs...)
			sh.mu.Unlock()
			b := newBatch([]*Message{{frame: pingFrame, control: true}})
			for _, s := range subs {
				s.deliver(b)
			}
		case <-sh.wake:
			subs = sh.passes(subs)
		}
		clear(subs) // hold no subscriber that has left
	}
}

// passes runs passes over the subscribers until every one has had every message.
func (sh *shard) passes(subs []*Subscriber) []*Subscriber {
	var (
		log     []*Message
		base    uint64
		head    uint64
		batches = map[uint64]*batch{} // by first sequence number, up to head
	)
	refresh := func() {
		sh.mu.Lock()
		log, base = sh.log, sh.base
		sh.mu.Unlock()
		if h := base + uint64(len(log)); h != head {
			head = h
			clear(batches)
		}
	}
	for {
		sh.mu.Lock()
		subs = append(subs[:0], sh.subs...)
		sh.mu.Unlock()
		refresh()
		low := uint64(math.MaxUint64) // the least a subscriber has had after its visit
		for i, s := range subs {
			if i%64 == 63 {
				// Let the editors' requests and the database writer run: they would otherwise
				// wait for the scheduler to preempt a long pass (10 ms), at every step.
				runtime.Gosched()
				refresh() // take in what was published meanwhile
			}
			if s.seq >= head {
				low = min(low, s.seq)
				continue
			}
			from := s.seq
			b := batches[from]
			if b == nil {
				to := min(head, from+maxFrameMessages)
				b = newBatch(log[from-base : to-base])
				batches[from] = b
			}
			s.deliver(b)
			s.seq = from + uint64(len(b.msgs))
			low = min(low, s.seq)
		}
		sh.mu.Lock()
		// Subscribers visited before the last refresh may be behind its head.
		if low >= head && sh.base+uint64(len(sh.log)) == head {
			// Everyone has everything: let the messages go.
			sh.log, sh.base = nil, head
			sh.mu.Unlock()
			return subs
		}
		sh.mu.Unlock()
	}
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
// b.first-1; a batch belongs to one shard, so it is built once without a lock.
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
