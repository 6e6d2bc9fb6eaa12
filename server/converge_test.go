package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/store"
)

// screen is a minimal client of the feed that keeps its own copy of the projects, as the
// web UI's reducer does: a snapshot replaces, a change applies, a gap forces a resync.
type screen struct {
	epoch    string
	rev      uint64
	projects map[string]store.Project
	summary  []byte // as JSON, kept by the summaries and deltas of the changes
	resyncs  int
}

func (s *screen) apply(m wsMsg) error {
	switch m.Type {
	case "hello":
		if m.Epoch != s.epoch {
			s.epoch, s.rev, s.projects = m.Epoch, 0, nil
		}
	case "snapshot":
		s.projects = map[string]store.Project{}
		for _, p := range m.Projects {
			s.projects[p.ID] = p
		}
		s.rev = m.Rev
		s.summary, _ = json.Marshal(m.Summary)
	case "change":
		if m.Rev != s.rev+1 {
			s.resyncs++
			return fmt.Errorf("gap: have %d, got %d", s.rev, m.Rev)
		}
		switch {
		case m.ProjectPatch != nil:
			held, ok := s.projects[m.Change.ProjectID]
			if !ok {
				return fmt.Errorf("rev %d patches %s, which the screen does not hold", m.Rev, m.Change.ProjectID)
			}
			p, err := applyProjectPatch(held, *m.Change, m.ProjectPatch)
			if err != nil {
				return fmt.Errorf("rev %d: %w", m.Rev, err)
			}
			s.projects[p.ID] = p
		case m.Project != nil:
			s.projects[m.Project.ID] = *m.Project
		case m.Change.ProjectID != "":
			delete(s.projects, m.Change.ProjectID)
		}
		switch {
		case m.SummaryDelta != nil:
			sum, err := store.ApplySummaryDelta(s.summary, m.SummaryDelta)
			if err != nil {
				s.resyncs++
				return err
			}
			s.summary = sum
		case m.Summary != nil:
			s.summary, _ = json.Marshal(m.Summary)
		}
		s.rev = m.Rev
	}
	return nil
}

// applyProjectPatch is a change's projectPatch applied to the project a screen holds: the
// change's at and by become its updatedAt and updatedBy, then the patch's members replace the
// project's. Refused unless the patch's version is the held one's next (or the same, for a
// change that left the project as it was).
func applyProjectPatch(held store.Project, c store.Change, patch json.RawMessage) (store.Project, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(patch, &members); err != nil {
		return held, err
	}
	var v struct {
		Version uint64 `json:"version"`
	}
	if err := json.Unmarshal(patch, &v); err != nil || (v.Version != held.Version+1 && v.Version != held.Version) {
		return held, fmt.Errorf("patch of version %d on %s at version %d", v.Version, held.ID, held.Version)
	}
	var all map[string]json.RawMessage
	b, _ := json.Marshal(held)
	if err := json.Unmarshal(b, &all); err != nil {
		return held, err
	}
	all["updatedAt"], all["updatedBy"] = mustMarshal(c.At), mustMarshal(c.By)
	for k, m := range members {
		all[k] = m
	}
	b, _ = json.Marshal(all)
	var p store.Project
	err := json.Unmarshal(b, &p)
	return p, err
}

// TestScreensConverge drops and reconnects screens at random while editors keep editing;
// at the end every screen's state equals a fresh snapshot.
func TestScreensConverge(t *testing.T) {
	l := startLive(t)
	const screens = 12
	var stop atomic.Bool
	var editors sync.WaitGroup
	for w := 0; w < 4; w++ {
		editors.Add(1)
		go func(w int) {
			defer editors.Done()
			ids := []string{"P1", "P2", "A1"}
			for i := 0; !stop.Load(); i++ {
				id := ids[(w+i)%3]
				p, _ := l.st.Project(id)
				_, _ = l.st.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: id, IfMatch: p.Version, By: "w",
					Patch: &store.Patch{Progress: ptrTo((w*7 + i) % 101)}})
				time.Sleep(time.Millisecond)
			}
		}(w)
	}
	states := make([]*screen, screens)
	var wg sync.WaitGroup
	for i := range states {
		states[i] = &screen{}
		wg.Add(1)
		go func(s *screen, seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for round := 0; round < 6; round++ {
				q := "token=" + l.f.display
				if s.projects != nil {
					q += fmt.Sprintf("&since=%d&epoch=%s", s.rev, s.epoch)
				}
				d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
				conn, _, err := d.Dial("ws://"+l.addr+"/ws?"+q, http.Header{"Origin": {"http://" + l.addr}})
				if err != nil {
					t.Error(err)
					return
				}
				// Read for a random while, then drop the connection without a goodbye.
				until := time.Now().Add(time.Duration(20+rng.Intn(80)) * time.Millisecond)
				for time.Now().Before(until) {
					_ = conn.SetReadDeadline(until)
					var m wsMsg
					if err := conn.ReadJSON(&m); err != nil {
						break
					}
					if err := s.apply(m); err != nil {
						s.projects = nil // resync on the next connection
						break
					}
				}
				conn.Close()
			}
		}(states[i], int64(i))
	}
	wg.Wait()
	stop.Store(true)
	editors.Wait()

	// One last connection each, after the edits stopped: resume and read until current.
	want, _ := l.st.Projects()
	rev := l.st.Rev()
	for i, s := range states {
		q := "token=" + l.f.display
		if s.projects != nil {
			q += fmt.Sprintf("&since=%d&epoch=%s", s.rev, s.epoch)
		}
		c, _, err := l.dial(t, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		for s.rev != rev || s.projects == nil {
			if err := s.apply(c.next()); err != nil {
				t.Fatalf("screen %d: %v", i, err)
			}
		}
		for _, p := range want {
			if !reflect.DeepEqual(s.projects[p.ID], p) {
				t.Fatalf("screen %d: %s differs from the database", i, p.ID)
			}
		}
		sum, _ := json.Marshal(l.st.Summary(store.SummaryFilter{}))
		if !jsonSame(t, s.summary, sum) {
			t.Fatalf("screen %d: summary\n%s\ndiffers from the database's\n%s", i, s.summary, sum)
		}
		if len(s.projects) != len(want) {
			t.Fatalf("screen %d has %d projects, want %d", i, len(s.projects), len(want))
		}
	}
	t.Logf("%d screens converged on rev %d", screens, rev)
}

func TestLogoutClosesItsSockets(t *testing.T) {
	l := startLive(t)
	c, _, err := l.dial(t, "", http.Header{"Cookie": {sessionCookie + "=" + l.f.cookies["viewer"]}})
	if err != nil {
		t.Fatal(err)
	}
	other := l.mustDial(t, "")
	c.next()
	other.next()
	req, _ := http.NewRequest("DELETE", "http://"+l.addr+"/api/session", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: l.f.cookies["viewer"]})
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 204 {
		t.Fatalf("logout: %v %v", res, err)
	}
	if code := c.closeCode(); code != 4001 {
		t.Fatalf("got close %d, want 4001", code)
	}
	if l.srv.Hub().Len() != 1 {
		t.Fatalf("other screens closed too: %d left", l.srv.Hub().Len())
	}
}

func TestSocketsPerAddressLimited(t *testing.T) {
	f := newFixture(t)
	f.srv = New(f.store, Config{Build: "test", WSPerAddr: 2, Logger: f.srv.log})
	l := &live{f: f, addr: "127.0.0.1:0", st: f.store}
	l.listen(t, f.srv)
	l.mustDial(t, "").next()
	l.mustDial(t, "").next()
	if _, res, err := l.dial(t, "token="+f.display, nil); err == nil || res == nil || res.StatusCode != 429 {
		t.Fatalf("third socket: got %v, want 429", res)
	}
}

// jsonSame compares two JSON documents by value.
func jsonSame(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
