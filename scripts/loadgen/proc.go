package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"projectboard/scripts/internal/harness"
)

const adminPassword = "loadgen-password-1"

// server is one target process: ours (the projectboard binary) or a baseline (this binary's
// bare-server or gorilla-server subcommand). restart keeps the address and the database.
type server struct {
	kind    string // "ours", "ours-b", "bare" or "gorilla"
	bin     string
	args    []string
	env     []string
	addr    string
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
	// adopted is the process an in-place upgrade (SIGHUP) started: not our child, so it is
	// signalled and watched by PID.
	adopted   int
	pidFile   string
	oldExitAt time.Time     // when the process we started exited; read after exited is closed
	oldCPU    time.Duration // the CPU time it used in all
}

// newOurs is the projectboard binary on a new database in dir; pprofAddr, if set, is its
// metrics address with the profiler (the binary must take --pprof).
func newOurs(kind, bin, dir string, port int, pprofAddr string) *server {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	pidFile := filepath.Join(dir, "pb.pid")
	args := []string{"serve", "--addr", addr, "--db", filepath.Join(dir, "pb.db"), "--pid-file", pidFile}
	if pprofAddr != "" {
		args = append(args, "--metrics-addr", pprofAddr, "--pprof")
	}
	return &server{kind: kind, bin: bin, addr: addr, logPath: filepath.Join(dir, kind+".log"), pidFile: pidFile,
		args: args, env: harness.ChildEnv("PROJECTBOARD_ADMIN_PASSWORD=" + adminPassword)}
}

// newBaseline is this binary's kind-server subcommand sending the messages of pl.
// With durable, it commits every edit to a file in dir before broadcasting it, as ours does.
func newBaseline(kind, dir string, port int, pl payload, deflate, durable bool, pprofAddr string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{kind + "-server", "--addr", addr}
	if pl.file != "" {
		args = append(args, "--payload", pl.file)
	} else {
		args = append(args, "--msg-size", strconv.Itoa(pl.size), "--snap-size", strconv.Itoa(pl.snapSize))
	}
	if pprofAddr != "" {
		args = append(args, "--pprof-addr", pprofAddr)
	}
	if deflate {
		args = append(args, "--deflate")
	}
	if durable {
		args = append(args, "--sync", filepath.Join(dir, kind+".journal"))
	}
	return &server{kind: kind, bin: self, addr: addr, logPath: filepath.Join(dir, kind+".log"),
		args: args, env: harness.ChildEnv()}, nil
}

func (s *server) baseURL() string { return "http://" + s.addr }

func (s *server) pid() int {
	if s.adopted != 0 {
		return s.adopted
	}
	return s.cmd.Process.Pid
}

// upgrade sends SIGHUP (ours upgrades in place: a new process takes over the listening
// socket and the database) and waits until the new process has written its PID, i.e. is
// serving. The old process exits by itself.
func (s *server) upgrade(limit time.Duration) (newPID int, err error) {
	old := s.pid()
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(s.pidFile); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p != old {
				s.adopted = p
				return p, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("no new process within %s of SIGHUP (log %s): %s", limit, s.logPath, tail(s.logPath))
}

// start runs the process and waits until /healthz answers.
func (s *server) start(ctx context.Context, extraArgs ...string) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, append(append([]string{}, s.args...), extraArgs...)...)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// The child dies with us even if we are killed.
	cmd.SysProcAttr = harness.ChildAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.kind, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	exited := s.exited
	go func() {
		_ = cmd.Wait()
		s.oldExitAt, s.oldCPU = time.Now(), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()
		logf.Close()
		close(exited)
	}()
	return s.waitHealthy(ctx, 60*time.Second)
}

func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	err := harness.WaitOK(ctx, s.baseURL()+"/healthz", s.exited, time.Now().Add(limit), 10*time.Millisecond)
	switch {
	case errors.Is(err, harness.ErrExited):
		return fmt.Errorf("%s exited during start (log %s): %s", s.kind, s.logPath, tail(s.logPath))
	case errors.Is(err, harness.ErrTimeout):
		return fmt.Errorf("%s not healthy after %s (log %s)", s.kind, limit, s.logPath)
	}
	return err
}

// stop sends SIGTERM and waits for the exit (SIGKILL after limit).
func (s *server) stop(limit time.Duration) error {
	if s.cmd == nil {
		return nil
	}
	if s.adopted != 0 {
		return stopPID(s.kind, s.adopted, limit)
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not exit within %s of SIGTERM; killed", s.kind, limit)
	}
}

// kill sends SIGKILL and waits until the process has been reaped.
func (s *server) kill() error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return err
	}
	<-s.exited
	return nil
}

// stopPID stops a process that is not our child: SIGTERM, then SIGKILL after limit.
func stopPID(kind string, pid int, limit time.Duration) error {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(limit)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("%s (pid %d) did not exit within %s of SIGTERM; killed", kind, pid, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// rssKiB is VmRSS of a process.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTime is utime+stime of a process.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// clockTicks is USER_HZ, 100 on every Linux we run on.
const clockTicks = 100

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name may contain spaces and parentheses: fields start after the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(stat[i+1:])
	// After ')' come: state(3) ppid(4) … utime(14) stime(15); f[0] is field 3.
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad stat numbers")
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, err
		}
	}
	return rl.Cur, nil
}
