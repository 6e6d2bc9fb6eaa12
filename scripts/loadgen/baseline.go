package main

// What the two bare baselines share: the few endpoints the load code uses, in the same shapes
// as Projectboard, and the broadcast. An edit takes the next revision, encodes one message of
// the size of a real change message and puts the same bytes into every connection's bounded
// queue; one writer goroutine per connection sends them with its library's WriteMessage.
// Unless loadgen runs with --sync=false, an edit is first made durable as ours makes it
// (journal: the message and then the revision, each fdatasync'd, in the directory of ours'
// database), so that the latency from the PATCH holds the same disk waits. Each runs as its own process (`loadgen bare-server`, `loadgen
// gorilla-server`), so its memory and CPU are read from /proc exactly like the real server's.
// Only the transport differs: fasthttp + fasthttp/websocket (bare.go) or net/http +
// gorilla/websocket (gorilla.go).

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"projectboard/server/feedwire"
	"projectboard/store"
)

const (
	bareQueue        = 1024 // messages a connection may fall behind
	bareWriteTimeout = 10 * time.Second
	bareReadLimit    = 4096
)

type bareProject struct {
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Progress int    `json:"progress"`
	template []byte // ours' change message its edits send, if given
}

type bareChange struct {
	Rev       uint64 `json:"rev"`
	ProjectID string `json:"projectId"`
	msg       *bareMsg
}

// bareMsg is one encoded message, the same for every connection.
type bareMsg struct {
	data []byte
	once sync.Once
	prep any // the transport's prepared message, with --deflate
}

// prepared is the message prepared once for every connection by the transport's make
// (gorilla's and fasthttp's PreparedMessage: plain and compressed frames, each made once).
func (m *bareMsg) prepared(make func([]byte) any) any {
	m.once.Do(func() { m.prep = make(m.data) })
	return m.prep
}

// bareConn is one connection's queue, filled by the broadcast and emptied by its writer.
type bareConn struct {
	c    chan *bareMsg
	done chan struct{}
	once sync.Once
	code int
}

func (b *bareConn) drop(code int) {
	b.once.Do(func() { b.code = code; close(b.done) })
}

// baseline is the state of a bare server.
type baseline struct {
	name      string // "bare" or "gorilla": the build it announces
	addr      string
	pprofAddr string
	msgSize   int
	snapSize  int
	snapTmpl  []byte // ours' snapshot, if given
	epoch     string
	// deflate: connections may negotiate permessage-deflate, and every message is then
	// written as a prepared message, compressed once for all of them (as ours does).
	deflate bool
	// journal, if set, is where each edit is made durable before it is broadcast and
	// answered, as ours commits (--sync).
	journal *journal

	mu       sync.Mutex
	rev      uint64
	first    uint64 // the oldest revision whose message is kept (revisions before a restart are not)
	projects map[string]*bareProject
	order    []string
	changes  []bareChange
	conns    map[*bareConn]struct{}
	snapRev  uint64
	snapshot *bareMsg
	helloRev uint64
	hello    *bareMsg // encoded once a revision, as ours does

	wg       sync.WaitGroup // connections being served
	stopping chan struct{}
}

// parseBaseline reads the flags both bare servers take.
func parseBaseline(name string, args []string) (*baseline, error) {
	f := flag.NewFlagSet(name+"-server", flag.ContinueOnError)
	addr := f.String("addr", "127.0.0.1:8090", "listen address")
	msgSize := f.Int("msg-size", defaultChangeSize, "bytes of each change message, padded (without --payload)")
	snapSize := f.Int("snap-size", defaultSnapshotSize, "bytes of the snapshot message, padded (without --payload)")
	payloadFile := f.String("payload", "", "ours' messages to send, with this server's revisions written in: "+
		"the snapshot, then one change message a line, the nth for edits of the nth project")
	rev := f.Uint64("rev", 0, "revision to start at (so a restart continues the sequence)")
	epoch := f.String("epoch", name+"-epoch", "epoch announced in hello")
	nProjects := f.Int("projects", 197, "projects to serve (with --payload: one for each change message)")
	pprofAddr := f.String("pprof-addr", "", "serve /debug/pprof on this address")
	deflate := f.Bool("deflate", false, "negotiate permessage-deflate and write prepared messages, each compressed once")
	syncPath := f.String("sync", "", "commit each edit to this file before broadcasting it: its message appended and fdatasync'd, then the revision written at the file's head and fdatasync'd — bbolt's two fdatasyncs, as ours commits")
	if err := f.Parse(args); err != nil {
		return nil, err
	}
	s := &baseline{name: name, addr: *addr, pprofAddr: *pprofAddr, msgSize: *msgSize, snapSize: *snapSize,
		deflate: *deflate, epoch: *epoch, rev: *rev, first: *rev + 1, projects: map[string]*bareProject{},
		conns: map[*bareConn]struct{}{}, stopping: make(chan struct{})}
	if *syncPath != "" {
		j, err := openJournal(*syncPath)
		if err != nil {
			return nil, err
		}
		s.journal = j
	}
	var templates [][]byte
	if *payloadFile != "" {
		b, err := os.ReadFile(*payloadFile)
		if err != nil {
			return nil, err
		}
		lines := bytes.Split(b, []byte("\n"))
		if len(lines) < 2 {
			return nil, fmt.Errorf("--payload %s: no change messages", *payloadFile)
		}
		if len(lines[0]) > 0 {
			s.snapTmpl = lines[0]
		}
		templates = lines[1:]
		*nProjects = len(templates)
	}
	for i := 0; i < *nProjects; i++ {
		p := &bareProject{ID: fmt.Sprintf("%s-%03d", name, i+1), Version: 1}
		if templates != nil {
			p.template = templates[i]
		}
		s.projects[p.ID] = p
		s.order = append(s.order, p.ID)
	}
	return s, nil
}

// servePprof serves the profiler on its own address, if asked, never on the measured one.
func (s *baseline) servePprof() error {
	if s.pprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.pprofAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}

// shutdown is what the real server does at SIGTERM: refuse new sockets, close every open one
// with 1001, wait for them.
func (s *baseline) shutdown() {
	close(s.stopping)
	s.mu.Lock()
	for c := range s.conns {
		c.drop(1001)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		slog.Warn(s.name + "-server: sockets still open at exit")
	}
}

func (s *baseline) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// request is an HTTP request as the transports hand it over.
type request struct {
	method, path string
	query        func(string) string
	ifMatch      string
	body         []byte
}

// response is the answer the transports write.
type response struct {
	status  int
	body    []byte
	session string // a pb_session cookie to set
	etag    string
}

func jsonResponse(status int, v any) response {
	b, _ := json.Marshal(v)
	return response{status: status, body: b}
}

func errorResponse(status int, code string) response {
	return jsonResponse(status, map[string]any{"error": map[string]string{"code": code}})
}

// api answers every request but the websocket's.
func (s *baseline) api(r request) response {
	switch {
	case r.path == "/healthz":
		return jsonResponse(200, map[string]string{"status": "ok"})
	case r.path == "/api/session" && r.method == "POST":
		out := jsonResponse(200, map[string]any{"user": map[string]string{"username": "admin"}})
		out.session = s.name + "-session"
		return out
	case r.path == "/api/tokens" && r.method == "POST":
		var req struct{ Kind string }
		_ = json.Unmarshal(r.body, &req)
		return jsonResponse(201, map[string]string{"token": s.name + "-" + req.Kind, "kind": req.Kind})
	case r.path == "/api/meta":
		s.mu.Lock()
		rev := s.rev
		s.mu.Unlock()
		return jsonResponse(200, map[string]any{"epoch": s.epoch, "rev": rev, "build": s.name})
	case r.path == "/api/projects" && r.method == "GET":
		s.mu.Lock()
		ps := make([]bareProject, 0, len(s.order))
		for _, id := range s.order {
			ps = append(ps, *s.projects[id])
		}
		rev := s.rev
		s.mu.Unlock()
		return jsonResponse(200, map[string]any{"rev": rev, "projects": ps})
	case strings.HasPrefix(r.path, "/api/projects/") && r.method == "PATCH":
		return s.edit(strings.TrimPrefix(r.path, "/api/projects/"), r.ifMatch, r.body)
	case r.path == "/api/changes":
		return s.changesSince(r.query("since"), r.query("limit"))
	default:
		return errorResponse(404, "not_found")
	}
}

// edit "commits" an edit: next revision, one encoded message, broadcast.
func (s *baseline) edit(id, ifMatch string, body []byte) response {
	var patch struct {
		Progress *int `json:"progress"`
	}
	if err := json.Unmarshal(body, &patch); err != nil || patch.Progress == nil {
		return errorResponse(400, "bad_json")
	}
	ifMatch = strings.Trim(ifMatch, `"`)
	s.mu.Lock()
	p := s.projects[id]
	if p == nil {
		s.mu.Unlock()
		return errorResponse(404, "not_found")
	}
	if strconv.FormatInt(p.Version, 10) != ifMatch {
		cur := *p
		s.mu.Unlock()
		return jsonResponse(412, map[string]any{"error": map[string]string{"code": "version_mismatch"}, "current": cur})
	}
	s.rev++
	p.Version++
	p.Progress = *patch.Progress
	m := &bareMsg{data: s.changeMessage(s.rev, p)}
	if s.journal != nil {
		// Durable before anyone sees it, edits one at a time: as ours' writer commits.
		if err := s.journal.commit(s.rev, m.data); err != nil {
			s.rev--
			p.Version--
			s.mu.Unlock()
			slog.Error(s.name+"-server: commit", "err", err)
			return errorResponse(500, "internal")
		}
	}
	s.changes = append(s.changes, bareChange{Rev: s.rev, ProjectID: id, msg: m})
	for c := range s.conns {
		select {
		case c.c <- m:
		default:
			delete(s.conns, c)
			c.drop(4008)
		}
	}
	out := *p
	s.mu.Unlock()
	res := jsonResponse(200, out)
	res.etag = `"` + strconv.FormatInt(out.Version, 10) + `"`
	return res
}

// changeMessage is ours' message for the project with this revision written in, or a
// feedwire.Change of an edit of its progress, with the project's note padded so that the
// message is msgSize bytes.
func (s *baseline) changeMessage(rev uint64, p *bareProject) []byte {
	if p.template != nil {
		return withRev(p.template, rev)
	}
	project, _ := json.Marshal(struct {
		ID   string `json:"id"`
		Note string `json:"note"`
	}{ID: p.ID})
	b, err := json.Marshal(feedwire.Change{Type: feedwire.TypeChange, Rev: rev, Project: project,
		Change: store.Change{Rev: rev, ProjectID: p.ID, Kind: store.ChangeUpdate,
			Fields: map[string]store.FieldChange{"progress": {From: 0, To: 1}}}})
	if err != nil {
		panic(err) // the values are plain: marshalling cannot fail
	}
	// The project is the last member: the message ends with its note's closing quote, `"}}`.
	tail := len(b) - len(`"}}`)
	return padded(string(b[:tail]), string(b[tail:]), s.msgSize)
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

func (s *baseline) changesSince(sinceText, limitText string) response {
	since, _ := strconv.ParseUint(sinceText, 10, 64)
	limit, err := strconv.Atoi(limitText)
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
	return jsonResponse(200, map[string]any{"changes": out})
}

// join registers a new connection that asked for since and epoch (empty: a new screen); it
// returns the messages to send it before its queue: hello, then the snapshot or (resuming)
// the changes after since. ok is false once the server is stopping.
func (s *baseline) join(sinceText, epoch string) (bc *bareConn, first []*bareMsg, ok bool) {
	since, sinceErr := strconv.ParseUint(sinceText, 10, 64)
	resume := sinceErr == nil && epoch == s.epoch
	bc = &bareConn{c: make(chan *bareMsg, bareQueue), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isStopping() {
		return nil, nil, false
	}
	s.conns[bc] = struct{}{}
	rev := s.rev
	if s.hello == nil || s.helloRev != rev {
		b, err := json.Marshal(feedwire.Hello{Type: feedwire.TypeHello, Epoch: s.epoch, Rev: rev, Build: s.name})
		if err != nil {
			panic(err) // strings and a number: marshalling cannot fail
		}
		s.hello, s.helloRev = &bareMsg{data: b}, rev
	}
	first = append(first, s.hello)
	if resume && since <= rev && since+1 >= s.first {
		for _, c := range s.changes {
			if c.Rev > since {
				first = append(first, c.msg)
			}
		}
		return bc, first, true
	}
	if s.snapshot == nil || s.snapRev != rev {
		if s.snapTmpl != nil {
			s.snapshot = &bareMsg{data: withRev(s.snapTmpl, rev)}
		} else {
			s.snapshot = &bareMsg{data: padded(`{"type":"snapshot","rev":`+strconv.FormatUint(rev, 10)+`,"projects":[],"pad":"`, `"}`, s.snapSize)}
		}
		s.snapRev = rev
	}
	return bc, append(first, s.snapshot), true
}

func (s *baseline) leave(bc *bareConn) {
	s.mu.Lock()
	delete(s.conns, bc)
	s.mu.Unlock()
}

// journal is a baseline's stand-in for ours' database file: what an edit costs on disk.
type journal struct {
	f    *os.File
	end  int64
	head [8]byte
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &journal{f: f, end: int64(len(journal{}.head))}, nil
}

// commit appends msg and syncs, then writes rev at the head and syncs again: bbolt's two
// fdatasyncs (the data pages, then the meta page).
func (j *journal) commit(rev uint64, msg []byte) error {
	if _, err := j.f.WriteAt(msg, j.end); err != nil {
		return err
	}
	j.end += int64(len(msg))
	if err := syscall.Fdatasync(int(j.f.Fd())); err != nil {
		return err
	}
	binary.BigEndian.PutUint64(j.head[:], rev)
	if _, err := j.f.WriteAt(j.head[:], 0); err != nil {
		return err
	}
	return syscall.Fdatasync(int(j.f.Fd()))
}
