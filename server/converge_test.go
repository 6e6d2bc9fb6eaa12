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

	"projectboard/server/feedwire"
	"projectboard/store"
)

// heldProject is the project a screen holds, decoded (the zero Project if it holds none).
func heldProject(t *testing.T, s *feedwire.State, id string) store.Project {
	t.Helper()
	var p store.Project
	if b, ok := s.Projects[id]; ok {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s on the screen: %v: %s", id, err, b)
		}
	}
	return p
}

// readFrame reads one frame's messages.
func readFrame(conn *websocket.Conn) ([]feedwire.Message, error) {
	_, data, err := conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	return feedwire.Decode(data)
}

// applyAll applies a frame's messages in order.
func applyAll(s *feedwire.State, msgs []feedwire.Message) error {
	for _, m := range msgs {
		if err := s.Apply(m); err != nil {
			return err
		}
	}
	return nil
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
	states := make([]*feedwire.State, screens)
	var wg sync.WaitGroup
	for i := range states {
		states[i] = &feedwire.State{}
		wg.Add(1)
		go func(s *feedwire.State, seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for round := 0; round < 6; round++ {
				q := "token=" + l.f.display
				if s.Held() {
					q += fmt.Sprintf("&since=%d&epoch=%s", s.Rev, s.Epoch)
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
					msgs, err := readFrame(conn)
					if err != nil {
						break
					}
					if err := applyAll(s, msgs); err != nil {
						s.Reset() // resync on the next connection
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
		if s.Held() {
			q += fmt.Sprintf("&since=%d&epoch=%s", s.Rev, s.Epoch)
		}
		c, _, err := l.dial(t, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		for s.Rev != rev || !s.Held() {
			if err := s.Apply(c.next()); err != nil {
				t.Fatalf("screen %d: %v", i, err)
			}
		}
		for _, p := range want {
			if !reflect.DeepEqual(heldProject(t, s, p.ID), p) {
				t.Fatalf("screen %d: %s differs from the database", i, p.ID)
			}
		}
		sum, _ := json.Marshal(l.st.Summary(store.SummaryFilter{}))
		if !jsonSame(t, s.Summary, sum) {
			t.Fatalf("screen %d: summary\n%s\ndiffers from the database's\n%s", i, s.Summary, sum)
		}
		if len(s.Projects) != len(want) {
			t.Fatalf("screen %d has %d projects, want %d", i, len(s.Projects), len(want))
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
