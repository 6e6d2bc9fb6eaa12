package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// screenReadTimeout is how long a screen waits for any frame. The server pings every 25 s,
// so a quiet minute means the connection is dead.
const screenReadTimeout = 90 * time.Second

// wsMsg is the part of a feed message a screen needs. Projects stay the server's JSON, so
// the final check compares exactly what was sent.
type wsMsg struct {
	Type   string `json:"type"`
	Epoch  string `json:"epoch"`
	Rev    uint64 `json:"rev"`
	Change struct {
		ProjectID string          `json:"projectId"`
		At        json.RawMessage `json:"at"`
		By        json.RawMessage `json:"by"`
	} `json:"change"`
	Project  json.RawMessage   `json:"project"`
	Projects []json.RawMessage `json:"projects"`
	// ProjectPatch is a changed project's members that moved (docs/api.md).
	ProjectPatch json.RawMessage `json:"projectPatch"`
}

var summaryKey = []byte(`,"summary":`)

// decodeMsg decodes one feed message. The summary a change or snapshot carries is most of
// its bytes and screens here do not use it, so it is cut off before decoding: it is the last
// key of the server's encoding, and the sequence `,"summary":` cannot occur inside a JSON
// string (its quote would be escaped). If the cut message does not decode, the whole is.
// With 300 screens on two shared cores, this halves the client's share of the CPU.
func decodeMsg(data []byte) (wsMsg, error) {
	var m wsMsg
	if i := bytes.LastIndex(data, summaryKey); i > 0 {
		c := data[i]
		data[i] = '}' // in place: the caller owns data
		err := json.Unmarshal(data[:i+1], &m)
		data[i] = c
		if err == nil {
			return m, nil
		}
		m = wsMsg{}
	}
	err := json.Unmarshal(data, &m)
	return m, err
}

// patchProject puts a patch's members over the project's, as the web UI's reducer does: on
// the project's version before the patch's (or the same, for a change that left it as it was).
func patchProject(held, at, by, patch json.RawMessage) (json.RawMessage, error) {
	var p, h map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(held, &h); err != nil {
		return nil, err
	}
	var pv, hv uint64
	if json.Unmarshal(p["version"], &pv) != nil || json.Unmarshal(h["version"], &hv) != nil || (pv != hv+1 && pv != hv) {
		return nil, fmt.Errorf("%w: a patch of version %s on version %s", errGap, p["version"], h["version"])
	}
	// Who and when are the change's unless the patch says otherwise.
	h["updatedAt"], h["updatedBy"] = at, by
	for k, v := range p {
		h[k] = v
	}
	return json.Marshal(h)
}

// errGap is a change whose revision is not the next one: the screen must resync.
var errGap = errors.New("revision gap")

// screen is one wall screen that keeps its own state, as the web UI does: a snapshot
// replaces, a change applies, a gap forces a resync without since.
type screen struct {
	id int

	mu       sync.Mutex
	conn     *websocket.Conn
	dropping bool // soak itself cut the current connection
	epoch    string
	rev      uint64
	projects map[string]json.RawMessage // nil until the first snapshot, and after a gap

	connects, snapshots, replays    int // connections; snapshots and resumed catch-ups received
	gaps, drops4008, cut, unplanned int // why connections ended
	dialErrors                      int
	faults                          []string // protocol errors: each fails the run
}

// apply runs one message against the state; the caller holds s.mu.
func (s *screen) apply(m wsMsg) error {
	switch m.Type {
	case "hello":
		if m.Epoch != s.epoch {
			s.epoch, s.rev, s.projects = m.Epoch, 0, nil
		}
	case "snapshot":
		projects := make(map[string]json.RawMessage, len(m.Projects))
		for _, p := range m.Projects {
			var h projectHead
			if err := json.Unmarshal(p, &h); err != nil || h.ID == "" {
				return fmt.Errorf("snapshot project without an id: %.100s", p)
			}
			projects[h.ID] = p
		}
		s.projects, s.rev = projects, m.Rev
		s.snapshots++
	case "change":
		if s.projects == nil {
			return fmt.Errorf("change %d before any snapshot", m.Rev)
		}
		if m.Rev != s.rev+1 {
			return fmt.Errorf("%w: have %d, got %d", errGap, s.rev, m.Rev)
		}
		switch {
		case len(m.ProjectPatch) > 0:
			held, ok := s.projects[m.Change.ProjectID]
			if !ok {
				return fmt.Errorf("change %d patches %s, which the screen does not hold", m.Rev, m.Change.ProjectID)
			}
			p, err := patchProject(held, m.Change.At, m.Change.By, m.ProjectPatch)
			if err != nil {
				return fmt.Errorf("change %d: %w", m.Rev, err)
			}
			s.projects[m.Change.ProjectID] = p
		case len(m.Project) == 0 || string(m.Project) == "null":
			delete(s.projects, m.Change.ProjectID)
		default:
			s.projects[m.Change.ProjectID] = m.Project
		}
		s.rev = m.Rev
	case "reload":
	default:
		return fmt.Errorf("unknown message type %q", m.Type)
	}
	return nil
}

// fleet is the screens and what they share.
type fleet struct {
	wsURL  string // ws://127.0.0.1:PORT/ws
	token  string
	header http.Header
	dialer *websocket.Dialer
	// deflater offers permessage-deflate, as browsers do: every other screen uses it.
	deflater *websocket.Dialer

	screens []*screen
	closing atomic.Bool
	wg      sync.WaitGroup
}

func newFleet(addr, token string, n int) *fleet {
	f := &fleet{wsURL: "ws://" + addr + "/ws", token: token,
		header:   http.Header{"Origin": {"http://" + addr}},
		dialer:   &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 1 << 10},
		deflater: &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 1 << 10, EnableCompression: true}}
	for i := range n {
		f.screens = append(f.screens, &screen{id: i})
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
		q := url.Values{"token": {f.token}}
		s.mu.Lock()
		if s.projects != nil {
			q.Set("since", strconv.FormatUint(s.rev, 10))
			q.Set("epoch", s.epoch)
		}
		s.mu.Unlock()
		d := f.dialer
		if s.id%2 == 1 {
			d = f.deflater
		}
		conn, res, err := d.DialContext(ctx, f.wsURL+"?"+q.Encode(), f.header)
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
		s.conn, s.dropping = conn, false
		s.connects++
		if q.Has("since") {
			s.replays++
		}
		s.mu.Unlock()
		stop := context.AfterFunc(ctx, func() {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
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
		case errors.Is(err, errGap):
			s.gaps++
			s.projects = nil // resync: reconnect without since
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
func (f *fleet) read(s *screen, conn *websocket.Conn) error {
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(screenReadTimeout))
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
	})
	first := true
	for {
		_ = conn.SetReadDeadline(time.Now().Add(screenReadTimeout))
		_, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		m, err := decodeMsg(data)
		if err != nil {
			s.fault(fmt.Sprintf("undecodable message %.200s: %v", data, err))
			return err
		}
		if first && m.Type != "hello" {
			s.fault(fmt.Sprintf("first message is %q, want hello", m.Type))
		}
		first = false
		s.mu.Lock()
		err = s.apply(m)
		s.mu.Unlock()
		if err != nil {
			if !errors.Is(err, errGap) {
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
		if s.projects != nil && s.rev >= rev {
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
