package etcdtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The etcdmember binary is built once per test binary, by the first test that needs it, into
// a directory TestMain removes.
var member struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if member.dir != "" {
		os.RemoveAll(member.dir)
	}
	os.Exit(code)
}

// memberBinary returns the etcdmember binary, building it on first use; a helper process
// (below) is given its parent's.
func memberBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ETCDTEST_MEMBER_BINARY"); bin != "" {
		return bin
	}
	member.once.Do(func() {
		member.dir, member.err = os.MkdirTemp("", "etcdtest-bin-")
		if member.err == nil {
			member.bin, member.err = BuildMember(member.dir)
		}
	})
	if member.err != nil {
		t.Fatal(member.err)
	}
	return member.bin
}

// TestProcsWriteOnOneReadOnAnother writes through one member and reads through another,
// then stops the first with SIGTERM and restarts it.
func TestProcsWriteOnOneReadOnAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("builds etcdmember and starts three processes")
	}
	c := NewProcs(t, ProcOptions{Binary: memberBinary(t)})
	ps := c.Procs()
	w := c.Client(t, ps[0].ClientURL)
	r := c.Client(t, ps[2].ClientURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	put, err := w.Put(ctx, "/pb/test", "written on m0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, "/pb/test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "written on m0" || got.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("got %v on m2, want the value written on m0 at revision %d", got.Kvs, put.Header.Revision)
	}

	// SIGTERM: the member closes and exits 0; on restart it has the write.
	if err := c.Terminate(0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	got, err = w.Get(ctx, "/pb/test", clientv3.WithSerializable())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != 1 || got.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("got %v on m0 after its restart, want the write at revision %d", got.Kvs, put.Header.Revision)
	}
}

// TestProcsLeaderKilled SIGKILLs the leader five times under a writer that keeps writing
// through all three endpoints, measures the time from the kill to the first write (begun
// after the kill) that succeeds, restarts the killed member on its data directory and checks
// that it catches up. At the end no acknowledged write is missing and no member process is
// left.
func TestProcsLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("elections take seconds")
	}
	c := NewProcs(t, ProcOptions{Binary: memberBinary(t)})
	var pids []int
	for i := range c.Procs() {
		pids = append(pids, c.Pid(i))
	}
	cli := c.Client(t) // all three endpoints
	load := loadavg()

	type write struct {
		begun, done time.Time
		n           int
		rev         int64
	}
	var (
		mu     sync.Mutex
		acks   []write // successful writes, in order
		failed int
	)
	const writeTimeout = 100 * time.Millisecond
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			begun := time.Now()
			// The timeout is the measurement's resolution: a write begun while there is no
			// leader waits for it, and the first write to succeed is one begun after the
			// election. Writes here take tens of milliseconds.
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			resp, err := cli.Put(ctx, "/pb/proc", strconv.Itoa(n))
			cancel()
			mu.Lock()
			if err == nil {
				acks = append(acks, write{begun, time.Now(), n, resp.Header.Revision})
			} else {
				failed++
			}
			mu.Unlock()
		}
	}()
	defer func() { // stops the writer when the test fails too
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-writerDone
	}()
	lastAck := func() write {
		mu.Lock()
		defer mu.Unlock()
		if len(acks) == 0 {
			return write{}
		}
		return acks[len(acks)-1]
	}

	const rounds = 5
	var pauses, catchUps []time.Duration
	for round := range rounds {
		leader, err := c.WaitLeader(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // writes flowing through the settled cluster

		killed := time.Now()
		c.Kill(leader)
		var first write
		for first.n == 0 {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("round %d: no write succeeded 30 s after the leader was killed", round)
			}
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			for _, w := range acks[max(len(acks)-50, 0):] {
				if !w.begun.Before(killed) {
					first = w
					break
				}
			}
			mu.Unlock()
		}
		pause := first.done.Sub(killed)
		pauses = append(pauses, pause)

		// Restarted on its data directory, the member catches up: its own endpoint serves,
		// without asking the leader, a revision at least that of the last write acknowledged
		// before the restart began.
		want := lastAck()
		restarted := time.Now()
		if err := c.Restart(leader); err != nil {
			t.Fatal(err)
		}
		own := c.Client(t, c.Procs()[leader].ClientURL)
		var rev int64
		for rev < want.rev {
			if time.Since(restarted) > 30*time.Second {
				t.Fatalf("round %d: %s serves revision %d 30 s after its restart, want %d", round, c.Procs()[leader].Name, rev, want.rev)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			got, err := own.Get(ctx, "/pb/proc", clientv3.WithSerializable())
			cancel()
			if err == nil {
				rev = got.Header.Revision
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
		catchUp := time.Since(restarted)
		catchUps = append(catchUps, catchUp)
		// And linearizably, now that it is back: through it alone, the key holds the write
		// acknowledged before the restart or a later one.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := own.Get(ctx, "/pb/proc")
		cancel()
		if err != nil {
			t.Fatalf("round %d: linearizable read on restarted %s: %v", round, c.Procs()[leader].Name, err)
		}
		if n, _ := strconv.Atoi(string(got.Kvs[0].Value)); n < want.n {
			t.Fatalf("round %d: restarted %s serves write %d, want at least %d", round, c.Procs()[leader].Name, n, want.n)
		}
		own.Close()
		t.Logf("round %d: killed leader %s; first write after %v; restarted and caught up to revision %d after %v",
			round, c.Procs()[leader].Name, pause.Round(time.Millisecond), want.rev, catchUp.Round(time.Millisecond))
	}
	close(stop)
	<-writerDone

	// Every acknowledged write is there: the key holds the last acknowledged number or a
	// later one (a write that timed out may still have committed). Linearizable, through the
	// member killed last, which is back.
	last := lastAck()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := cli.Get(ctx, "/pb/proc")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(string(got.Kvs[0].Value)); n < last.n {
		t.Fatalf("key holds write %d, want at least the last acknowledged %d", n, last.n)
	}
	t.Logf("median of %d kills: first write after %v, restarted member caught up after %v; %d writes acknowledged, %d failed (%v timeout); load %s → %s",
		rounds, median(pauses).Round(time.Millisecond), median(catchUps).Round(time.Millisecond), len(acks), failed, writeTimeout, load, loadavg())

	for i := range c.Procs() {
		pids = append(pids, c.Pid(i)) // the restarted ones
	}
	c.Close()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("member process %d still alive after Close", pid)
		}
	}
}

// TestProcsNoOrphans runs a test in a child process that starts a cluster, prints its
// members' pids and then fails (the cleanup must kill them) or is SIGKILLed itself (the
// parent-death signal must kill them), and checks that none of those pids is alive after.
func TestProcsNoOrphans(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two clusters of processes")
	}
	bin := memberBinary(t)
	if err := adoptOrphans(); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"fail", "killed"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestProcsHelper$", "-test.v")
			// TMPDIR: a killed helper cannot remove its temp directory; this test's does.
			cmd.Env = append(os.Environ(), "ETCDTEST_HELPER="+mode, "ETCDTEST_MEMBER_BINARY="+bin, "TMPDIR="+t.TempDir())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.SysProcAttr = childAttr()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			var pids []int
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if f, ok := strings.CutPrefix(sc.Text(), "member pids:"); ok {
					for _, s := range strings.Fields(f) {
						pid, _ := strconv.Atoi(s)
						pids = append(pids, pid)
					}
					break
				}
			}
			if len(pids) != 3 {
				t.Fatalf("helper printed pids %v, want 3", pids)
			}
			if mode == "killed" {
				cmd.Process.Kill()
			}
			go func() {
				for sc.Scan() {
				}
			}()
			cmd.Wait()
			deadline := time.Now().Add(5 * time.Second) // killed: the kernel signals, we reap
			for _, pid := range pids {
				for alive(pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				reap(pid) // a zombie (not alive) once it is adopted and killed
				if alive(pid) {
					t.Errorf("member process %d outlived its test (%s)", pid, mode)
				}
			}
		})
	}
}

// TestProcsHelper is TestProcsNoOrphans's child; it does nothing unless started by it.
func TestProcsHelper(t *testing.T) {
	mode := os.Getenv("ETCDTEST_HELPER")
	if mode == "" {
		t.Skip("run by TestProcsNoOrphans")
	}
	c := NewProcs(t, ProcOptions{Binary: memberBinary(t)})
	var pids []string
	for i := range c.Procs() {
		pids = append(pids, strconv.Itoa(c.Pid(i)))
	}
	fmt.Printf("member pids: %s\n", strings.Join(pids, " "))
	if mode == "killed" {
		time.Sleep(time.Minute) // the parent kills this process
	}
	t.Fatal("failing on purpose: the cleanup must still kill the members")
}

// alive reports whether pid is a running process (a zombie, killed but not yet reaped, is
// not).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) S ...": the state follows the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return false // /proc works and the pid has no entry
	}
	return syscall.Kill(pid, 0) == nil
}

// loadavg returns the one-minute load average, or "?" where /proc/loadavg is missing.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
