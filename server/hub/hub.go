// Package hub fans committed changes out to live subscribers. Each message is encoded once
// and the same bytes go to every subscriber's bounded queue; a subscriber whose queue is full
// is dropped, so one slow screen never delays the others.
package hub

import (
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

// Message is one pre-encoded message. Rev is 0 for messages outside the change sequence.
type Message struct {
	Rev  uint64
	Data []byte
	At   time.Time // when it was published, for delivery latency
}

// Meta says who a subscriber is, so that sessions and tokens can be disconnected.
type Meta struct {
	SessionKey string
	TokenID    string
	Username   string
	Addr       string
}

// Subscriber is one live connection's queue. The queue holds pointers to messages shared by
// every subscriber, so a slot costs 8 bytes whatever the message.
type Subscriber struct {
	Meta Meta
	C    <-chan *Message

	c      chan *Message
	done   chan struct{}
	once   sync.Once
	code   atomic.Int32
	reason atomic.Value
}

// Done is closed when the hub drops the subscriber; Code then says why.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Code is the close code the subscriber was dropped with (0 while it is live).
func (s *Subscriber) Code() int { return int(s.code.Load()) }

// Reason is the close reason text.
func (s *Subscriber) Reason() string {
	r, _ := s.reason.Load().(string)
	return r
}

func (s *Subscriber) drop(code int, reason string) {
	s.once.Do(func() {
		s.code.Store(int32(code))
		s.reason.Store(reason)
		close(s.done)
	})
}

// Stats are the hub's counters since it started.
type Stats struct {
	Subscribers int
	Delivered   uint64 // messages put in a queue
	Dropped     uint64 // subscribers dropped for a full queue
}

// Hub holds the subscribers.
type Hub struct {
	queue int

	mu     sync.Mutex
	subs   map[*Subscriber]struct{}
	byAddr map[string]int

	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// New makes a hub whose subscribers each queue up to queue messages (default 256: at ten
// changes a second, 25 s of slack; a screen further behind resumes cheaply with since).
func New(queue int) *Hub {
	if queue <= 0 {
		queue = 256
	}
	return &Hub{queue: queue, subs: map[*Subscriber]struct{}{}, byAddr: map[string]int{}}
}

// Subscribe adds a subscriber; every message published from now on reaches its queue.
func (h *Hub) Subscribe(m Meta) *Subscriber {
	c := make(chan *Message, h.queue)
	s := &Subscriber{Meta: m, C: c, c: c, done: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.byAddr[m.Addr]++
	h.mu.Unlock()
	return s
}

// Unsubscribe removes a subscriber; it is safe to call more than once.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	h.forgetLocked(s)
	h.mu.Unlock()
}

func (h *Hub) forgetLocked(s *Subscriber) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.byAddr[s.Meta.Addr]--; h.byAddr[s.Meta.Addr] <= 0 {
		delete(h.byAddr, s.Meta.Addr)
	}
}

// CountAddr is the number of subscribers from one address, in constant time: it is asked at
// every handshake.
func (h *Hub) CountAddr(addr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byAddr[addr]
}

// Publish puts msgs, in order, into every subscriber's queue without blocking. A subscriber
// without room for all of them is dropped with CodeSlowConsume and gets none, so a queue never
// holds a gap.
func (h *Hub) Publish(msgs ...*Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if cap(s.c)-len(s.c) < len(msgs) {
			h.removeLocked(s, CodeSlowConsume, "too slow: resume with since")
			continue
		}
		for _, m := range msgs {
			s.c <- m // cannot block: only Publish sends, under h.mu, and there is room
		}
		h.delivered.Add(uint64(len(msgs)))
	}
}

func (h *Hub) removeLocked(s *Subscriber, code int, reason string) {
	h.forgetLocked(s)
	if code == CodeSlowConsume {
		h.dropped.Add(1)
	}
	s.drop(code, reason)
}

// Drop disconnects every subscriber for which match returns true; it returns how many.
func (h *Hub) Drop(match func(Meta) bool, code int, reason string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.subs {
		if match(s.Meta) {
			h.removeLocked(s, code, reason)
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
	return Stats{Subscribers: h.Len(), Delivered: h.delivered.Load(), Dropped: h.dropped.Load()}
}
