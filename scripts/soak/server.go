package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"projectboard/scripts/internal/harness"
)

const adminPassword = "soak-password-123"

// serverProc is the real projectboard binary, serving a fresh database in the run's directory.
type serverProc struct {
	addr, metricsAddr string
	logPath           string

	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed once cmd has been waited for
	err    error         // cmd.Wait's answer, valid after exited is closed
}

// startServer starts bin on two free loopback ports and waits until it answers /healthz and
// /metrics.
func startServer(ctx context.Context, bin, dir string) (*serverProc, error) {
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	mport, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	s := &serverProc{addr: "127.0.0.1:" + strconv.Itoa(port), metricsAddr: "127.0.0.1:" + strconv.Itoa(mport),
		logPath: filepath.Join(dir, "server.log")}
	if s.log, err = os.Create(s.logPath); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--addr", s.addr, "--db", filepath.Join(dir, "pb.db"), "--metrics-addr", s.metricsAddr)
	cmd.Env = harness.ChildEnv("PROJECTBOARD_ADMIN_PASSWORD=" + adminPassword)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = harness.ChildAttr()
	if err := cmd.Start(); err != nil {
		s.log.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { s.err = cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for _, u := range []string{"http://" + s.addr + "/healthz", "http://" + s.metricsAddr + "/metrics"} {
		err := harness.WaitOK(ctx, u, s.exited, deadline, 20*time.Millisecond)
		switch {
		case errors.Is(err, harness.ErrExited):
			return nil, fmt.Errorf("the server exited while starting (%v); see %s", s.err, s.logPath)
		case errors.Is(err, harness.ErrTimeout):
			s.stop(5 * time.Second)
			return nil, fmt.Errorf("%s did not answer within 30 s; see %s", u, s.logPath)
		case err != nil:
			s.stop(5 * time.Second)
			return nil, err
		}
	}
	return s, nil
}

// stop sends SIGTERM, waits up to wait for a clean exit and then kills. It reports an
// unclean or late exit; the process is gone when it returns.
func (s *serverProc) stop(wait time.Duration) error {
	if s == nil || s.cmd == nil {
		return nil
	}
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.err != nil {
			return fmt.Errorf("the server exited with %v on SIGTERM; see %s", s.err, s.logPath)
		}
		return nil
	case <-time.After(wait):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("the server did not stop within %v of SIGTERM and was killed; see %s", wait, s.logPath)
}

// running reports whether the server process is still alive.
func (s *serverProc) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// sample is one scrape of the server's /metrics.
type sample struct {
	goroutines float64
	rss        float64 // bytes
	screens    float64 // open live connections
	drops      float64 // connections dropped with 4008 so far
	rev        float64
}

// scrape reads the metrics address (no login there). Keep-alives are off so that the
// scrape leaves no connection, and so no goroutine, behind on the server.
func scrape(ctx context.Context, metricsAddr string) (sample, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+metricsAddr+"/metrics", nil)
	if err != nil {
		return sample{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return sample{}, err
	}
	if res.StatusCode != http.StatusOK {
		return sample{}, fmt.Errorf("GET /metrics: %d", res.StatusCode)
	}
	return parseMetrics(b)
}

// parseMetrics picks the few series soak watches out of Prometheus text.
func parseMetrics(b []byte) (sample, error) {
	var s sample
	want := map[string]*float64{
		"go_goroutines":                   &s.goroutines,
		"process_resident_memory_bytes":   &s.rss,
		"projectboard_screens":            &s.screens,
		"projectboard_screen_drops_total": &s.drops,
		"projectboard_revision":           &s.rev,
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		p, tracked := want[name]
		if !ok || !tracked {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return s, fmt.Errorf("metrics: %s: %w", name, err)
		}
		*p, seen[name] = v, true
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if !seen[name] {
			return s, fmt.Errorf("metrics: no %s", name)
		}
	}
	return s, sc.Err()
}
