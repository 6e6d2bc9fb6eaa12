package main

// The gorilla baseline (`loadgen gorilla-server`): a bare broadcast hub on net/http and
// github.com/gorilla/websocket as most Go services write one (the library's chat example,
// centrifuge): per connection a reader (the handler's goroutine) and one writer goroutine
// draining a buffered channel with WriteMessage of the pre-encoded bytes, a write deadline on
// every write. The upgrader keeps its defaults, so a connection reuses net/http's 4 KiB read
// and write buffers. The state and the broadcast are baseline.go's, as the fasthttp
// baseline's: only the transport differs.

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// gorillaMain is `loadgen gorilla-server`.
func gorillaMain(args []string) error {
	s, err := parseBaseline("gorilla", args)
	if err != nil {
		return err
	}
	if err := s.servePprof(); err != nil {
		return err
	}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: s.deflate}
	handle := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			if s.isStopping() {
				writeNetHTTP(w, errorResponse(503, "unavailable"))
				return
			}
			conn, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			s.serveGorilla(conn, r.URL.Query().Get("since"), r.URL.Query().Get("epoch"))
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		q := r.URL.Query()
		writeNetHTTP(w, s.api(request{method: r.Method, path: r.URL.Path, query: q.Get,
			ifMatch: r.Header.Get("If-Match"), body: body}))
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(handle), ReadHeaderTimeout: 15 * time.Second,
		IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	// Shutdown closes the listener and idle HTTP connections; hijacked websockets are ours.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = srv.Shutdown(ctx)
	cancel()
	s.shutdown()
	return nil
}

func writeNetHTTP(w http.ResponseWriter, r response) {
	if r.session != "" {
		http.SetCookie(w, &http.Cookie{Name: "pb_session", Value: r.session, Path: "/"})
	}
	if r.etag != "" {
		w.Header().Set("ETag", r.etag)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// serveGorilla runs one connection: the handler's goroutine reads, a writer goroutine writes.
func (s *baseline) serveGorilla(conn *websocket.Conn, since, epoch string) {
	s.wg.Add(1)
	defer s.wg.Done()
	defer conn.Close()
	bc, first, ok := s.join(since, epoch)
	if !ok {
		return
	}
	defer s.leave(bc)

	writerDone := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		// A writer that stops (dropped, or its write failed) ends the read below.
		defer func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) }()
		write := func(m *bareMsg) error {
			_ = conn.SetWriteDeadline(time.Now().Add(bareWriteTimeout))
			if s.deflate {
				return conn.WritePreparedMessage(m.prepared(prepareGorilla).(*websocket.PreparedMessage))
			}
			return conn.WriteMessage(websocket.TextMessage, m.data)
		}
		bc.pump(first, readerDone, write, func(code int) {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		})
	}()
	conn.SetReadLimit(bareReadLimit)
	for {
		if _, _, err := conn.NextReader(); err != nil {
			break
		}
	}
	close(readerDone)
	<-writerDone
}

func prepareGorilla(data []byte) any {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		panic(err) // only a write to memory can fail: never
	}
	return pm
}
