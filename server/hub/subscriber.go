package hub

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
)

type state uint8

const (
	// backlogged: messages queue; whoever drains (the catch-up, or a writer goroutine
	// started when the socket was full) writes them, waiting for the socket.
	backlogged state = iota
	// live: the fan-out writes to the socket directly.
	live
	// closed: nothing more is written.
	closed
)

// ErrClosed is returned by Live when the subscriber was dropped or left meanwhile.
var ErrClosed = errors.New("hub: subscriber closed")

// Subscriber is one live screen.
type Subscriber struct {
	Meta   Meta
	h      *Hub
	idx    int // position in h.list, under h.fmu
	sink   Sink
	format Format

	mu       sync.Mutex
	seq      uint64 // the hub's sequence number of the next message to hand it
	state    state
	last     uint64     // the last revision written (or handed to the drain)
	queue    []*Message // while backlogged
	rest     []byte     // the end of a frame the socket took only in part
	restMsgs []*Message // the messages in that frame
	broken   bool       // a frame may have been cut: no close frame can follow
	draining chan struct{}

	done   chan struct{}
	once   sync.Once
	code   atomic.Int32
	reason atomic.Value
}

// Done is closed when the subscriber ends; Code then says why, if the hub dropped it.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Code is the close code the subscriber was dropped with (0 while it is live, or when it
// ended for another reason).
func (s *Subscriber) Code() int { return int(s.code.Load()) }

// Reason is the close reason text.
func (s *Subscriber) Reason() string {
	r, _ := s.reason.Load().(string)
	return r
}

// Broken reports whether a write was cut, so that the stream may end inside a frame.
func (s *Subscriber) Broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// Live makes a subscriber that has been sent everything up to revision last live: what was
// queued meanwhile and comes after last is written first, on the caller's goroutine.
func (s *Subscriber) Live(last uint64) error {
	s.mu.Lock()
	s.last = last
	s.mu.Unlock()
	return s.drain()
}

// Control sends a control frame (a pong, a close) in line with the messages.
func (s *Subscriber) Control(frame []byte) {
	s.deliver(newBatch([]*Message{{frame: frame, control: true}}))
}

// visit hands s what it has not had of log, which holds the messages from sequence number
// base to head, at most maxFrameMessages of them; it returns the sequence number s is at
// after (math.MaxUint64 once it is closed: it holds nothing back). A writer calls it.
func (s *Subscriber) visit(log []*Message, base, head uint64, c *frameCache) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == closed {
		return math.MaxUint64
	}
	from := s.seq
	if from >= head {
		return from
	}
	if from < base { // cannot happen: the log keeps what anyone has not had
		s.dropLocked(CodeSlowConsume, "resume with since")
		return math.MaxUint64
	}
	b := c.batch(log, base, from, head)
	s.seq = from + uint64(len(b.msgs))
	s.deliverLocked(b)
	if s.state == closed {
		return math.MaxUint64
	}
	return s.seq
}

// deliver writes b to a live subscriber's socket, or queues it for a backlogged one.
func (s *Subscriber) deliver(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliverLocked(b)
}

func (s *Subscriber) deliverLocked(b *batch) {
	switch s.state {
	case closed:
		return
	case backlogged:
		if len(s.queue)+len(b.msgs) > s.h.opt.Queue {
			s.dropLocked(CodeSlowConsume, "too slow: resume with since")
			return
		}
		s.queue = append(s.queue, b.msgs...)
		return
	}
	var frame []byte
	msgs := b.msgs
	if b.first == 0 || (b.inLine && b.first == s.last+1) {
		frame = b.shared(s.format)
		if b.last != 0 {
			s.last = b.last
		}
	} else {
		// Out of line with this screen: it went live after a catch-up past some of these.
		var ok bool
		if msgs, ok = s.nextLocked(msgs); !ok {
			s.dropLocked(CodeSlowConsume, "resume with since")
			return
		}
		if len(msgs) == 0 {
			return
		}
		frame = appendFrames(nil, msgs, s.format)
	}
	n, err := s.sink.TryWrite(frame)
	if err != nil {
		s.failLocked()
		return
	}
	if n == len(frame) {
		s.delivered(msgs)
		return
	}
	s.rest, s.restMsgs = frame[n:], msgs
	s.state = backlogged
	s.h.backlogs.Add(1)
	d := make(chan struct{})
	s.draining = d
	go func() {
		defer close(d)
		_ = s.drain()
	}()
}

// nextLocked returns the messages of msgs the screen has not had, advancing s.last; false
// if a change is missing before them.
func (s *Subscriber) nextLocked(msgs []*Message) ([]*Message, bool) {
	var out []*Message
	for _, m := range msgs {
		if m.Rev != 0 {
			if m.Rev <= s.last {
				continue
			}
			if m.Rev != s.last+1 {
				return nil, false
			}
			s.last = m.Rev
		}
		out = append(out, m)
	}
	return out, true
}

// drain writes what is queued, waiting for the socket, until nothing is; the subscriber is
// then live.
func (s *Subscriber) drain() error {
	var buf []byte
	for {
		s.mu.Lock()
		if s.state == closed {
			s.mu.Unlock()
			return ErrClosed
		}
		rest, restMsgs, queue := s.rest, s.restMsgs, s.queue
		s.rest, s.restMsgs, s.queue = nil, nil, nil
		if rest == nil && len(queue) == 0 {
			s.state = live
			s.draining = nil
			s.mu.Unlock()
			return nil
		}
		msgs, ok := s.nextLocked(queue)
		if !ok {
			s.dropLocked(CodeSlowConsume, "resume with since")
			s.mu.Unlock()
			return ErrClosed
		}
		s.mu.Unlock()
		buf = appendFrames(buf[:0], msgs, s.format)
		if err := s.sink.Write(rest, buf); err != nil {
			s.mu.Lock()
			s.failLocked()
			s.mu.Unlock()
			return err
		}
		s.delivered(restMsgs)
		s.delivered(msgs)
	}
}

func (s *Subscriber) delivered(msgs []*Message) {
	n := 0
	for _, m := range msgs {
		if m.control {
			continue
		}
		n++
		if s.h.opt.Delivered != nil {
			s.h.opt.Delivered(m.At)
		}
	}
	s.h.delivered.Add(uint64(n))
}

// dropLocked ends the subscriber with a close code and wakes its reader.
func (s *Subscriber) dropLocked(code int, reason string) {
	if s.state == closed {
		return
	}
	s.once.Do(func() {
		s.code.Store(int32(code))
		s.reason.Store(reason)
		close(s.done)
	})
	if code == CodeSlowConsume {
		s.h.dropped.Add(1)
	}
	s.state = closed
	s.queue, s.rest, s.restMsgs = nil, nil, nil
	s.sink.Wake()
}

// failLocked ends the subscriber after a failed write.
func (s *Subscriber) failLocked() {
	if s.state == closed {
		return
	}
	s.broken = true
	s.closeLocked()
	if s.h.opt.WriteFailed != nil {
		s.h.opt.WriteFailed()
	}
	s.sink.Wake()
}

func (s *Subscriber) closeLocked() {
	s.once.Do(func() { close(s.done) })
	s.state = closed
	s.queue, s.rest, s.restMsgs = nil, nil, nil
}
