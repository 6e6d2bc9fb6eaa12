package main

// The bare baseline: the least a websocket broadcast server can do, built on fasthttp and
// fasthttp/websocket directly. It serves the few endpoints the load code uses, in the same
// shapes as Projectboard, so one driver measures both: an edit takes the next revision,
// encodes one message of the size of a real change message and puts the same bytes into
// every connection's bounded queue; one writer goroutine per connection sends them. It keeps
// nothing on disk. It runs as its own process (`loadgen bare-server`), so its memory and CPU
// are read from /proc exactly like the real server's.

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

const (
	bareQueue        = 1024 // messages a connection may fall behind, as the real hub
	bareWriteTimeout = 10 * time.Second
	bareReadLimit    = 4096
)

type bareProject struct {
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Progress int    `json:"progress"`
}

type bareChange struct {
	Rev       uint64 `json:"rev"`
	ProjectID string `json:"projectId"`
	data      []byte
}

type bareConn struct {
	c    chan []byte
	done chan struct{}
	once sync.Once
	code int
}

func (b *bareConn) drop(code int) {
	b.once.Do(func() { b.code = code; close(b.done) })
}

type bareServer struct {
	msgSize, snapSize int
	epoch             string

	mu       sync.Mutex
	rev      uint64
	first    uint64 // the oldest revision whose message is kept (revisions before a restart are not)
	projects map[string]*bareProject
	order    []string
	changes  []bareChange
	conns    map[*bareConn]struct{}
	snapRev  uint64
	snapshot []byte

	wg       sync.WaitGroup
	stopping chan struct{}
	upgrader websocket.FastHTTPUpgrader
}

// bareMain is `loadgen bare-server`.
func bareMain(args []string) error {
	f := flag.NewFlagSet("bare-server", flag.ContinueOnError)
	addr := f.String("addr", "127.0.0.1:8090", "listen address")
	msgSize := f.Int("msg-size", defaultChangeSize, "bytes of each change message")
	snapSize := f.Int("snap-size", defaultSnapshotSize, "bytes of the snapshot message")
	rev := f.Uint64("rev", 0, "revision to start at (so a restart continues the sequence)")
	epoch := f.String("epoch", "bare-epoch", "epoch announced in hello")
	nProjects := f.Int("projects", 197, "projects to serve")
	if err := f.Parse(args); err != nil {
		return err
	}
	s := &bareServer{msgSize: *msgSize, snapSize: *snapSize, epoch: *epoch, rev: *rev, first: *rev + 1,
		projects: map[string]*bareProject{}, conns: map[*bareConn]struct{}{}, stopping: make(chan struct{})}
	for i := 0; i < *nProjects; i++ {
		p := &bareProject{ID: fmt.Sprintf("bare-%03d", i+1), Version: 1, Progress: 0}
		s.projects[p.ID] = p
		s.order = append(s.order, p.ID)
	}
	// The same buffer sizes as the real server's websocket endpoint.
	s.upgrader = websocket.FastHTTPUpgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*fasthttp.RequestCtx) bool { return true },
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{Handler: s.handle, Name: "bare", ReadTimeout: 15 * time.Second,
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
	// Like the real server: refuse new sockets, close every open one with 1001, then go.
	close(s.stopping)
	_ = ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.drop(websocket.CloseGoingAway)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		slog.Warn("bare-server: sockets still open at exit")
	}
	return nil
}

func (s *bareServer) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	method := string(ctx.Method())
	switch {
	case path == "/healthz":
		bareJSON(ctx, 200, map[string]string{"status": "ok"})
	case path == "/ws":
		s.handleWS(ctx)
	case path == "/api/session" && method == "POST":
		var c fasthttp.Cookie
		c.SetKey("pb_session")
		c.SetValue("bare-session")
		c.SetPath("/")
		ctx.Response.Header.SetCookie(&c)
		bareJSON(ctx, 200, map[string]any{"user": map[string]string{"username": "admin"}})
	case path == "/api/tokens" && method == "POST":
		var req struct{ Kind string }
		_ = json.Unmarshal(ctx.PostBody(), &req)
		bareJSON(ctx, 201, map[string]string{"token": "bare-" + req.Kind, "kind": req.Kind})
	case path == "/api/meta":
		s.mu.Lock()
		rev := s.rev
		s.mu.Unlock()
		bareJSON(ctx, 200, map[string]any{"epoch": s.epoch, "rev": rev, "build": "bare"})
	case path == "/api/projects" && method == "GET":
		s.mu.Lock()
		ps := make([]bareProject, 0, len(s.order))
		for _, id := range s.order {
			ps = append(ps, *s.projects[id])
		}
		rev := s.rev
		s.mu.Unlock()
		bareJSON(ctx, 200, map[string]any{"rev": rev, "projects": ps})
	case strings.HasPrefix(path, "/api/projects/") && method == "PATCH":
		s.handleEdit(ctx, strings.TrimPrefix(path, "/api/projects/"))
	case path == "/api/changes":
		s.handleChanges(ctx)
	default:
		bareJSON(ctx, 404, map[string]any{"error": map[string]string{"code": "not_found"}})
	}
}

func bareJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// handleEdit "commits" an edit: next revision, one encoded message, broadcast.
func (s *bareServer) handleEdit(ctx *fasthttp.RequestCtx, id string) {
	var patch struct {
		Progress *int `json:"progress"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &patch); err != nil || patch.Progress == nil {
		bareJSON(ctx, 400, map[string]any{"error": map[string]string{"code": "bad_json"}})
		return
	}
	ifMatch := strings.Trim(string(ctx.Request.Header.Peek("If-Match")), `"`)
	s.mu.Lock()
	p := s.projects[id]
	if p == nil {
		s.mu.Unlock()
		bareJSON(ctx, 404, map[string]any{"error": map[string]string{"code": "not_found"}})
		return
	}
	if strconv.FormatInt(p.Version, 10) != ifMatch {
		cur := *p
		s.mu.Unlock()
		bareJSON(ctx, 412, map[string]any{"error": map[string]string{"code": "version_mismatch"}, "current": cur})
		return
	}
	s.rev++
	p.Version++
	p.Progress = *patch.Progress
	data := s.changeMessage(s.rev, id)
	s.changes = append(s.changes, bareChange{Rev: s.rev, ProjectID: id, data: data})
	for c := range s.conns {
		select {
		case c.c <- data:
		default:
			delete(s.conns, c)
			c.drop(4008)
		}
	}
	out := *p
	s.mu.Unlock()
	ctx.Response.Header.Set("ETag", `"`+strconv.FormatInt(out.Version, 10)+`"`)
	bareJSON(ctx, 200, out)
}

// changeMessage has the shape of a real change message, padded to msgSize bytes.
func (s *bareServer) changeMessage(rev uint64, id string) []byte {
	r := strconv.FormatUint(rev, 10)
	head := `{"type":"change","rev":` + r + `,"change":{"rev":` + r + `,"projectId":"` + id +
		`","kind":"update","fields":{"progress":{"from":0,"to":1}}},"project":{"id":"` + id + `","note":"`
	tail := `"}}`
	return padded(head, tail, s.msgSize)
}

func padded(head, tail string, size int) []byte {
	n := size - len(head) - len(tail)
	if n < 0 {
		n = 0
	}
	b := make([]byte, 0, len(head)+n+len(tail))
	b = append(b, head...)
	for i := 0; i < n; i++ {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

func (s *bareServer) handleChanges(ctx *fasthttp.RequestCtx) {
	since, _ := strconv.ParseUint(string(ctx.QueryArgs().Peek("since")), 10, 64)
	limit, err := strconv.Atoi(string(ctx.QueryArgs().Peek("limit")))
	if err != nil || limit <= 0 || limit > 1000 {
		limit = 100
	}
	s.mu.Lock()
	out := []bareChange{}
	for _, c := range s.changes {
		if c.Rev > since && len(out) < limit {
			out = append(out, c)
		}
	}
	s.mu.Unlock()
	bareJSON(ctx, 200, map[string]any{"changes": out})
}

func (s *bareServer) handleWS(ctx *fasthttp.RequestCtx) {
	select {
	case <-s.stopping:
		bareJSON(ctx, 503, map[string]any{"error": map[string]string{"code": "unavailable"}})
		return
	default:
	}
	since, sinceErr := strconv.ParseUint(string(ctx.QueryArgs().Peek("since")), 10, 64)
	epoch := string(ctx.QueryArgs().Peek("epoch"))
	resume := sinceErr == nil && epoch == s.epoch
	err := s.upgrader.Upgrade(ctx, func(conn *websocket.Conn) {
		s.wg.Add(1)
		defer s.wg.Done()
		s.serve(conn, resume, since)
	})
	if err != nil {
		return
	}
}

func (s *bareServer) serve(conn *websocket.Conn, resume bool, since uint64) {
	bc := &bareConn{c: make(chan []byte, bareQueue), done: make(chan struct{})}
	s.mu.Lock()
	select {
	case <-s.stopping:
		s.mu.Unlock()
		return
	default:
	}
	s.conns[bc] = struct{}{}
	rev := s.rev
	var backlog [][]byte
	snapshot := true
	if resume && since <= rev && since+1 >= s.first {
		snapshot = false
		for _, c := range s.changes {
			if c.Rev > since {
				backlog = append(backlog, c.data)
			}
		}
	}
	var snap []byte
	if snapshot {
		if s.snapshot == nil || s.snapRev != rev {
			s.snapshot = padded(`{"type":"snapshot","rev":`+strconv.FormatUint(rev, 10)+`,"projects":[],"pad":"`, `"}`, s.snapSize)
			s.snapRev = rev
		}
		snap = s.snapshot
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, bc)
		s.mu.Unlock()
	}()

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
	write := func(b []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(bareWriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	hello := []byte(`{"type":"hello","epoch":"` + s.epoch + `","rev":` + strconv.FormatUint(rev, 10) + `,"build":"bare"}`)
	if write(hello) != nil {
		return
	}
	if snap != nil && write(snap) != nil {
		return
	}
	for _, b := range backlog {
		if write(b) != nil {
			return
		}
	}
	for {
		select {
		case b := <-bc.c:
			if write(b) != nil {
				return
			}
		case <-bc.done:
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(bc.code, ""), time.Now().Add(time.Second))
			return
		case <-readerDone:
			return
		}
	}
}
