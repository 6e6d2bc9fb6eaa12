//go:build unix

package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/store"
)

// TestFullSocketDrainsInOrder: a screen that stops reading fills its socket; its changes then
// queue and a writer of its own sends them, cut frames included, when it reads again. It gets
// every change, in order, with none missing or twice, plain and batched, and screens that read
// get theirs meanwhile.
func TestFullSocketDrainsInOrder(t *testing.T) {
	f := newFixture(t)
	f.srv = New(f.store, Config{Build: "test", WSQueue: 5000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l := &live{f: f, addr: "127.0.0.1:0", st: f.store}
	l.listen(t, f.srv)

	// A small receive buffer, so that the server's socket fills after a few changes.
	small := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		_ = c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	dial := func(query string, d *net.Dialer) *websocket.Conn {
		wd := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: d.DialContext}
		conn, _, err := wd.Dial("ws://"+l.addr+"/ws?token="+l.f.display+query, http.Header{"Origin": {"http://" + l.addr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		for range 2 { // hello, snapshot
			if _, _, err := conn.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		return conn
	}
	plain, batched := dial("", small), dial("&batch=1", small)
	reader := dial("", &net.Dialer{})
	start := l.st.Rev()

	const edits = 1500 // with the notes below, about 15 MB of changes: more than the sockets hold
	readerDone := make(chan error, 1)
	go func() { readerDone <- readChanges(reader, start+1, start+edits) }()
	for i := 0; i < edits; i += 100 {
		p, _ := l.st.Project("P1")
		batch := make([]store.Edit, 100)
		for j := range batch {
			batch[j] = store.Edit{Kind: store.ChangeUpdate, ProjectID: "P1", IfMatch: p.Version + uint64(j), By: "t",
				Patch: &store.Patch{Progress: ptrTo((i+j)%100 + 1), Note: ptrTo(strings.Repeat("进度说明", 200) + strconv.Itoa(i+j))}}
		}
		if _, err := l.st.ApplyAtomic(batch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // some changes one by one, not all in one frame
	}
	if err := <-readerDone; err != nil {
		t.Fatalf("the screen that reads: %v", err)
	}
	if n := l.srv.Hub().Stats().Backlogs; n < 2 {
		t.Fatalf("%d backlogs: the screens that do not read never filled their sockets", n)
	}
	// Both read again at once: a screen that stays silent longer than the server's write
	// timeout (10 s; under the race detector on a loaded machine, reading the other screen's
	// backlog first took that long) is rightly cut off.
	errs := make(chan error, 2)
	for name, c := range map[string]*websocket.Conn{"plain": plain, "batched": batched} {
		go func() {
			if err := readChanges(c, start+1, start+edits); err != nil {
				errs <- fmt.Errorf("%s screen: %w", name, err)
				return
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := l.srv.Hub().Stats(); st.Dropped != 0 || st.Subscribers != 3 {
		t.Fatalf("hub stats %+v: want 3 screens, none dropped", st)
	}
}
