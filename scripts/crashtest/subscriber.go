package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/scripts/internal/feedclient"
	"projectboard/server/feedwire"
)

// shownChange is a change message a screen was shown, as canonical JSON (decoded into the
// store's types and encoded again, so it compares byte for byte with the file's entry).
type shownChange struct {
	change  []byte
	project []byte // "null" for a delete; the projectPatch if patch
	patch   bool
}

// shownLog is everything the screen was shown: change messages and snapshots, by revision.
type shownLog struct {
	changes   map[uint64]shownChange
	snapshots map[uint64][]byte // canonical JSON of the snapshot's projects
}

// subscriber is a wall screen on the live feed that reconnects through the kills, resuming
// from the last revision it was shown.
type subscriber struct {
	addr, token, epoch string
	findings           *findings

	mu     sync.Mutex
	active bool // dialling or connected
	live   bool // connected and past hello
	last   uint64
	conns  int
	shown  shownLog
	conn   *websocket.Conn
}

func newSubscriber(addr, token, epoch string, f *findings) *subscriber {
	return &subscriber{addr: addr, token: token, epoch: epoch, findings: f,
		shown: shownLog{changes: map[uint64]shownChange{}, snapshots: map[uint64][]byte{}}}
}

// run keeps a connection open until ctx ends.
func (s *subscriber) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	for ctx.Err() == nil {
		s.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// session is one connection: dial, read until it ends, checking the order of revisions.
func (s *subscriber) session(ctx context.Context) {
	s.mu.Lock()
	s.active = true
	resumeFrom := s.last
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active, s.live, s.conn = false, false, nil
		s.mu.Unlock()
	}()

	client := feedclient.New(s.addr, s.token)
	client.Dialer = &websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	conn, res, err := client.Dial(ctx, resumeFrom, s.epoch)
	if err != nil {
		if res != nil && (res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden) {
			s.findings.add(fmt.Sprintf("screen: websocket handshake refused with %d", res.StatusCode))
		}
		return
	}
	defer conn.Close()
	s.mu.Lock()
	s.conn = conn.WS
	s.conns++
	s.mu.Unlock()
	if ctx.Err() != nil {
		return
	}

	var next uint64 // the revision the next change must carry; 0 until hello and catch-up start
	sawHello := false
	for {
		msgs, err := conn.Read()
		var de *feedclient.DecodeError
		if errors.As(err, &de) {
			s.findings.add(fmt.Sprintf("screen: %v", err))
			return
		}
		if err != nil {
			if feedclient.CloseCode(err) == 4001 {
				s.findings.add("screen: closed with 4001 (token revoked) though nothing revoked it")
			}
			return
		}
		m := msgs[0] // without batch=1, one message a frame
		s.mu.Lock()
		switch {
		case m.Type == feedwire.TypeReload:
		case !sawHello && m.Type != feedwire.TypeHello:
			s.findings.add(fmt.Sprintf("screen: first message is %q, want hello", m.Type))
		case m.Type == feedwire.TypeHello:
			sawHello = true
			if m.Epoch != s.epoch {
				s.findings.add(fmt.Sprintf("screen: hello has epoch %s, the database's is %s", m.Epoch, s.epoch))
			}
			if m.Rev < s.last {
				s.findings.add(fmt.Sprintf("screen: server (re)started at rev %d, but the screen had been shown rev %d", m.Rev, s.last))
			}
			if resumeFrom > 0 {
				next = resumeFrom + 1
			}
			s.live = true
		case m.Type == feedwire.TypeSnapshot:
			if m.Rev < s.last {
				s.findings.add(fmt.Sprintf("screen: snapshot at rev %d after being shown rev %d", m.Rev, s.last))
			}
			s.recordSnapshot(m)
			next, s.last = m.Rev+1, m.Rev
		case m.Type == feedwire.TypeChange:
			if next == 0 {
				s.findings.add(fmt.Sprintf("screen: change %d before any snapshot in a connection without since", m.Rev))
			} else if m.Rev != next {
				s.findings.add(fmt.Sprintf("screen: within one connection got rev %d, want %d (revisions not consecutive)", m.Rev, next))
			}
			s.recordChange(m)
			next, s.last = m.Rev+1, m.Rev
		default:
			s.findings.add(fmt.Sprintf("screen: unknown message type %q", m.Type))
		}
		s.mu.Unlock()
	}
}

// recordChange keeps a change message; s.mu is held.
func (s *subscriber) recordChange(m feedwire.Message) {
	if m.Change == nil || m.Change.Rev != m.Rev {
		s.findings.add(fmt.Sprintf("screen: change message rev %d carries change %+v", m.Rev, m.Change))
		return
	}
	project, err := m.DecodeProject()
	if err != nil {
		s.findings.add(fmt.Sprintf("screen: %v", err))
		return
	}
	c, _ := json.Marshal(m.Change)
	p, _ := json.Marshal(project)
	sc := shownChange{change: c, project: p}
	if m.ProjectPatch != nil {
		sc.project, sc.patch = m.ProjectPatch, true
	}
	if old, ok := s.shown.changes[m.Rev]; ok && (!bytes.Equal(old.change, c) || !bytes.Equal(old.project, sc.project)) {
		s.findings.add(fmt.Sprintf("screen: rev %d shown twice with different content:\n    %s %s\n    %s %s", m.Rev, old.change, old.project, c, sc.project))
	}
	s.shown.changes[m.Rev] = sc
}

// recordSnapshot keeps a snapshot; s.mu is held.
func (s *subscriber) recordSnapshot(m feedwire.Message) {
	projects, err := m.DecodeProjects()
	if err != nil {
		s.findings.add(fmt.Sprintf("screen: %v", err))
		return
	}
	b, _ := json.Marshal(projects)
	if old, ok := s.shown.snapshots[m.Rev]; ok && !bytes.Equal(old, b) {
		s.findings.add(fmt.Sprintf("screen: two different snapshots at rev %d", m.Rev))
	}
	s.shown.snapshots[m.Rev] = b
}

// shownLog copies what the screen has been shown so far.
func (s *subscriber) shownLog() shownLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := shownLog{changes: make(map[uint64]shownChange, len(s.shown.changes)), snapshots: make(map[uint64][]byte, len(s.shown.snapshots))}
	for k, v := range s.shown.changes {
		out.changes[k] = v
	}
	for k, v := range s.shown.snapshots {
		out.snapshots[k] = v
	}
	return out
}

func (s *subscriber) lastRev() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *subscriber) connectionsOrZero() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// waitFor polls cond (called with s.mu held) until it holds.
func (s *subscriber) waitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("screen: %s within %v", what, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitConnected waits until the screen has a connection past hello.
func (s *subscriber) waitConnected(ctx context.Context, limit time.Duration) error {
	return s.waitFor(ctx, limit, "did not connect", func() bool { return s.live })
}

// waitDisconnected waits until the screen has no connection: it has read all a dead server sent.
func (s *subscriber) waitDisconnected(ctx context.Context, limit time.Duration) error {
	return s.waitFor(ctx, limit, "still connected to a killed server", func() bool { return !s.active })
}

// waitCaughtUp waits until the screen has been shown rev.
func (s *subscriber) waitCaughtUp(ctx context.Context, rev uint64, limit time.Duration) error {
	return s.waitFor(ctx, limit, fmt.Sprintf("did not reach rev %d", rev), func() bool { return s.last >= rev })
}
