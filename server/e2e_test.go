package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/server/feedwire"
	"projectboard/store"
)

// live is a server listening on a real 127.0.0.1 port, restartable on the same port and file.
type live struct {
	f    *fixture
	addr string
	srv  *Server
	st   *store.Store
	done chan error
}

func startLive(t testing.TB) *live {
	t.Helper()
	f := newFixture(t)
	l := &live{f: f, addr: "127.0.0.1:0", st: f.store}
	l.listen(t, f.srv)
	return l
}

func (l *live) listen(t testing.TB, srv *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	l.addr, l.srv, l.done = ln.Addr().String(), srv, make(chan error, 1)
	go func() { l.done <- srv.App().Listener(ln) }()
	t.Cleanup(func() { l.stop(t) })
}

func (l *live) stop(t testing.TB) {
	if l.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	<-l.done
	l.srv = nil
}

// restart stops the server, closes and reopens the database file, and serves again.
func (l *live) restart(t testing.TB) {
	t.Helper()
	l.stop(t)
	l.st.Close()
	l.st = openStore(t, l.f.path)
	l.f.store = l.st
	l.listen(t, New(l.st, Config{Build: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
}

func (l *live) patch(t *testing.T, id string, version uint64, body string) store.Project {
	t.Helper()
	req, _ := http.NewRequest("PATCH", "http://"+l.addr+"/api/projects/"+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", etag(version))
	req.Header.Set("Authorization", "Bearer "+l.f.api)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("PATCH %s: %d %s", id, res.StatusCode, b)
	}
	var p store.Project
	_ = json.NewDecoder(res.Body).Decode(&p)
	return p
}

// patched is a change message's projectPatch decoded (its members, the rest zero).
func patched(t *testing.T, m feedwire.Message) store.Project {
	t.Helper()
	var p store.Project
	if err := json.Unmarshal(m.ProjectPatch, &p); err != nil {
		t.Fatalf("rev %d: projectPatch %s: %v", m.Rev, m.ProjectPatch, err)
	}
	return p
}

// deltaRev is the revision a change message's summaryDelta brings the summary to (0: none).
func deltaRev(m feedwire.Message) uint64 {
	var d struct {
		Rev uint64 `json:"rev"`
	}
	_ = json.Unmarshal(m.SummaryDelta, &d)
	return d.Rev
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
}

func (l *live) dial(t *testing.T, query string, header http.Header) (*client, *http.Response, error) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Origin") == "" {
		header.Set("Origin", "http://"+l.addr)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, res, err := d.Dial("ws://"+l.addr+"/ws?"+query, header)
	if err != nil {
		return nil, res, err
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}, res, nil
}

func (l *live) mustDial(t *testing.T, query string) *client {
	t.Helper()
	c, _, err := l.dial(t, "token="+l.f.display+"&"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// next reads the next frame, which must hold one message.
func (c *client) next() feedwire.Message {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	msgs, err := readFrame(c.conn)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if len(msgs) != 1 {
		c.t.Fatalf("read: a frame of %d messages, want one", len(msgs))
	}
	return msgs[0]
}

// closeCode reads until the connection closes and returns the close code.
func (c *client) closeCode() int {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			c.t.Fatalf("read: got %v, want a close frame", err)
		}
	}
}

func TestLiveFeedOrderResumeRestart(t *testing.T) {
	l := startLive(t)
	a := l.mustDial(t, "")
	hello := a.next()
	if hello.Type != "hello" || hello.Rev != 3 || hello.Epoch != l.st.Epoch() || hello.Build != "test" {
		t.Fatalf("got hello %+v", hello)
	}
	if snap := a.next(); snap.Type != "snapshot" || snap.Rev != 3 || len(snap.Projects) != 3 || snap.Summary == nil {
		t.Fatalf("got %+v, want a snapshot of 3 projects at rev 3", snap)
	}

	// Edits arrive in order, each with its project and summary, strictly consecutive.
	version := uint64(1)
	for i := 1; i <= 5; i++ {
		start := time.Now()
		version = l.patch(t, "P1", version, fmt.Sprintf(`{"progress":%d}`, i*10)).Version
		m := a.next()
		t.Logf("edit %d reached the screen %v after the PATCH was sent", i, time.Since(start))
		if m.Type != "change" || m.Rev != uint64(3+i) || patched(t, m).Progress != i*10 || deltaRev(m) != m.Rev {
			t.Fatalf("edit %d: got %+v", i, m)
		}
	}

	// Resume: a screen that saw rev 5 gets 6.. in order; the last carries the summary.
	b := l.mustDial(t, "since=5&epoch="+l.st.Epoch())
	if m := b.next(); m.Type != "hello" {
		t.Fatalf("got %+v", m)
	}
	for want := uint64(6); want <= 8; want++ {
		m := b.next()
		if m.Type != "change" || m.Rev != want {
			t.Fatalf("resume: got %s rev %d, want change %d", m.Type, m.Rev, want)
		}
		if (m.Summary != nil) != (want == 8) {
			t.Fatalf("resume: rev %d has summary %v", want, m.Summary != nil)
		}
	}
	// A foreign epoch gets a snapshot instead.
	c := l.mustDial(t, "since=5&epoch=other")
	c.next()
	if m := c.next(); m.Type != "snapshot" || m.Rev != 8 {
		t.Fatalf("foreign epoch: got %s rev %d, want snapshot 8", m.Type, m.Rev)
	}

	// Restart: screens are told 1001, then resume from their revision on the new process.
	l.restart(t)
	if code := a.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("on shutdown: got close %d, want 1001", code)
	}
	l.patch(t, "P2", 1, `{"progress":55}`)
	d := l.mustDial(t, "since=8&epoch="+l.st.Epoch())
	if m := d.next(); m.Type != "hello" || m.Rev != 9 {
		t.Fatalf("after restart: got %+v", m)
	}
	if m := d.next(); m.Type != "change" || m.Rev != 9 || m.Change.ProjectID != "P2" || patched(t, m).Progress != 55 {
		t.Fatalf("after restart: got %+v", m)
	}
}

func TestWebsocketRefusals(t *testing.T) {
	l := startLive(t)
	if _, res, err := l.dial(t, "", nil); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("no login: got %v, want 401", res)
	}
	h := http.Header{"Origin": {"https://evil.example"}}
	if _, res, err := l.dial(t, "token="+l.f.display, h); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: got %v, want 403", res)
	}
	// A foreign origin with a valid session cookie gets nothing either.
	h = http.Header{"Origin": {"https://evil.example"}, "Cookie": {sessionCookie + "=" + l.f.cookies["viewer"]}}
	if _, res, err := l.dial(t, "", h); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin with cookie: got %v, want 403", res)
	}

	// Revoking a display token disconnects its screens at once with 4001.
	tok, secret, _ := l.st.CreateToken(store.Token{Kind: "display", Name: "lobby"})
	c, _, err := l.dial(t, "token="+secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.next()
	c.next()
	req, _ := http.NewRequest("DELETE", "http://"+l.addr+"/api/tokens/"+tok.ID, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: l.f.cookies["admin"]})
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 204 {
		t.Fatalf("revoke: %v %v", res, err)
	}
	if code := c.closeCode(); code != 4001 {
		t.Fatalf("revoked: got close %d, want 4001", code)
	}

	// Screens send nothing: a data message closes the connection with 1003 before any of it
	// is read (a compressed one could inflate a thousandfold)…
	c = l.mustDial(t, "")
	c.next()
	c.next()
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	if code := c.closeCode(); code != websocket.CloseUnsupportedData {
		t.Fatalf("data message: got close %d, want 1003", code)
	}
	// …and a frame over the read limit with 1009.
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, WriteBufferSize: 16 << 10} // one frame
	conn, _, err := d.Dial("ws://"+l.addr+"/ws?token="+l.f.display, http.Header{"Origin": {"http://" + l.addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c = &client{t: t, conn: conn}
	c.next()
	c.next()
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 10_000)))
	if code := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("oversize frame: got close %d, want 1009", code)
	}
}

// TestCompressedFeed: a client that offers permessage-deflate (browsers do) gets the snapshot
// and the changes compressed, and reads the same messages; one that does not, plain frames.
func TestCompressedFeed(t *testing.T) {
	l := startLive(t)
	for _, compress := range []bool{false, true} {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, EnableCompression: compress}
		conn, res, err := d.Dial("ws://"+l.addr+"/ws?batch=1&token="+l.f.display, http.Header{"Origin": {"http://" + l.addr}})
		if err != nil {
			t.Fatal(err)
		}
		negotiated := strings.Contains(res.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		if negotiated != compress {
			t.Fatalf("offered %v, negotiated %v", compress, negotiated)
		}
		c := &client{t: t, conn: conn}
		if m := c.next(); m.Type != "hello" {
			t.Fatalf("got %s, want hello", m.Type)
		}
		if m := c.next(); m.Type != "snapshot" || len(m.Projects) != 3 {
			t.Fatalf("got %s with %d projects, want the snapshot of 3", m.Type, len(m.Projects))
		}
		rev := l.st.Rev()
		progress := 40
		if compress {
			progress = 41
		}
		p := l.patch(t, "P1", mustProject(t, l.st, "P1").Version, fmt.Sprintf(`{"progress":%d}`, progress))
		if err := readChanges(conn, rev+1, rev+1); err != nil {
			t.Fatalf("compress %v: %v", compress, err)
		}
		if p.Progress != progress {
			t.Fatalf("PATCH answered progress %d, want %d", p.Progress, progress)
		}
		conn.Close()
	}
}

func mustProject(t *testing.T, st *store.Store, id string) store.Project {
	t.Helper()
	p, err := st.Project(id)
	if err != nil {
		t.Fatalf("project %s: %v", id, err)
	}
	return p
}

func TestBodyLimitOverHTTP(t *testing.T) {
	l := startLive(t)
	// Announce a 2 MiB body and send only the headers: the server must refuse on the length
	// alone (a client streaming the body would see its write cut, not the answer).
	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH /api/projects/P1 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"If-Match: \"1\"\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", l.addr, l.f.api, 2<<20)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 413 {
		t.Fatalf("got %d, want 413", res.StatusCode)
	}
	if code, _ := errorOf(t, res); code != "too_large" {
		t.Fatalf("got code %q, want too_large", code)
	}
	if l.st.Rev() != 3 {
		t.Fatalf("rev moved to %d", l.st.Rev())
	}
}

// TestBatchedFrames: a screen that asks for batch=1 gets what is queued for it in one frame
// (a JSON array), still in revision order with no gaps.
func TestBatchedFrames(t *testing.T) {
	l := startLive(t)
	c, _, err := l.dial(t, "batch=1&token="+l.f.display, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.next() // hello
	c.next() // snapshot
	edits := make([]store.Edit, 200)
	for i := range edits {
		edits[i] = store.Edit{Kind: store.ChangeUpdate, ProjectID: "P1", IfMatch: uint64(i + 1), By: "t",
			Patch: &store.Patch{Progress: ptrTo(i%100 + 1)}}
	}
	if _, err := l.st.ApplyAtomic(edits); err != nil {
		t.Fatal(err)
	}
	want, frames, arrays := uint64(4), 0, 0
	for want <= 203 {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		frames++
		if data[0] == '[' {
			arrays++
		}
		msgs, err := feedwire.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Type != "change" || m.Rev != want {
				t.Fatalf("got %s rev %d, want change %d", m.Type, m.Rev, want)
			}
			want++
		}
	}
	if arrays == 0 || frames >= 200 {
		t.Fatalf("200 changes came in %d frames, %d of them batches", frames, arrays)
	}
	t.Logf("200 changes in %d frames", frames)
}

// readChanges reads until revision to and fails on anything but changes from..to in order.
func readChanges(c *websocket.Conn, from, to uint64) error {
	want := from
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	for want <= to {
		_ = c.SetReadDeadline(deadline)
		_, data, err := c.ReadMessage()
		if err != nil {
			return err
		}
		msgs, err := feedwire.Decode(data)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Type != "change" || m.Rev != want {
				return fmt.Errorf("got %s rev %d, want change %d", m.Type, m.Rev, want)
			}
			want++
		}
	}
	return nil
}
