// Package etcdtest starts a real etcd cluster of embedded members inside a test: every member
// in the test's process, on 127.0.0.1 ports chosen free, with its data in the test's temp
// directory. It is the etcd counterpart of net/http/httptest: no mock, the same server code a
// deployment runs, so that tests of the log of record meet elections, compaction and watches
// as they are.
//
// ProcCluster is the same with every member a process of its own (the etcdmember command,
// built by BuildMember), for crash tests: Kill is a SIGKILL, which an in-process member
// cannot suffer (Cluster.Stop halts its raft; the test's process goes on).
//
// The package lives beside the etcd code (not under scripts/internal) so that tests of
// store/etcdlog, of the server and of the scripts can all import it; only test binaries and
// the crash tools link it, and with it etcd's server.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Options tune a cluster; the zero value means three members with etcd's default timing
// (100 ms heartbeat, 1 s election timeout), logs at warn level into a file per member.
type Options struct {
	// Members is the number of members, 3 when zero.
	Members int
	// LogLevel is etcd's zap level ("debug", "info", "warn", "error"), "warn" when empty.
	LogLevel string
	// Configure, when set, may change each member's configuration before it starts.
	Configure func(*embed.Config)
}

// Cluster is a running cluster. Its methods may be called from several goroutines.
type Cluster struct {
	dir     string
	members []*Member
	closing sync.WaitGroup // members being closed in the background by Stop

	mu sync.Mutex
}

// Member is one etcd member of a Cluster.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:port, what a client dials
	PeerURL   string
	LogFile   string

	cfg  *embed.Config
	etcd *embed.Etcd // nil while stopped
}

// New starts a cluster in the test's temp directory (Start) and closes it when the test ends.
func New(tb testing.TB, opt Options) *Cluster {
	tb.Helper()
	c, err := Start(tb.TempDir(), opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// Start starts a cluster with its data under dir and waits until every member serves
// clients and a leader is known. Close stops it. Benchmarks that share one cluster across
// their runs start it in TestMain.
func Start(dir string, opt Options) (*Cluster, error) {
	return retryTaken(dir, func(dir string) (*Cluster, error) { return start(dir, opt) })
}

// retryTaken runs start up to three times, each in a directory of its own under dir, while it
// fails because a port freeURL found free was taken by another process before the member
// bound it (the machine runs other tests and tools).
func retryTaken[C any](dir string, start func(dir string) (C, error)) (C, error) {
	var c C
	var err error
	for try := 0; try < 3; try++ {
		d := dir
		if try > 0 {
			d = filepath.Join(dir, fmt.Sprintf("try%d", try))
			if err := os.MkdirAll(d, 0o755); err != nil {
				return c, err
			}
		}
		if c, err = start(d); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return c, err
		}
	}
	return c, err
}

func start(dir string, opt Options) (*Cluster, error) {
	n := opt.Members
	if n == 0 {
		n = 3
	}
	c := &Cluster{dir: dir}

	var initial []string
	for i := 0; i < n; i++ {
		m := &Member{Name: fmt.Sprintf("m%d", i)}
		cu, err := freeURL()
		if err != nil {
			return nil, err
		}
		pu, err := freeURL()
		if err != nil {
			return nil, err
		}
		m.ClientURL, m.PeerURL = cu.String(), pu.String()
		m.LogFile = filepath.Join(c.dir, m.Name+".log")
		c.members = append(c.members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)

		cfg := embed.NewConfig()
		cfg.Name = m.Name
		cfg.Dir = filepath.Join(c.dir, m.Name)
		cfg.ListenClientUrls = []url.URL{cu}
		cfg.AdvertiseClientUrls = cfg.ListenClientUrls
		cfg.ListenPeerUrls = []url.URL{pu}
		cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
		cfg.InitialClusterToken = "projectboard-test"
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfg.Logger = "zap"
		cfg.LogLevel = opt.LogLevel
		if cfg.LogLevel == "" {
			cfg.LogLevel = "warn"
		}
		cfg.LogOutputs = []string{m.LogFile}
		m.cfg = cfg
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		if opt.Configure != nil {
			opt.Configure(m.cfg)
		}
	}
	// The members of a new cluster wait for each other before they are ready: start them all,
	// then wait.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(m)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("etcd member %s: %w (log %s)", c.members[i].Name, err, c.members[i].LogFile)
		}
	}
	if _, err := c.WaitLeader(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// start starts m with its configuration and waits until it serves clients.
func (c *Cluster) start(m *Member) error {
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return err
	case <-time.After(60 * time.Second):
		e.Server.HardStop()
		e.Close()
		return fmt.Errorf("not ready after 60 s")
	}
	c.mu.Lock()
	m.etcd = e
	c.mu.Unlock()
	return nil
}

// Members returns the cluster's members, running or stopped, in a fixed order.
func (c *Cluster) Members() []*Member { return c.members }

// Endpoints returns the client URLs of the running members.
func (c *Cluster) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for _, m := range c.members {
		if m.etcd != nil {
			eps = append(eps, m.ClientURL)
		}
	}
	return eps
}

// Leader returns the running member that is leader in its own view and in the view of every
// other running member, or nil while there is none (during an election).
func (c *Cluster) Leader() *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var leader *Member
	var id uint64
	for _, m := range c.members {
		if m.etcd == nil {
			continue
		}
		l := uint64(m.etcd.Server.Leader())
		if l == 0 || (id != 0 && l != id) {
			return nil
		}
		id = l
		if uint64(m.etcd.Server.MemberID()) == l {
			leader = m
		}
	}
	return leader
}

// WaitLeader polls Leader every 10 ms until there is one or timeout has passed.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Member, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := c.Leader(); l != nil {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("etcdtest: no leader after %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops m as a crash would: its raft node stops at once, with no leadership transfer,
// and its listeners close in the background. The other members notice only by the missing
// heartbeats. It returns when the raft node has stopped.
func (c *Cluster) Stop(m *Member) {
	c.mu.Lock()
	e := m.etcd
	m.etcd = nil
	c.mu.Unlock()
	if e == nil {
		return
	}
	e.Server.HardStop()
	c.closing.Add(1)
	go func() {
		defer c.closing.Done()
		e.Close()
	}()
}

// Restart starts a stopped member again on its data directory and ports, and waits until it
// serves clients.
func (c *Cluster) Restart(m *Member) error {
	c.closing.Wait() // its listeners must be closed before they open again
	cfg := *m.cfg
	cfg.ClusterState = embed.ClusterStateFlagExisting
	m.cfg = &cfg
	return c.start(m)
}

// NewClient returns a client of the given endpoints, all running members when none are given.
func (c *Cluster) NewClient(endpoints ...string) (*clientv3.Client, error) {
	return dial(endpoints, c.Endpoints)
}

// Client is NewClient for a test: it fails the test on error and closes the client when the
// test ends.
func (c *Cluster) Client(tb testing.TB, endpoints ...string) *clientv3.Client {
	tb.Helper()
	return clientFor(tb, c.NewClient, endpoints)
}

// dial is a quiet client of endpoints, or of all running members (running) when none are given:
// the same for members in this process and members of their own.
func dial(endpoints []string, running func() []string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		endpoints = running()
	}
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// clientFor is a client made by newClient for a test: it fails the test on error and closes the
// client when the test ends.
func clientFor(tb testing.TB, newClient func(...string) (*clientv3.Client, error), endpoints []string) *clientv3.Client {
	tb.Helper()
	cli, err := newClient(endpoints...)
	if err != nil {
		tb.Fatalf("etcd client: %v", err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// Close stops every member and waits until they are closed.
func (c *Cluster) Close() {
	c.mu.Lock()
	running := []*embed.Etcd{}
	for _, m := range c.members {
		if m.etcd != nil {
			running = append(running, m.etcd)
			m.etcd = nil
		}
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Close()
		}()
	}
	wg.Wait()
	c.closing.Wait()
}

// freeURL returns an http URL on 127.0.0.1 with a port that was free a moment ago.
func freeURL() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
}
