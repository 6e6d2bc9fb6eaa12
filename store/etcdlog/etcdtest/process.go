package etcdtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BuildMember builds the etcdmember command (scripts/etcdmember) into dir and returns the
// binary's path. A test package builds it once, in TestMain, and passes it to StartProcs;
// the go command must be on PATH and the working directory inside the module, as it is under
// go test.
func BuildMember(dir string) (string, error) {
	bin := filepath.Join(dir, "etcdmember")
	out, err := exec.Command("go", "build", "-o", bin, "projectboard/scripts/etcdmember").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build etcdmember: %w\n%s", err, out)
	}
	return bin, nil
}

// ProcOptions tune a ProcCluster.
type ProcOptions struct {
	// Binary is the etcdmember binary (BuildMember); required.
	Binary string
	// Members is the number of members, 3 when zero.
	Members int
	// LogLevel is etcd's level, "warn" when empty.
	LogLevel string
}

// ProcCluster is a real etcd cluster whose members are child processes (of the etcdmember
// binary) that can be SIGKILLed, as a crash would: unlike Cluster.Stop, which halts an
// in-process member's raft, nothing of a killed member runs on. Its methods may be called
// from several goroutines.
//
// No member outlives the test: Close kills and reaps them all, NewProcs registers Close as a
// cleanup (which runs when the test fails too), and on Linux the kernel SIGKILLs every member
// when the process that started it dies.
type ProcCluster struct {
	opt     ProcOptions
	dir     string
	initial string
	procs   []*Proc

	mu sync.Mutex
}

// Proc is one member of a ProcCluster.
type Proc struct {
	Name      string
	ClientURL string
	PeerURL   string
	DataDir   string
	LogFile   string // etcd's log
	OutFile   string // the process's standard error, appended across restarts

	cmd    *exec.Cmd     // nil while killed
	exited chan struct{} // closed when cmd has been reaped
}

// NewProcs starts a cluster of processes in the test's temp directory and kills it when the
// test ends, failed or not.
func NewProcs(tb testing.TB, opt ProcOptions) *ProcCluster {
	tb.Helper()
	c, err := StartProcs(tb.TempDir(), opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// StartProcs starts the members as processes with their data under dir and waits until
// every one serves clients and a leader is known. Close kills them.
func StartProcs(dir string, opt ProcOptions) (*ProcCluster, error) {
	return retryTaken(dir, func(dir string) (*ProcCluster, error) { return startProcs(dir, opt) })
}

func startProcs(dir string, opt ProcOptions) (*ProcCluster, error) {
	if opt.Binary == "" {
		return nil, errors.New("etcdtest: ProcOptions.Binary is required (BuildMember)")
	}
	if opt.Members == 0 {
		opt.Members = 3
	}
	if opt.LogLevel == "" {
		opt.LogLevel = "warn"
	}
	c := &ProcCluster{opt: opt, dir: dir}
	var initial []string
	for i := 0; i < opt.Members; i++ {
		cu, err := freeURL()
		if err != nil {
			return nil, err
		}
		pu, err := freeURL()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("m%d", i)
		p := &Proc{
			Name:      name,
			ClientURL: cu.String(),
			PeerURL:   pu.String(),
			DataDir:   filepath.Join(dir, name),
			LogFile:   filepath.Join(dir, name+".log"),
			OutFile:   filepath.Join(dir, name+".stderr"),
		}
		c.procs = append(c.procs, p)
		initial = append(initial, name+"="+p.PeerURL)
	}
	c.initial = strings.Join(initial, ",")

	// The members of a new cluster wait for each other before they are ready: start them
	// all, then wait.
	var wg sync.WaitGroup
	errs := make([]error, len(c.procs))
	for i := range c.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(i, "new")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.WaitLeader(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// start runs member i's process and waits for its ready line.
func (c *ProcCluster) start(i int, state string) error {
	p := c.procs[i]
	out, err := os.OpenFile(p.OutFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(c.opt.Binary,
		"--name", p.Name,
		"--data-dir", p.DataDir,
		"--client-url", p.ClientURL,
		"--peer-url", p.PeerURL,
		"--initial-cluster", c.initial,
		"--initial-cluster-state", state,
		"--initial-cluster-token", "projectboard-test",
		"--log-file", p.LogFile,
		"--log-level", c.opt.LogLevel,
	)
	cmd.Stderr = out
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	c.mu.Lock()
	if p.cmd != nil {
		c.mu.Unlock()
		return fmt.Errorf("etcdtest: member %s is running", p.Name)
	}
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	c.mu.Unlock()

	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "etcdmember "+p.Name+" ready ") {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		cmd.Wait() // after stdout is drained, as exec requires
		close(exited)
	}()
	select {
	case ok := <-ready:
		if ok {
			return nil
		}
		<-exited
		c.forget(p, cmd)
		// The files go with the test's directory: say what they hold (a port taken by
		// another process between freeURL and the start is the usual reason).
		return fmt.Errorf("etcd member %s exited before ready: %v\nstderr: %s\nlog: %s", p.Name, cmd.ProcessState,
			tail(p.OutFile, 600), tail(p.LogFile, 600))
	case <-time.After(60 * time.Second):
		c.Kill(i)
		return fmt.Errorf("etcd member %s not ready after 60 s (see %s and %s)", p.Name, p.OutFile, p.LogFile)
	}
}

// forget clears p's process if it is still cmd.
func (c *ProcCluster) forget(p *Proc, cmd *exec.Cmd) {
	c.mu.Lock()
	if p.cmd == cmd {
		p.cmd = nil
	}
	c.mu.Unlock()
}

// Procs returns the members, running or killed, in a fixed order.
func (c *ProcCluster) Procs() []*Proc { return c.procs }

// Pid returns member i's process id, 0 while it is killed.
func (c *ProcCluster) Pid(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd := c.procs[i].cmd; cmd != nil {
		return cmd.Process.Pid
	}
	return 0
}

// Endpoints returns the client URLs of the running members.
func (c *ProcCluster) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for _, p := range c.procs {
		if p.cmd != nil {
			eps = append(eps, p.ClientURL)
		}
	}
	return eps
}

// Kill SIGKILLs member i and waits until its process is reaped. Killing a killed member
// does nothing.
func (c *ProcCluster) Kill(i int) {
	p := c.procs[i]
	c.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Terminate stops member i cleanly: SIGTERM, on which etcdmember closes the member
// (handing leadership over if it leads) and exits 0. After timeout it is SIGKILLed. It
// returns the process's exit error, nil for a clean exit.
func (c *ProcCluster) Terminate(i int, timeout time.Duration) error {
	p := c.procs[i]
	c.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("etcd member %s still running %v after SIGTERM, killed", p.Name, timeout)
	}
	if !cmd.ProcessState.Success() {
		return fmt.Errorf("etcd member %s: %v after SIGTERM (see %s)", p.Name, cmd.ProcessState, p.OutFile)
	}
	return nil
}

// Restart starts killed (or terminated) member i again on its data directory and ports,
// joining the existing cluster, and waits until it serves clients (it may still be catching
// up).
func (c *ProcCluster) Restart(i int) error {
	return c.start(i, "existing")
}

// Leader returns the index of the running member that is leader in its own view and in the
// view of every other running member, or -1 while there is none or a member does not answer
// within a second.
func (c *ProcCluster) Leader() int {
	cli, err := c.NewClient() // Status dials the member it is asked about
	if err != nil {
		return -1
	}
	defer cli.Close()
	leader := -1
	var id uint64
	for i, p := range c.procs {
		if c.Pid(i) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := cli.Status(ctx, p.ClientURL)
		cancel()
		if err != nil || st.Leader == 0 || (id != 0 && st.Leader != id) {
			return -1
		}
		id = st.Leader
		if st.Header.MemberId == st.Leader {
			leader = i
		}
	}
	return leader
}

// WaitLeader polls Leader every 50 ms until there is one or timeout has passed.
func (c *ProcCluster) WaitLeader(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := c.Leader(); l >= 0 {
			return l, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("etcdtest: no leader after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewClient returns a client of the given endpoints, all running members when none are given.
func (c *ProcCluster) NewClient(endpoints ...string) (*clientv3.Client, error) {
	return dial(endpoints, c.Endpoints)
}

// Client is NewClient for a test: it fails the test on error and closes the client when the
// test ends.
func (c *ProcCluster) Client(tb testing.TB, endpoints ...string) *clientv3.Client {
	tb.Helper()
	return clientFor(tb, c.NewClient, endpoints)
}

// Close SIGKILLs every running member and reaps it. A test that wants a clean shutdown
// sends SIGTERM itself; at the end of a test the data is thrown away, and a kill cannot hang.
func (c *ProcCluster) Close() {
	for i := range c.procs {
		c.Kill(i)
	}
}

// tail is the last n bytes of a file, for an error message.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-n):])
}
