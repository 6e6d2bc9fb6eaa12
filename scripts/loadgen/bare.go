package main

// The fasthttp baseline (`loadgen bare-server`): the least a websocket broadcast server can
// do on fasthttp and fasthttp/websocket directly, the libraries under our server. The state
// and the broadcast are baseline.go's.

import (
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// bareMain is `loadgen bare-server`.
func bareMain(args []string) error {
	s, err := parseBaseline("bare", args)
	if err != nil {
		return err
	}
	if err := s.servePprof(); err != nil {
		return err
	}
	// The same buffer sizes as the real server's websocket endpoint.
	upgrader := websocket.FastHTTPUpgrader{
		ReadBufferSize:    1024,
		WriteBufferSize:   4096,
		CheckOrigin:       func(*fasthttp.RequestCtx) bool { return true },
		EnableCompression: s.deflate,
	}
	handle := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/ws" {
			if s.isStopping() {
				writeFastHTTP(ctx, errorResponse(503, "unavailable"))
				return
			}
			// Read before the upgrade: the request is gone when the handler runs.
			since, epoch := string(ctx.QueryArgs().Peek("since")), string(ctx.QueryArgs().Peek("epoch"))
			_ = upgrader.Upgrade(ctx, func(conn *websocket.Conn) { s.serveFastHTTP(conn, since, epoch) })
			return
		}
		writeFastHTTP(ctx, s.api(request{method: string(ctx.Method()), path: string(ctx.Path()),
			query:   func(k string) string { return string(ctx.QueryArgs().Peek(k)) },
			ifMatch: string(ctx.Request.Header.Peek("If-Match")), body: ctx.PostBody()}))
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{Handler: handle, Name: "bare", ReadTimeout: 15 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 120 * time.Second, NoDefaultServerHeader: true}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	_ = ln.Close()
	s.shutdown()
	return nil
}

func writeFastHTTP(ctx *fasthttp.RequestCtx, r response) {
	if r.session != "" {
		var c fasthttp.Cookie
		c.SetKey("pb_session")
		c.SetValue(r.session)
		c.SetPath("/")
		ctx.Response.Header.SetCookie(&c)
	}
	if r.etag != "" {
		ctx.Response.Header.Set("ETag", r.etag)
	}
	ctx.SetStatusCode(r.status)
	ctx.SetContentType("application/json")
	ctx.SetBody(r.body)
}

// serveFastHTTP runs one connection: the handler's goroutine writes, another reads.
func (s *baseline) serveFastHTTP(conn *websocket.Conn, since, epoch string) {
	s.wg.Add(1)
	defer s.wg.Done()
	bc, first, ok := s.join(since, epoch)
	if !ok {
		return
	}
	defer s.leave(bc)

	conn.SetReadLimit(bareReadLimit)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	defer func() {
		_ = conn.NetConn().SetReadDeadline(time.Unix(1, 0))
		<-readerDone
	}()
	write := func(m *bareMsg) error {
		_ = conn.SetWriteDeadline(time.Now().Add(bareWriteTimeout))
		if s.deflate {
			return conn.WritePreparedMessage(m.prepared(prepareFastHTTP).(*websocket.PreparedMessage))
		}
		return conn.WriteMessage(websocket.TextMessage, m.data)
	}
	bc.pump(first, readerDone, write, func(code int) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	})
}

// pump is a baseline connection's writer, the same for both libraries: the catch-up, then each
// broadcast message, until a write fails, the reader ends, or the connection is dropped (then
// closed with its code).
func (bc *bareConn) pump(first []*bareMsg, readerDone <-chan struct{}, write func(*bareMsg) error, closeWith func(code int)) {
	for _, m := range first {
		if write(m) != nil {
			return
		}
	}
	for {
		select {
		case m := <-bc.c:
			if write(m) != nil {
				return
			}
		case <-bc.done:
			closeWith(bc.code)
			return
		case <-readerDone:
			return
		}
	}
}

func prepareFastHTTP(data []byte) any {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		panic(err) // only a write to memory can fail: never
	}
	return pm
}
