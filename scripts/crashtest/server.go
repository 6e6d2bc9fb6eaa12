package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"projectboard/scripts/internal/harness"
	"projectboard/store"
)

const (
	adminPassword   = "crash-test-password"
	editorTokenName = "crash" // the api token's name: every change the editors make is "by" token:crash
	seedProjects    = 197     // the bundled jingyue-2022 data set: revisions 1–197
)

// serverProc is the projectboard server process, restartable on the same port and file.
type serverProc struct {
	bin, addr, dbPath string
	args              []string // more flags of serve (cluster mode: the etcd endpoints)
	log               *os.File

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	err    error         // cmd.Wait's answer, valid after exited is closed
}

// start starts the server and waits until /healthz answers.
func (s *serverProc) start(ctx context.Context) error {
	if err := s.spawn(); err != nil {
		return err
	}
	return s.waitHealthy(ctx)
}

// spawn starts the server process without waiting for it.
func (s *serverProc) spawn() error {
	if s.cmd != nil {
		return errors.New("start: the server is already running")
	}
	fmt.Fprintf(s.log, "\n=== crashtest: start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, append([]string{"serve", "--addr", s.addr, "--db", s.dbPath}, s.args...)...)
	cmd.Env = append(os.Environ(), "PROJECTBOARD_ADMIN_PASSWORD="+adminPassword)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = harness.ChildAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	return nil
}

// waitHealthy waits until /healthz answers 200.
func (s *serverProc) waitHealthy(ctx context.Context) error {
	err := harness.WaitOK(ctx, "http://"+s.addr+"/healthz", s.exited, time.Now().Add(20*time.Second), 10*time.Millisecond)
	switch {
	case errors.Is(err, harness.ErrExited):
		s.cmd = nil
		return fmt.Errorf("the server exited while starting (%v); see %s", s.err, s.log.Name())
	case errors.Is(err, harness.ErrTimeout):
		return fmt.Errorf("the server did not answer /healthz within 20 s; see %s", s.log.Name())
	}
	return err
}

// kill sends SIGKILL and waits until the process is gone (its file lock with it).
func (s *serverProc) kill() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("server pid %d still running 10 s after SIGKILL", s.cmd.Process.Pid)
	}
	fmt.Fprintf(s.log, "=== crashtest: SIGKILL %s\n", time.Now().Format(time.RFC3339Nano))
	s.cmd = nil
	return nil
}

// stopGracefully sends SIGTERM and expects a clean exit within wait.
func (s *serverProc) stopGracefully(wait time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(wait):
		return fmt.Errorf("the server did not stop within %v of SIGTERM", wait)
	}
	s.cmd = nil
	if s.err != nil {
		return fmt.Errorf("the server exited with %v on SIGTERM; see %s", s.err, s.log.Name())
	}
	return nil
}

func (s *serverProc) closeLog() {
	if s.log != nil {
		s.log.Close()
	}
}

// makeDir makes the temporary directory on disk and gets the binary.
func (t *test) makeDir(ctx context.Context) (bin string, err error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	base := os.TempDir()
	if harness.OnTmpfs(base) {
		// A crash test on memory proves nothing about files: use the repository's data/.
		base = filepath.Join(root, "data")
		if err := os.MkdirAll(base, 0o750); err != nil {
			return "", err
		}
	}
	if t.dir, err = os.MkdirTemp(base, "crashtest-"); err != nil {
		return "", err
	}
	if harness.OnTmpfs(t.dir) {
		return "", fmt.Errorf("%s is on tmpfs: the crash test needs a disk", t.dir)
	}
	if t.cfg.bin == "" {
		return harness.BuildServer(ctx, t.dir)
	}
	return filepath.Abs(t.cfg.bin)
}

// setup makes the directory, gets the binary, starts the first server and makes the tokens.
func (t *test) setup(ctx context.Context) error {
	bin, err := t.makeDir(ctx)
	if err != nil {
		return err
	}
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(t.dir, "server.log"))
	if err != nil {
		return err
	}
	t.srv = &serverProc{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port), dbPath: filepath.Join(t.dir, "pb.db"), log: logf}
	t.base = "http://" + t.srv.addr
	t.client = &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2*t.cfg.editors + 4, DisableCompression: true}}
	t.api = &harness.API{Base: t.base, HTTP: t.client}
	t.ledger = newLedger()
	t.gate = newGate()
	if t.cfg.firstStartKills > 0 {
		if err := t.killFirstStarts(ctx); err != nil {
			return err
		}
	}
	if err := t.srv.start(ctx); err != nil {
		return err
	}

	if err := t.api.Login(ctx, adminPassword); err != nil {
		return err
	}
	editorToken, err := t.api.NewToken(ctx, "api", editorTokenName, "editor")
	if err != nil {
		return fmt.Errorf("api token: %w", err)
	}
	displayToken, err := t.api.NewToken(ctx, "display", "crash-screen", "")
	if err != nil {
		return fmt.Errorf("display token: %w", err)
	}
	var meta struct {
		Epoch string `json:"epoch"`
		Rev   uint64 `json:"rev"`
	}
	if err := t.getJSON(ctx, "/api/meta", &meta); err != nil {
		return err
	}
	if meta.Rev != seedProjects || meta.Epoch == "" {
		return fmt.Errorf("a new database is at rev %d with epoch %q; want rev %d (the bundled projects)", meta.Rev, meta.Epoch, seedProjects)
	}
	t.epoch = meta.Epoch
	if err := t.listProjects(ctx, "a new database"); err != nil {
		return err
	}
	t.editorToken = editorToken
	t.sub = newSubscriber([]string{t.srv.addr}, 0, "screen", displayToken, t.epoch, t.findings)
	return nil
}

// getJSON GETs path with the admin session and decodes the 2xx answer into out.
func (t *test) getJSON(ctx context.Context, path string, out any) error {
	_, err := t.api.Call(ctx, "GET", path, "", nil, nil, out)
	return err
}

// killFirstStarts kills servers during their first start on new files (while they load the
// data set and create the admin account), restarts each once, and checks that the restart
// completed the file: every bundled project, a consistent file.
func (t *test) killFirstStarts(ctx context.Context) error {
	var v violationError
	for i := 1; i <= t.cfg.firstStartKills; i++ {
		p := &serverProc{bin: t.srv.bin, addr: t.srv.addr, log: t.srv.log,
			dbPath: filepath.Join(t.dir, fmt.Sprintf("first-start-%d.db", i))}
		if err := p.spawn(); err != nil {
			return err
		}
		after := time.Duration(t.rng.IntN(100)) * time.Millisecond
		time.Sleep(after)
		if err := p.kill(); err != nil {
			return err
		}
		if err := p.start(ctx); err != nil {
			return err
		}
		if err := p.kill(); err != nil {
			return err
		}
		st, err := store.Open(p.dbPath, store.Options{})
		if err != nil {
			return fmt.Errorf("first start %d: %w", i, err)
		}
		if err := st.Check(); err != nil {
			v = append(v, fmt.Sprintf("first start killed after %v: bbolt consistency check: %v", after, err))
		}
		if n, rev := st.Len(), st.Rev(); n != seedProjects || rev != seedProjects {
			v = append(v, fmt.Sprintf("first start killed after %v, then restarted: the file holds %d of the %d bundled projects (rev %d); "+
				"the restart did not finish loading the data set (%s)", after, n, seedProjects, rev, p.dbPath))
		}
		st.Close()
	}
	fmt.Fprintf(os.Stderr, "crashtest: killed %d first starts\n", t.cfg.firstStartKills)
	if len(v) > 0 {
		return v
	}
	return nil
}

// listProjects reads the bundled projects the editors work on (what: the board's name in
// errors).
func (t *test) listProjects(ctx context.Context, what string) error {
	var list struct {
		Projects []store.Project `json:"projects"`
	}
	if err := t.getJSON(ctx, "/api/projects", &list); err != nil {
		return err
	}
	for _, p := range list.Projects {
		t.projectIDs = append(t.projectIDs, p.ID)
		if !p.Stage.Completed() {
			// The editors set 形象进度 to any value: a completed project holds 100 only.
			t.editableIDs = append(t.editableIDs, p.ID)
		}
	}
	if len(t.projectIDs) != seedProjects {
		return fmt.Errorf("%s lists %d projects, want %d", what, len(t.projectIDs), seedProjects)
	}
	return nil
}
