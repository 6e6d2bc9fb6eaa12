package hub

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func msg(rev uint64) *Message { return &Message{Rev: rev, Data: []byte(fmt.Sprint(rev))} }

// sink is a socket in memory. TryWrite takes at most room bytes in all (room < 0: any);
// Write waits while gate is set, until it is opened or the sink aborted.
type sink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	room    int
	gate    chan struct{}
	aborted chan struct{}
	woken   atomic.Bool
	writes  atomic.Int32 // Write calls, i.e. writes that had to wait
	parsed  []frame      // the frames parsed so far, from buf[:off]
	off     int
}

func newSink() *sink { return &sink{room: -1, aborted: make(chan struct{})} }

func (k *sink) TryWrite(b []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := len(b)
	if k.room >= 0 {
		n = min(n, k.room)
		k.room -= n
	}
	k.buf.Write(b[:n])
	return n, nil
}

func (k *sink) Write(bufs ...[]byte) error {
	k.writes.Add(1)
	k.mu.Lock()
	gate := k.gate
	k.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-k.aborted:
			return errors.New("aborted")
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, b := range bufs {
		k.buf.Write(b)
	}
	return nil
}

func (k *sink) Wake()  { k.woken.Store(true) }
func (k *sink) Abort() { close(k.aborted) }

type frame struct {
	op      byte
	payload string
}

// frames parses what was written; it fails the test on a malformed frame, and on a cut one
// unless a write is under way.
func (k *sink) frames(t *testing.T) []frame {
	t.Helper()
	f, cut := k.parse(t)
	if cut {
		t.Fatal("the stream ends inside a frame")
	}
	return f
}

// inflate undoes permessage-deflate (RFC 7692 §7.2.2: append the tail the sender removed).
func inflate(t *testing.T, c []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(c), bytes.NewReader(deflateTail)))
	out, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func (k *sink) parse(t *testing.T) (out []frame, cut bool) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	// What was parsed stays parsed (the buffer only grows): polling stays cheap.
	b := k.buf.Bytes()[k.off:]
	for len(b) > 0 {
		if len(b) < 2 {
			return k.parsed, true
		}
		if b[0]&finBit == 0 || b[1]&0x80 != 0 {
			t.Fatalf("malformed frame at %q", b)
		}
		op, n, h := b[0]&0xF, int(b[1]), 2
		switch {
		case n == 126 && len(b) >= 4:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case n == 127 && len(b) >= 10:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		case n >= 126:
			return k.parsed, true
		}
		if len(b) < h+n {
			return k.parsed, true
		}
		payload := b[h : h+n]
		if b[0]&rsv1Bit != 0 {
			if op != opText {
				t.Fatalf("compressed frame of opcode %d", op)
			}
			payload = inflate(t, payload)
		}
		k.parsed = append(k.parsed, frame{op, string(payload)})
		k.off += h + n
		b = b[h+n:]
	}
	return k.parsed, false
}

// revs are the revisions of the text frames' messages, arrays unpacked.
func (k *sink) revs(t *testing.T) []uint64 {
	t.Helper()
	var out []uint64
	frames, _ := k.parse(t) // a frame still being written counts once it is whole
	for _, f := range frames {
		if f.op != opText {
			continue
		}
		var list []uint64
		if err := json.Unmarshal([]byte(f.payload), &list); err != nil {
			var one uint64
			if err := json.Unmarshal([]byte(f.payload), &one); err != nil {
				t.Fatalf("frame %q: %v", f.payload, err)
			}
			list = []uint64{one}
		}
		out = append(out, list...)
	}
	return out
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func wantRevs(t *testing.T, k *sink, from, to uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("revisions %d..%d", from, to), func() bool { return len(k.revs(t)) >= int(to-from+1) })
	got := k.revs(t)
	for i, r := range got {
		if r != from+uint64(i) {
			t.Fatalf("got revisions %v, want %d..%d", got, from, to)
		}
	}
	if len(got) != int(to-from+1) {
		t.Fatalf("got revisions %v, want %d..%d", got, from, to)
	}
	k.frames(t) // and nothing after them cut
}

func TestOrderAndFanOut(t *testing.T) {
	h := New(Options{Queue: 100, Writers: 3})
	defer h.Close()
	var sinks []*sink
	for range 10 {
		k := newSink()
		if err := h.Subscribe(Meta{}, k, 0).Live(0); err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, k)
	}
	for r := uint64(1); r <= 50; r++ {
		h.Publish(msg(r))
	}
	for _, k := range sinks {
		wantRevs(t, k, 1, 50)
		if k.writes.Load() != 0 {
			t.Fatalf("%d writes waited on a socket with room", k.writes.Load())
		}
	}
	eventually(t, "the delivery count", func() bool { return h.Stats().Delivered == 500 })
}

func TestCatchUpThenLive(t *testing.T) {
	h := New(Options{Queue: 100})
	defer h.Close()
	plain, batching := newSink(), newSink()
	a, b := h.Subscribe(Meta{}, plain, 0), h.Subscribe(Meta{}, batching, Batches)
	h.Publish(msg(1), msg(2), msg(3), msg(4), msg(5))
	// The catch-up sent up to 3: what is queued after it follows, then the live feed.
	eventually(t, "the queue", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.queue) == 5 })
	eventually(t, "the queue", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 5 })
	for _, s := range []*Subscriber{a, b} {
		if err := s.Live(3); err != nil {
			t.Fatal(err)
		}
	}
	if f := batching.frames(t); len(f) != 1 || f[0].payload != "[4,5]" {
		t.Fatalf("batching screen got frames %v, want one holding [4,5]", f)
	}
	if f := plain.frames(t); len(f) != 2 {
		t.Fatalf("plain screen got frames %v, want two", f)
	}
	h.Publish(msg(6))
	wantRevs(t, plain, 4, 6)
	wantRevs(t, batching, 4, 6)
}

func TestLiveSkipsWhatTheCatchUpSent(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	k := newSink()
	s := h.Subscribe(Meta{}, k, 0)
	if err := s.Live(7); err != nil { // the catch-up went to 7; 5..7 are still on their way
		t.Fatal(err)
	}
	h.Publish(msg(5), msg(6), msg(7), msg(8))
	h.Publish(msg(9))
	wantRevs(t, k, 8, 9)
}

func TestFullSocketDrainsInOrder(t *testing.T) {
	h := New(Options{Queue: 100})
	defer h.Close()
	k := newSink()
	k.room = 10 // the socket takes ten bytes, then waits
	s := h.Subscribe(Meta{}, k, Batches)
	if err := s.Live(0); err != nil {
		t.Fatal(err)
	}
	for r := uint64(1); r <= 40; r++ {
		h.Publish(&Message{Rev: r, Data: []byte(fmt.Sprintf("%d%s", r, bytes.Repeat([]byte(" "), 200)))})
	}
	wantRevs(t, k, 1, 40)
	if k.writes.Load() == 0 {
		t.Fatal("nothing waited on the full socket")
	}
	eventually(t, "the screen to be live again", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.state == live })
	h.Unsubscribe(s)
	if s.Broken() {
		t.Fatal("a screen whose writer had finished is marked broken")
	}
}

func TestSlowSubscriberDroppedOthersUnaffected(t *testing.T) {
	h := New(Options{Queue: 4, Writers: 1})
	defer h.Close()
	slowSink, fastSink := newSink(), newSink()
	slowSink.room, slowSink.gate = 0, make(chan struct{})
	slow, fast := h.Subscribe(Meta{}, slowSink, 0), h.Subscribe(Meta{}, fastSink, 0)
	for _, s := range []*Subscriber{slow, fast} {
		if err := s.Live(0); err != nil {
			t.Fatal(err)
		}
	}
	for r := uint64(1); r <= 10; r++ {
		h.Publish(msg(r))
		wantRevs(t, fastSink, 1, r) // one at a time, so that the slow one's queue fills
	}
	eventually(t, "the slow screen's drop", func() bool { return slow.Code() != 0 })
	if slow.Code() != CodeSlowConsume || !slowSink.woken.Load() {
		t.Fatalf("got close code %d (woken %v), want %d and its reader woken", slow.Code(), slowSink.woken.Load(), CodeSlowConsume)
	}
	done := make(chan struct{})
	go func() { h.Unsubscribe(slow); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Unsubscribe did not stop the waiting writer")
	}
	if !slow.Broken() {
		t.Fatal("a screen whose writer was stopped is not marked broken")
	}
	if st := h.Stats(); st.Subscribers != 1 || st.Dropped != 1 {
		t.Fatalf("got stats %+v, want 1 subscriber and 1 drop", st)
	}
}

func TestBatchNeverSplit(t *testing.T) {
	h := New(Options{Queue: 3})
	defer h.Close()
	k := newSink()
	s := h.Subscribe(Meta{}, k, 0) // backlogged: its catch-up is still being written
	h.Publish(msg(1), msg(2))
	h.Publish(msg(3), msg(4)) // only one place left: dropped, queues neither
	eventually(t, "the drop", func() bool { return s.Code() != 0 })
	if s.Code() != CodeSlowConsume {
		t.Fatalf("got code %d, want %d", s.Code(), CodeSlowConsume)
	}
	if err := s.Live(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Live after the drop: got %v, want ErrClosed", err)
	}
	if len(k.frames(t)) != 0 {
		t.Fatal("a dropped screen was written to")
	}
}

func TestGapDrops(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	k := newSink()
	s := h.Subscribe(Meta{}, k, 0)
	if err := s.Live(0); err != nil {
		t.Fatal(err)
	}
	h.Publish(msg(2))
	eventually(t, "the drop", func() bool { return s.Code() != 0 })
	if s.Code() != CodeSlowConsume || s.Reason() != "resume with since" {
		t.Fatalf("got %d %q, want %d", s.Code(), s.Reason(), CodeSlowConsume)
	}
}

func TestPingsAndControlFrames(t *testing.T) {
	h := New(Options{PingInterval: 5 * time.Millisecond})
	defer h.Close()
	k := newSink()
	s := h.Subscribe(Meta{}, k, Batches)
	if err := s.Live(0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a ping", func() bool { f := k.frames(t); return len(f) > 0 && f[0].op == opPing })
	s.Control(PongFrame([]byte("x")))
	s.Control(CloseFrame(1000, "bye"))
	eventually(t, "the pong and the close", func() bool {
		var pong, closing bool
		for _, f := range k.frames(t) {
			pong = pong || (f.op == opPong && f.payload == "x")
			closing = closing || (f.op == opClose && f.payload == "\x03\xe8bye")
		}
		return pong && closing
	})
}

func TestDropByMeta(t *testing.T) {
	h := New(Options{Queue: 4})
	defer h.Close()
	ka, kb := newSink(), newSink()
	a := h.Subscribe(Meta{TokenID: "t1", Addr: "10.0.0.1"}, ka, 0)
	b := h.Subscribe(Meta{TokenID: "t2", Addr: "10.0.0.1"}, kb, 0)
	if n := h.CountAddr("10.0.0.1"); n != 2 {
		t.Fatalf("CountAddr: got %d, want 2", n)
	}
	if n := h.Drop(func(m Meta) bool { return m.TokenID == "t1" }, CodeRevoked, "revoked"); n != 1 {
		t.Fatalf("dropped %d, want 1", n)
	}
	if a.Code() != CodeRevoked || b.Code() != 0 || !ka.woken.Load() || kb.woken.Load() {
		t.Fatalf("got codes %d and %d, want %d and 0, and only the first woken", a.Code(), b.Code(), CodeRevoked)
	}
	h.Unsubscribe(a) // already gone: harmless
	if n := h.CountAddr("10.0.0.1"); n != 1 {
		t.Fatalf("CountAddr after a drop and a repeated unsubscribe: got %d, want 1", n)
	}
	h.Unsubscribe(b)
	if h.Len() != 0 {
		t.Fatalf("got %d subscribers, want 0", h.Len())
	}
}

func TestFrameHeaders(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		k := newSink()
		k.buf.Write(textFrame(bytes.Repeat([]byte("a"), n)))
		if f := k.frames(t); len(f) != 1 || len(f[0].payload) != n || f[0].op != opText {
			t.Fatalf("%d bytes: parsed %d frames", n, len(f))
		}
	}
}

// Messages published while a pass is under way reach the subscribers the pass already
// visited in the next pass, and the hub lets messages go only when everyone had them.
func TestPublishDuringPasses(t *testing.T) {
	h := New(Options{Queue: 1000, Writers: 1})
	defer h.Close()
	var sinks []*sink
	for i := range 500 {
		k := newSink()
		if err := h.Subscribe(Meta{}, k, Format(i%4)).Live(0); err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, k)
	}
	for r := uint64(1); r <= 300; r++ {
		h.Publish(msg(r))
		if r%7 == 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for _, k := range sinks {
		wantRevs(t, k, 1, 300)
	}
	eventually(t, "the hub to let the messages go", func() bool {
		h.fmu.Lock()
		defer h.fmu.Unlock()
		return len(h.log) == 0 && h.base == 300 && !h.running
	})
}

func TestFramedMessage(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		buf := append(make([]byte, FrameRoom), bytes.Repeat([]byte("a"), n)...)
		m := FramedMessage(1, time.Time{}, buf)
		if !bytes.Equal(m.frame, textFrame(m.Data)) || len(m.Data) != n {
			t.Fatalf("%d bytes: the frame differs from framing a copy", n)
		}
	}
}

// flakySink takes a random part of each TryWrite, sometimes none, and waits a little in
// some Writes: every path of the hub at once.
type flakySink struct {
	*sink
	rng *rand.Rand
}

func (k *flakySink) TryWrite(b []byte) (int, error) {
	k.mu.Lock()
	n := 0
	switch k.rng.IntN(4) {
	case 0: // full socket
	case 1:
		n = k.rng.IntN(len(b) + 1)
	default:
		n = len(b)
	}
	k.buf.Write(b[:n])
	k.mu.Unlock()
	return n, nil
}

func (k *flakySink) Write(bufs ...[]byte) error {
	k.mu.Lock()
	d := time.Duration(k.rng.IntN(3)) * 100 * time.Microsecond
	k.mu.Unlock()
	time.Sleep(d)
	return k.sink.Write(bufs...)
}

// TestStress publishes 1,500 changes in batches of random size to screens that join along
// the way, have sockets that take random parts of each write, take all four formats (batched
// or not, compressed or not) and are dropped at random; with the race detector on in make
// test. Every screen still there at the end has every change after its catch-up, once, in
// order, in whole frames; a dropped one a prefix.
func TestStress(t *testing.T) {
	h := New(Options{Queue: 1 << 14, Writers: 2, PingInterval: time.Millisecond})
	defer h.Close()
	type screen struct {
		k     *flakySink
		s     *Subscriber
		start uint64
	}
	var (
		mu      sync.Mutex
		screens []*screen
		rev     atomic.Uint64
	)
	join := func(seed uint64) {
		k := &flakySink{sink: newSink(), rng: rand.New(rand.NewPCG(seed, 1))}
		s := h.Subscribe(Meta{Username: fmt.Sprint(seed)}, k, Format(seed%4))
		start := rev.Load() // a catch-up would send up to here
		if err := s.Live(start); err != nil {
			t.Error(err)
		}
		mu.Lock()
		screens = append(screens, &screen{k, s, start})
		mu.Unlock()
	}
	for i := range 20 {
		join(uint64(i))
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var joins sync.WaitGroup
	for rev.Load() < 1500 {
		n := 1 + rng.IntN(5)
		var msgs []*Message
		for range n {
			msgs = append(msgs, msg(rev.Load()+uint64(len(msgs))+1))
		}
		h.Publish(msgs...)
		rev.Add(uint64(n))
		switch rng.IntN(50) {
		case 0:
			joins.Add(1)
			// Named apart from the first 20, the only ones dropped: a drop between a late
			// joiner's Subscribe and Live would fail its Live.
			go func(seed uint64) { defer joins.Done(); join(seed) }(1000 + rev.Load())
		case 1:
			victim := fmt.Sprint(rng.IntN(20))
			h.Drop(func(m Meta) bool { return m.Username == victim }, CodeRevoked, "stress")
		}
		if rng.IntN(10) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	joins.Wait()
	last := rev.Load()
	mu.Lock()
	defer mu.Unlock()
	live := 0
	for _, sc := range screens {
		if sc.s.Code() != 0 {
			h.Unsubscribe(sc.s) // stops its writer
			got := sc.k.revs(t)
			for i, r := range got {
				if r != sc.start+uint64(i)+1 {
					t.Fatalf("dropped screen: revision %d at %d, want %d", r, i, sc.start+uint64(i)+1)
				}
			}
			continue
		}
		live++
		for end := time.Now().Add(60 * time.Second); len(sc.k.revs(t)) < int(last-sc.start); {
			if time.Now().After(end) {
				got := sc.k.revs(t)
				sc.s.mu.Lock()
				st, q, rest := sc.s.state, len(sc.s.queue), len(sc.s.rest)
				sc.s.mu.Unlock()
				t.Fatalf("format %d start %d: %d of %d changes, last %v; state %d queue %d rest %d", sc.s.format, sc.start, len(got), last-sc.start, got[max(0, len(got)-3):], st, q, rest)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if live == 0 {
		t.Fatal("no screen stayed")
	}
	h.Close() // no more pings: what a writer has left of a frame is then finished
	for _, sc := range screens {
		if sc.s.Code() == 0 {
			eventually(t, "whole frames", func() bool { _, cut := sc.k.parse(t); return !cut })
			wantRevs(t, sc.k.sink, sc.start+1, last)
		}
	}
	t.Logf("%d screens, %d stayed, %d backlogs", len(screens), live, h.Stats().Backlogs)
}

// Screens that negotiated compression get the same messages in compressed frames, each
// message compressed once for all of them; arrays and single frames alike.
func TestDeflatedFrames(t *testing.T) {
	h := New(Options{Queue: 100})
	defer h.Close()
	big := func(rev uint64) *Message {
		return &Message{Rev: rev, Data: []byte(fmt.Sprintf("%d%s", rev, strings.Repeat(" ", 3000)))}
	}
	var sinks []*sink
	var subs []*Subscriber
	for f := range Format(4) {
		k := newSink()
		subs = append(subs, h.Subscribe(Meta{}, k, f))
		sinks = append(sinks, k)
	}
	h.Publish(big(1), big(2), big(3)) // queued: the catch-up drains them (arrays when batching)
	eventually(t, "the queues", func() bool {
		for _, s := range subs {
			s.mu.Lock()
			n := len(s.queue)
			s.mu.Unlock()
			if n != 3 {
				return false
			}
		}
		return true
	})
	for _, s := range subs {
		if err := s.Live(0); err != nil {
			t.Fatal(err)
		}
	}
	m := big(4)
	h.Publish(m) // live: the shared frame
	for f, k := range sinks {
		wantRevs(t, k, 1, 4)
		for _, fr := range k.frames(t) {
			if !strings.HasPrefix(fr.payload, "[") && !strings.HasSuffix(fr.payload, strings.Repeat(" ", 3000)) {
				t.Fatalf("format %d: payload %.40q… is not a message", f, fr.payload)
			}
		}
	}
	plain, deflated := sinks[0].buf.Len(), sinks[Deflate].buf.Len()
	if deflated*4 > plain {
		t.Fatalf("compressed %d bytes against %d plain", deflated, plain)
	}
	if &m.deflated()[0] != &m.deflated()[0] {
		t.Fatal("a message is compressed more than once")
	}
}

// heldSink is a socket whose first write the kernel holds up (the writer's thread waits in
// it) until release is closed.
type heldSink struct {
	*sink
	once    sync.Once
	release chan struct{}
}

func (k *heldSink) TryWrite(b []byte) (int, error) {
	k.once.Do(func() { <-k.release })
	return k.sink.TryWrite(b)
}

// A writer held up in a write holds up only the rest of its chunk: the other writers take the
// remaining chunks of the pass (with a screen each to a writer, the held-up writer's half
// would wait).
func TestHeldUpWriterHoldsUpOnlyItsChunk(t *testing.T) {
	h := New(Options{Writers: 2})
	defer h.Close()
	held := &heldSink{sink: newSink(), release: make(chan struct{})}
	if err := h.Subscribe(Meta{}, held, 0).Live(0); err != nil {
		t.Fatal(err)
	}
	const n = 500
	var sinks []*sink
	for range n {
		k := newSink()
		if err := h.Subscribe(Meta{}, k, 0).Live(0); err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, k)
	}
	h.Publish(msg(1))
	// The held-up screen is in the first chunk: the others of it wait, no one else does.
	eventually(t, "every screen outside the held-up chunk", func() bool {
		got := 0
		for _, k := range sinks {
			if len(k.revs(t)) == 1 {
				got++
			}
		}
		return got >= n-(chunk-1)
	})
	close(held.release)
	for _, k := range append(sinks, held.sink) {
		wantRevs(t, k, 1, 1)
	}
}

// orderSink notes, in a log shared by several sinks, its id at every write.
type orderSink struct {
	*sink
	id  int
	mu  *sync.Mutex
	log *[]int
}

func (k *orderSink) TryWrite(b []byte) (int, error) {
	k.mu.Lock()
	*k.log = append(*k.log, k.id)
	k.mu.Unlock()
	return k.sink.TryWrite(b)
}

func TestPassesBeginInDifferentPlaces(t *testing.T) {
	h := New(Options{Writers: 1})
	defer h.Close()
	const n = 100
	var mu sync.Mutex
	var order []int
	var sinks []*sink
	for i := range n {
		k := &orderSink{sink: newSink(), id: i, mu: &mu, log: &order}
		if err := h.Subscribe(Meta{}, k, 0).Live(0); err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, k.sink)
	}
	const passes = 10
	firsts, lasts := map[int]bool{}, map[int]bool{}
	for r := uint64(1); r <= passes; r++ {
		h.Publish(msg(r))
		for _, k := range sinks {
			wantRevs(t, k, 1, r)
		}
		mu.Lock()
		if len(order) != n {
			t.Fatalf("pass %d: got %d writes, want %d", r, len(order), n)
		}
		firsts[order[0]], lasts[order[n-1]] = true, true
		order = order[:0]
		mu.Unlock()
	}
	// Every pass begins and ends with other screens.
	if len(firsts) != passes || len(lasts) != passes {
		t.Errorf("got %d different first and %d different last screens in %d passes, want %d of each", len(firsts), len(lasts), passes, passes)
	}
}
