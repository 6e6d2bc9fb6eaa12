package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// fleet is N websocket clients, each one connection and one reader goroutine, reading into a
// small stack buffer and discarding the rest of every message.
type fleet struct {
	wsURL  string // ws://host:port/ws?token=…
	origin string
	// dialers, one per loopback source address, so no address runs out of ports or reaches the
	// server's per-address cap.
	dialers []*websocket.Dialer
	perAddr int
	clients []*client

	rec atomic.Pointer[recorder]

	// reconnect makes clients that lose their connection dial again with since and epoch.
	reconnect       atomic.Bool
	backoff, capOff time.Duration
	closing         atomic.Bool

	// paused stops the slow clients from reading until resume is closed (once per fleet).
	paused     atomic.Bool
	resume     chan struct{}
	resumeOnce sync.Once

	// Sizes seen by the first client, to size the baselines' messages like ours: the change
	// messages' mean (each carries its project, and projects differ) and the last snapshot.
	changeBytes, changeCount, snapshotBytes atomic.Int64
	// kept, if not nil, gets every change message the first client reads, by revision, and
	// keptSnapshot its last snapshot (payloads takes ours' with it).
	keptMu       sync.Mutex
	kept         map[uint64][]byte
	keptSnapshot []byte

	// pings is when the first client was pinged (ours pings every screen every 25 s, which
	// the baselines do not).
	pingMu sync.Mutex
	pings  []time.Time

	// storm bookkeeping
	stormGen     atomic.Int64 // bumped at the start of a storm
	resumed      atomic.Int64 // clients that got hello in the current storm generation
	epochChanged atomic.Int64
	resumedAll   chan struct{}
	dialFails    atomic.Int64
	wg           sync.WaitGroup
}

type client struct {
	idx  int
	f    *fleet
	slow bool

	mu      sync.Mutex // guards conn for Close from another goroutine
	conn    *websocket.Conn
	lastRev atomic.Uint64
	epoch   atomic.Pointer[string]

	connected chan struct{} // closed after the first hello and snapshot
	gone      chan struct{} // closed when the reader returns
	gen       int64         // storm generation of the last hello (reader goroutine only)
	helloAt   atomic.Int64  // unix nanos of the last hello
	snapshots atomic.Int64
	hellos    atomic.Int64
	dead      atomic.Pointer[error]
}

// writePool shares write buffers: clients write only control frames.
type writePool struct{ p sync.Pool }

func (w *writePool) Get() any  { return w.p.Get() }
func (w *writePool) Put(v any) { w.p.Put(v) }

func newFleet(base, token string, n, perAddr int, slowPercent float64, batch, deflate bool) (*fleet, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	wsURL := "ws://" + u.Host + "/ws?token=" + url.QueryEscape(token)
	if batch {
		wsURL += "&batch=1"
	}
	f := &fleet{wsURL: wsURL, origin: base, perAddr: perAddr,
		backoff: 50 * time.Millisecond, capOff: 500 * time.Millisecond, resume: make(chan struct{})}
	addrs := (n + perAddr - 1) / perAddr
	if addrs > 250 {
		return nil, fmt.Errorf("%d clients need %d source addresses; raise --per-addr", n, addrs)
	}
	pool := &writePool{}
	for i := 0; i < addrs; i++ {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
		nd := &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
		f.dialers = append(f.dialers, &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: 20 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  256,
			WriteBufferPool:  pool,
			// As browsers do; the bare baseline does not negotiate it.
			EnableCompression: deflate,
		})
	}
	slowN := min(int(float64(n)*slowPercent/100+0.5), n)
	for i := 0; i < n; i++ {
		c := &client{idx: i, f: f, connected: make(chan struct{}), gone: make(chan struct{})}
		// Spread the slow ones evenly over the clients (and so over source addresses).
		if slowN > 0 && i%(n/slowN) == 0 && i/(n/slowN) < slowN {
			c.slow = true
		}
		f.clients = append(f.clients, c)
	}
	return f, nil
}

func (f *fleet) slowCount() int {
	n := 0
	for _, c := range f.clients {
		if c.slow {
			n++
		}
	}
	return n
}

func (c *client) url() string {
	u := c.f.wsURL
	if e := c.epoch.Load(); e != nil {
		u += "&since=" + strconv.FormatUint(c.lastRev.Load(), 10) + "&epoch=" + url.QueryEscape(*e)
	}
	return u
}

func (c *client) dial(ctx context.Context) error {
	d := c.f.dialers[c.idx/c.f.perAddr]
	h := http.Header{"Origin": {c.f.origin}}
	conn, resp, err := d.DialContext(ctx, c.url(), h)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return fmt.Errorf("dial: %w", err)
	}
	if c.idx == 0 {
		conn.SetPingHandler(func(data string) error {
			c.f.pingMu.Lock()
			c.f.pings = append(c.f.pings, time.Now())
			c.f.pingMu.Unlock()
			// As the library's own handler: a best effort.
			_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			return nil
		})
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	return nil
}

// pingsBetween are the first client's pings from t0 to t1, as offsets from t0.
func (f *fleet) pingsBetween(t0, t1 time.Time) []time.Duration {
	f.pingMu.Lock()
	defer f.pingMu.Unlock()
	var out []time.Duration
	for _, t := range f.pings {
		if !t.Before(t0) && !t.After(t1) {
			out = append(out, t.Sub(t0))
		}
	}
	return out
}

// connect dials the clients with conc dials in flight and waits until each has read its
// hello and snapshot.
func (f *fleet) connect(ctx context.Context, conc int, clients []*client) error {
	sem := make(chan struct{}, conc)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for _, c := range clients {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			var err error
			for attempt := 0; attempt < 5; attempt++ {
				if err = c.dial(ctx); err == nil {
					break
				}
				time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
			}
			if err != nil {
				select {
				case errc <- fmt.Errorf("client %d: %w", c.idx, err):
				default:
				}
				<-sem
				return
			}
			f.wg.Add(1)
			go c.read()
			select {
			case <-c.connected:
			case <-c.gone:
				if e := c.dead.Load(); e != nil {
					select {
					case errc <- fmt.Errorf("client %d: %w", c.idx, *e):
					default:
					}
				}
			case <-ctx.Done():
			}
			<-sem
		}(c)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	return ctx.Err()
}

// read is the client's only goroutine.
func (c *client) read() {
	defer c.f.wg.Done()
	defer close(c.gone)
	var head [96]byte
	for {
		if c.slow && c.f.paused.Load() {
			<-c.f.resume
		}
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		_, r, err := conn.NextReader()
		if err != nil {
			if c.f.closing.Load() || !c.f.reconnect.Load() {
				c.dead.Store(&err)
				return
			}
			if !c.redial() {
				return
			}
			continue
		}
		n, _ := io.ReadFull(r, head[:])
		now := time.Now()
		if n > 0 && head[0] == '[' { // a batch of changes (batch=1)
			c.readBatch(head[:n], r, now)
			continue
		}
		typ, rev := feedwire.Head(head[:n])
		switch typ {
		case feedwire.TypeChange:
			var rest int64
			if c.idx == 0 && c.f.keeping() {
				b := readRest(head[:n], r)
				rest = int64(len(b) - n)
				c.f.keptMu.Lock()
				c.f.kept[rev] = b
				c.f.keptMu.Unlock()
			} else {
				rest, _ = io.Copy(io.Discard, r)
			}
			if c.idx == 0 {
				c.f.changeBytes.Add(int64(n) + rest)
				c.f.changeCount.Add(1)
			}
			c.lastRev.Store(rev)
			if rec := c.f.rec.Load(); rec != nil {
				rec.deliver(rev, c.idx, now)
			}
		case feedwire.TypeHello:
			var buf bytes.Buffer
			buf.Write(head[:n])
			_, _ = io.Copy(&buf, io.LimitReader(r, 64<<10))
			var h feedwire.Hello
			if err := json.Unmarshal(buf.Bytes(), &h); err != nil {
				e := fmt.Errorf("bad hello: %w", err)
				c.dead.Store(&e)
				return
			}
			prev := c.epoch.Load()
			c.epoch.Store(&h.Epoch)
			c.hellos.Add(1)
			c.helloAt.Store(now.UnixNano())
			if g := c.f.stormGen.Load(); g != c.gen {
				c.gen = g
				if prev != nil && *prev != h.Epoch {
					c.f.epochChanged.Add(1)
				}
				if c.f.resumed.Add(1) == int64(len(c.f.clients)) {
					close(c.f.resumedAll)
				}
			}
			// A first connect gets a snapshot next; a resume gets the changes it missed.
			if prev == nil {
				c.lastRev.Store(h.Rev)
			}
		case feedwire.TypeSnapshot:
			var rest int64
			if c.idx == 0 && c.f.keeping() {
				b := readRest(head[:n], r)
				rest = int64(len(b) - n)
				c.f.keptMu.Lock()
				c.f.keptSnapshot = b
				c.f.keptMu.Unlock()
			} else {
				rest, _ = io.Copy(io.Discard, r)
			}
			if c.idx == 0 {
				c.f.snapshotBytes.Store(int64(n) + rest)
			}
			c.snapshots.Add(1)
			c.lastRev.Store(rev)
			c.markConnected()
		default:
			_, _ = io.Copy(io.Discard, r)
		}
	}
}

func (f *fleet) keeping() bool {
	f.keptMu.Lock()
	defer f.keptMu.Unlock()
	return f.kept != nil
}

// readRest is head and the rest of the message r.
func readRest(head []byte, r io.Reader) []byte {
	var buf bytes.Buffer
	buf.Write(head)
	_, _ = io.Copy(&buf, r)
	return buf.Bytes()
}

// frameBufs holds the buffers batched frames are read into; only frames being read hold one.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBatch records every change of a batched frame, which the server writes as
// [{"type":"change","rev":N,…},{"type":"change","rev":N+1,…}].
func (c *client) readBatch(head []byte, r io.Reader, now time.Time) {
	buf := frameBufs.Get().(*bytes.Buffer)
	defer frameBufs.Put(buf)
	buf.Reset()
	buf.Write(head)
	_, _ = io.Copy(buf, r)
	b := buf.Bytes()
	rec := c.f.rec.Load()
	var n int64
	for rev, rest, ok := feedwire.NextChange(b); ok; rev, rest, ok = feedwire.NextChange(rest) {
		n++
		c.lastRev.Store(rev)
		if rec != nil {
			rec.deliver(rev, c.idx, now)
		}
	}
	if c.idx == 0 && n > 0 {
		// The array's brackets and commas aside, its messages' sizes.
		c.f.changeBytes.Add(int64(len(b)) - 2 - (n - 1))
		c.f.changeCount.Add(n)
	}
}

func (c *client) markConnected() {
	select {
	case <-c.connected:
	default:
		close(c.connected)
	}
}

// redial reconnects with full-jitter exponential backoff; the first attempt is immediate
// (close code 1001 means "reconnect at once").
func (c *client) redial() bool {
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	backoff := c.f.backoff
	for attempt := 0; ; attempt++ {
		if c.f.closing.Load() {
			return false
		}
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(backoff)) + 1))
			backoff = min(backoff*2, c.f.capOff)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.dial(ctx)
		cancel()
		if err == nil {
			return true
		}
		c.f.dialFails.Add(1)
	}
}

// meanChangeBytes is the mean size of the change messages the first client read.
func (f *fleet) meanChangeBytes() int64 {
	if n := f.changeCount.Load(); n > 0 {
		return f.changeBytes.Load() / n
	}
	return 0
}

// close ends every client and waits for the readers.
func (f *fleet) close() {
	f.closing.Store(true)
	if f.paused.Load() {
		f.unpause()
	}
	for _, c := range f.clients {
		c.mu.Lock()
		if c.conn != nil {
			c.conn.Close()
		}
		c.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

func (f *fleet) pause() { f.paused.Store(true) }

func (f *fleet) unpause() {
	f.paused.Store(false)
	f.resumeOnce.Do(func() { close(f.resume) })
}

// deadCount is how many clients lost their connection for good.
func (f *fleet) deadCount() (int, error) {
	n := 0
	var first error
	for _, c := range f.clients {
		if e := c.dead.Load(); e != nil {
			n++
			if first == nil {
				first = *e
			}
		}
	}
	return n, first
}

// recorder holds, for one phase, when each client read each revision.
type recorder struct {
	base   uint64 // revision before the phase; row 0 is base+1
	t0     time.Time
	rows   [][]int64 // [rev-base-1][client] nanoseconds since t0, 0 = not read
	counts []atomic.Int32
	done   []chan struct{}
	want   int32
	mask   []bool // clients that count towards want; nil = all
	stray  atomic.Int64
}

func newRecorder(base uint64, revs, clients int, mask []bool) *recorder {
	want := clients
	if mask != nil {
		want = 0
		for _, m := range mask {
			if m {
				want++
			}
		}
	}
	r := &recorder{base: base, t0: time.Now(), rows: make([][]int64, revs), counts: make([]atomic.Int32, revs),
		done: make([]chan struct{}, revs), want: int32(want), mask: mask}
	for i := range r.rows {
		r.rows[i] = make([]int64, clients)
		r.done[i] = make(chan struct{})
	}
	return r
}

func (r *recorder) deliver(rev uint64, idx int, now time.Time) {
	if rev <= r.base || rev > r.base+uint64(len(r.rows)) {
		r.stray.Add(1)
		return
	}
	i := rev - r.base - 1
	if r.rows[i][idx] != 0 {
		return // a replay after a reconnect
	}
	r.rows[i][idx] = int64(now.Sub(r.t0)) | 1
	if r.mask != nil && !r.mask[idx] {
		return
	}
	if r.counts[i].Add(1) == r.want {
		close(r.done[i])
	}
}

// wait blocks until every wanted client read rev, or the timeout.
func (r *recorder) wait(rev uint64, timeout time.Duration) error {
	if rev <= r.base || rev > r.base+uint64(len(r.rows)) {
		return fmt.Errorf("rev %d outside the recorded range", rev)
	}
	i := rev - r.base - 1
	select {
	case <-r.done[i]:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("rev %d: %d of %d clients after %s: %w", rev, r.counts[i].Load(), r.want, timeout, errMissing)
	}
}

var errMissing = errors.New("deliveries missing")
