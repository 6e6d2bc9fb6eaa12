package etcdlog

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"projectboard/store/etcdlog/etcdtest"
)

// One 3-member cluster serves the tests and benchmarks that do not stop members: each takes
// a prefix of its own. It starts on first use and stops after the last test.
var shared struct {
	once    sync.Once
	cluster *etcdtest.Cluster
	dir     string
	err     error
}

var prefixes atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		shared.cluster.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func sharedCluster(tb testing.TB) *etcdtest.Cluster {
	tb.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "etcdlog-")
		if shared.err == nil {
			shared.cluster, shared.err = etcdtest.Start(shared.dir, etcdtest.Options{})
		}
	})
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.cluster
}

// newPrefix returns a prefix no other test uses.
func newPrefix() string { return fmt.Sprintf("/t%d/", prefixes.Add(1)) }

// clients returns one client per member, each talking to that member only.
func clients(tb testing.TB, c *etcdtest.Cluster) []*clientv3.Client {
	tb.Helper()
	var clis []*clientv3.Client
	for _, m := range c.Members() {
		clis = append(clis, c.Client(tb, m.ClientURL))
	}
	return clis
}
