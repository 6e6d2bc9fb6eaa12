package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/scripts/internal/feedclient"
	"projectboard/server/feedwire"
)

// screenReadTimeout is how long a screen waits for any frame. The server pings every 25 s,
// so a quiet minute means the connection is dead.
const screenReadTimeout = 90 * time.Second

// screen is one wall screen that keeps its own state, as the web UI does (feedwire.State: a
// snapshot replaces, a change applies, a gap forces a resync without since). It keeps no
// summary: screens here decode without it.
type screen struct {
	id int

	mu       sync.Mutex
	conn     *websocket.Conn
	dropping bool // soak itself cut the current connection
	state    feedwire.State

	connects, snapshots, replays    int // connections; snapshots and resumed catch-ups received
	gaps, drops4008, cut, unplanned int // why connections ended
	dialErrors                      int
	faults                          []string // protocol errors: each fails the run
}

func newScreen(id int) *screen { return &screen{id: id, state: feedwire.State{IgnoreSummary: true}} }

// apply runs one message against the state; the caller holds s.mu.
func (s *screen) apply(m feedwire.Message) error {
	if err := s.state.Apply(m); err != nil {
		return err
	}
	if m.Type == feedwire.TypeSnapshot {
		s.snapshots++
	}
	return nil
}

// resync says whether err means the screen must resync: a revision gap, or a patch of
// another version than the screen holds.
func resync(err error) bool {
	return errors.Is(err, feedwire.ErrGap) || errors.Is(err, feedwire.ErrMismatch)
}

// fleet is the screens and what they share.
type fleet struct {
	client *feedclient.Client
	// deflater offers permessage-deflate, as browsers do: every other screen uses it.
	deflater *feedclient.Client

	screens []*screen
	closing atomic.Bool
	wg      sync.WaitGroup
}

func newFleet(addr, token string, n int) *fleet {
	f := &fleet{client: feedclient.New(addr, token), deflater: feedclient.New(addr, token)}
	f.client.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 1 << 10}
	f.deflater.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 1 << 10, EnableCompression: true}
	// The summary is most of a snapshot's bytes and screens here do not use it: with 300
	// screens on two shared cores, decoding without it halves the client's share of the CPU.
	f.client.WithoutSummary, f.deflater.WithoutSummary = true, true
	for i := range n {
		f.screens = append(f.screens, newScreen(i))
	}
	return f
}

// start runs every screen until ctx ends, staggering the first dials by 10 ms.
func (f *fleet) start(ctx context.Context) {
	for i, s := range f.screens {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(i) * 10 * time.Millisecond):
			}
			f.run(ctx, s)
		}()
	}
}

// run keeps one screen connected until ctx ends.
func (f *fleet) run(ctx context.Context, s *screen) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		s.mu.Lock()
		resuming := s.state.Held()
		since, epoch := s.state.Rev, s.state.Epoch
		s.mu.Unlock()
		c := f.client
		if s.id%2 == 1 {
			c = f.deflater
		}
		if !resuming {
			since = 0
		}
		conn, res, err := c.Dial(ctx, since, epoch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			s.dialErrors++
			if res != nil && (res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden) {
				s.faults = append(s.faults, fmt.Sprintf("handshake refused with %d", res.StatusCode))
			}
			s.mu.Unlock()
			sleep(ctx, rand.N(backoff)+time.Millisecond) // full jitter
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		s.mu.Lock()
		s.conn, s.dropping = conn.WS, false
		s.connects++
		if resuming {
			s.replays++
		}
		s.mu.Unlock()
		stop := context.AfterFunc(ctx, func() {
			_ = conn.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
				time.Now().Add(time.Second))
			conn.Close()
		})
		err = f.read(s, conn)
		stop()
		conn.Close()

		s.mu.Lock()
		s.conn = nil
		var ce *websocket.CloseError
		switch {
		case ctx.Err() != nil:
		case resync(err):
			s.gaps++
			s.state.Reset() // resync: reconnect without since
		case errors.As(err, &ce) && ce.Code == 4008:
			s.drops4008++
		case errors.As(err, &ce) && ce.Code == 4001:
			s.faults = append(s.faults, "closed with 4001 though nothing revoked the token")
			s.mu.Unlock()
			return
		case s.dropping:
			s.cut++
		default:
			s.unplanned++
			if errors.As(err, &ce) && ce.Code != websocket.CloseGoingAway {
				s.faults = append(s.faults, fmt.Sprintf("closed with %d %q", ce.Code, ce.Text))
			}
		}
		s.mu.Unlock()
	}
}

// read applies messages until the connection ends or breaks the protocol.
func (f *fleet) read(s *screen, conn *feedclient.Conn) error {
	ws := conn.WS
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(screenReadTimeout))
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
	})
	first := true
	for {
		_ = ws.SetReadDeadline(time.Now().Add(screenReadTimeout))
		msgs, err := conn.Read()
		var de *feedclient.DecodeError
		if errors.As(err, &de) {
			s.fault(err.Error())
			return err
		}
		if err != nil {
			return err
		}
		m := msgs[0] // without batch=1, one message a frame
		if first && m.Type != "hello" {
			s.fault(fmt.Sprintf("first message is %q, want hello", m.Type))
		}
		first = false
		s.mu.Lock()
		err = s.apply(m)
		s.mu.Unlock()
		if err != nil {
			if !resync(err) {
				s.fault(err.Error())
			}
			return err
		}
	}
}

func (s *screen) fault(msg string) {
	s.mu.Lock()
	s.faults = append(s.faults, msg)
	s.mu.Unlock()
}

// cutRandom drops the connections of share of the screens without a close frame, as a
// pulled cable or a sleeping laptop would. They reconnect with since.
func (f *fleet) cutRandom(share float64) int {
	n := int(float64(len(f.screens))*share + 0.5)
	cut := 0
	for _, i := range rand.Perm(len(f.screens))[:n] {
		s := f.screens[i]
		s.mu.Lock()
		if s.conn != nil && !s.dropping {
			s.dropping = true
			_ = s.conn.UnderlyingConn().Close()
			cut++
		}
		s.mu.Unlock()
	}
	return cut
}

// ready is how many screens hold a state at revision rev or later.
func (f *fleet) ready(rev uint64) int {
	n := 0
	for _, s := range f.screens {
		s.mu.Lock()
		if s.state.Held() && s.state.Rev >= rev {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// stuckScreen connects and then never reads: its queue on the server fills up.
type stuckScreen struct {
	conn    *websocket.Conn
	dialErr error
}

// outcome reads what the server left on a stuck screen's connection, within wait, and says
// how it ended.
func (s *stuckScreen) outcome(wait time.Duration) (msgs int, how string) {
	if s.dialErr != nil {
		return 0, "never connected: " + s.dialErr.Error()
	}
	defer s.conn.Close()
	_ = s.conn.SetReadDeadline(time.Now().Add(wait))
	s.conn.SetPingHandler(func(string) error { return nil }) // stay silent to the end
	for {
		_, _, err := s.conn.ReadMessage()
		if err == nil {
			msgs++
			continue
		}
		var ce *websocket.CloseError
		var ne interface{ Timeout() bool }
		switch {
		case errors.As(err, &ce):
			return msgs, fmt.Sprintf("closed by the server with %d %q", ce.Code, ce.Text)
		case errors.As(err, &ne) && ne.Timeout():
			return msgs, "still open (nothing more to read)"
		default:
			return msgs, "connection ended without a close frame (" + err.Error() + ")"
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
