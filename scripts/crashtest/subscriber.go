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
	// addrs are the servers it may use: one, or a cluster's instances, which it tries in
	// turn from the one it used last when a dial fails.
	addrs        []string
	name         string // "screen", or "screen N" in cluster mode
	token, epoch string
	findings     *findings
	cluster      bool

	mu     sync.Mutex
	at     int  // the index in addrs of the server it uses
	active bool // dialling or connected
	live   bool // connected and past hello
	last   uint64
	conns  int
	lastAt int // the server of the last connection
	shown  shownLog
	conn   *websocket.Conn
	// shownBy is the highest revision each server (by index) has shown this screen: a killed
	// instance's file must hold at least that.
	shownBy map[int]uint64
	resumes resumeCounts
}

// resumeCounts count the connections that resumed from a revision (since and epoch).
type resumeCounts struct {
	total    int // connections with since > 0 that got hello
	moved    int // of those, on another server than the connection before
	replayed int // answered with the changes after since (or nothing: already there)
	snapshot int // answered with a snapshot though the server had the revision
	behind   int // the server was behind since: a snapshot of an older revision is its answer
}

func newSubscriber(addrs []string, home int, name, token, epoch string, f *findings) *subscriber {
	return &subscriber{addrs: addrs, at: home, name: name, token: token, epoch: epoch, findings: f, cluster: len(addrs) > 1,
		shown:   shownLog{changes: map[uint64]shownChange{}, snapshots: map[uint64][]byte{}},
		shownBy: map[int]uint64{}}
}

// addf adds a finding named after the screen.
func (s *subscriber) addf(format string, args ...any) {
	s.findings.add(s.name + ": " + fmt.Sprintf(format, args...))
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
	resumeFrom, at := s.last, s.at
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active, s.live, s.conn = false, false, nil
		s.mu.Unlock()
	}()

	client := feedclient.New(s.addrs[at], s.token)
	client.Dialer = &websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	conn, res, err := client.Dial(ctx, resumeFrom, s.epoch)
	if err != nil {
		s.mu.Lock()
		s.at = (at + 1) % len(s.addrs) // that server is down: try the next, as a proxy would
		s.mu.Unlock()
		if res != nil && (res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden) {
			s.addf("websocket handshake refused with %d", res.StatusCode)
		}
		return
	}
	defer conn.Close()
	s.mu.Lock()
	s.conn = conn.WS
	s.conns++
	moved := s.cluster && s.conns > 1 && at != s.lastAt
	s.lastAt = at
	s.mu.Unlock()
	if ctx.Err() != nil {
		return
	}

	var next uint64 // the revision the next change must carry; 0 until hello and catch-up start
	sawHello := false
	// A resume on a server that has the revision must be answered with the changes after
	// it, never a snapshot (cluster mode): classify the first message after hello.
	classify := false
	var helloRev uint64
	for {
		msgs, err := conn.Read()
		var de *feedclient.DecodeError
		if errors.As(err, &de) {
			s.addf("%v", err)
			return
		}
		if err != nil {
			if feedclient.CloseCode(err) == 4001 {
				s.addf("closed with 4001 (token revoked) though nothing revoked it")
			}
			return
		}
		m := msgs[0] // without batch=1, one message a frame
		s.mu.Lock()
		switch {
		case m.Type == feedwire.TypeReload:
		case !sawHello && m.Type != feedwire.TypeHello:
			s.addf("first message is %q, want hello", m.Type)
		case m.Type == feedwire.TypeHello:
			sawHello = true
			if m.Epoch != s.epoch {
				s.addf("hello has epoch %s, the database's is %s", m.Epoch, s.epoch)
			}
			behind := m.Rev < s.last
			if behind && !s.cluster {
				s.addf("server (re)started at rev %d, but the screen had been shown rev %d", m.Rev, s.last)
			}
			if resumeFrom > 0 {
				next = resumeFrom + 1
				s.resumes.total++
				if moved {
					s.resumes.moved++
				}
				switch {
				case m.Rev < resumeFrom:
					// Another instance's view has not yet applied what this screen was shown:
					// the server answers a since beyond its revision with a snapshot.
					s.resumes.behind++
				case m.Rev == resumeFrom:
					s.resumes.replayed++ // nothing to replay
				default:
					classify = true
				}
			}
			helloRev = m.Rev
			s.live = true
		case m.Type == feedwire.TypeSnapshot:
			if classify {
				classify = false
				s.resumes.snapshot++
				s.addf("resumed from rev %d on %s, which was at rev %d, and got a snapshot instead of the changes after it",
					resumeFrom, s.addrs[at], helloRev)
			}
			if m.Rev < s.last && !(s.cluster && helloRev < resumeFrom) {
				s.addf("snapshot at rev %d after being shown rev %d", m.Rev, s.last)
			}
			s.recordSnapshot(m)
			next, s.last = m.Rev+1, m.Rev
			s.shownBy[at] = max(s.shownBy[at], m.Rev)
		case m.Type == feedwire.TypeChange:
			if classify {
				classify = false
				s.resumes.replayed++
			}
			if next == 0 {
				s.addf("change %d before any snapshot in a connection without since", m.Rev)
			} else if m.Rev != next {
				s.addf("within one connection got rev %d, want %d (revisions not consecutive)", m.Rev, next)
			}
			s.recordChange(m)
			next, s.last = m.Rev+1, m.Rev
			s.shownBy[at] = max(s.shownBy[at], m.Rev)
		default:
			s.addf("unknown message type %q", m.Type)
		}
		s.mu.Unlock()
	}
}

// recordChange keeps a change message; s.mu is held.
func (s *subscriber) recordChange(m feedwire.Message) {
	if m.Change == nil || m.Change.Rev != m.Rev {
		s.addf("change message rev %d carries change %+v", m.Rev, m.Change)
		return
	}
	project, err := m.DecodeProject()
	if err != nil {
		s.addf("%v", err)
		return
	}
	c, _ := json.Marshal(m.Change)
	p, _ := json.Marshal(project)
	sc := shownChange{change: c, project: p}
	if m.ProjectPatch != nil {
		sc.project, sc.patch = m.ProjectPatch, true
	}
	if old, ok := s.shown.changes[m.Rev]; ok && (!bytes.Equal(old.change, c) || !bytes.Equal(old.project, sc.project)) {
		s.addf("rev %d shown twice with different content:\n    %s %s\n    %s %s", m.Rev, old.change, old.project, c, sc.project)
	}
	s.shown.changes[m.Rev] = sc
}

// recordSnapshot keeps a snapshot; s.mu is held.
func (s *subscriber) recordSnapshot(m feedwire.Message) {
	projects, err := m.DecodeProjects()
	if err != nil {
		s.addf("%v", err)
		return
	}
	b, _ := json.Marshal(projects)
	if old, ok := s.shown.snapshots[m.Rev]; ok && !bytes.Equal(old, b) {
		s.addf("two different snapshots at rev %d", m.Rev)
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
			return fmt.Errorf("%s: %s within %v", s.name, what, limit)
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

// resumeCounts copies the screen's resume counts.
func (s *subscriber) resumeCounts() resumeCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resumes
}

// shownUpTo is the highest revision server i has shown this screen.
func (s *subscriber) shownUpTo(i int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shownBy[i]
}
