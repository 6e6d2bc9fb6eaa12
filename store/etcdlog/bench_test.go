package etcdlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// changeValue is a change-sized value: 900 B, about the median change message of the
// bundled data (860 B for investment projects).
var changeValue = func() []byte {
	v := make([]byte, 900)
	for i := range v {
		v[i] = 'a' + byte(i%26)
	}
	return v
}()

// benchClient is one client of all three members of the shared cluster, as an instance
// would have: the balancer spreads requests over them and followers forward to the leader.
func benchClient(b *testing.B) *clientv3.Client {
	c := sharedCluster(b)
	cli, err := c.NewClient()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	return cli
}

// reportLatency reports the p50 and p99 of lat and the rate of n writes in d.
func reportLatency(b *testing.B, lat []time.Duration, n int, d time.Duration) {
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(float64(n)/d.Seconds(), "writes/s")
}

// BenchmarkEtcdTxn is the bare baseline of the bar: a Txn that puts one change-sized
// value under a new key, from one client in a loop and from 64 goroutines sharing a client.
func BenchmarkEtcdTxn(b *testing.B) {
	cli := benchClient(b)
	prefix := newPrefix()
	b.Run("clients=1", func(b *testing.B) {
		ctx := context.Background()
		lat := make([]time.Duration, 0, b.N)
		start := time.Now()
		for i := range b.N {
			t := time.Now()
			_, err := cli.Txn(ctx).Then(clientv3.OpPut(fmt.Sprintf("%sbare1/%020d", prefix, i), string(changeValue))).Commit()
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t))
		}
		reportLatency(b, lat, b.N, time.Since(start))
	})
	b.Run("clients=64", func(b *testing.B) {
		benchConcurrent(b, 64, func(ctx context.Context, i int64) error {
			_, err := cli.Txn(ctx).Then(clientv3.OpPut(fmt.Sprintf("%sbare64/%020d", prefix, i), string(changeValue))).Commit()
			return err
		})
	})
}

// benchConcurrent runs b.N calls of f over n goroutines and reports their latency and rate.
func benchConcurrent(b *testing.B, n int, f func(ctx context.Context, i int64) error) {
	ctx := context.Background()
	var next atomic.Int64
	lats := make([][]time.Duration, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				if err := f(ctx, i); err != nil {
					errs <- err
					return
				}
				lats[g] = append(lats[g], time.Since(t))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	reportLatency(b, slices.Concat(lats...), b.N, d)
}

// BenchmarkAppend measures the log of record's write path against BenchmarkEtcdTxn: one
// appender (the counter compared, the entry and the head put: one Txn), and 64 goroutines
// funnelled through one Batcher (group commit, up to 127 entries per Txn).
func BenchmarkAppend(b *testing.B) {
	cli := benchClient(b)
	b.Run("appenders=1", func(b *testing.B) {
		l := New(cli, newPrefix())
		ctx := context.Background()
		var head uint64
		lat := make([]time.Duration, 0, b.N)
		start := time.Now()
		for range b.N {
			t := time.Now()
			a, err := l.Append(ctx, head, [][]byte{changeValue})
			if err != nil {
				b.Fatal(err)
			}
			head = a.Last
			lat = append(lat, time.Since(t))
		}
		reportLatency(b, lat, b.N, time.Since(start))
	})
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("batcher/callers=%d", callers), func(b *testing.B) {
			l := New(cli, newPrefix())
			bt := l.NewBatcher(0)
			defer bt.Close()
			benchConcurrent(b, callers, func(ctx context.Context, _ int64) error {
				_, err := bt.Append(ctx, changeValue)
				return err
			})
			txns, entries := bt.Stats()
			b.ReportMetric(float64(entries)/float64(txns), "entries/txn")
		})
	}
}

// BenchmarkAppendThreeInstances: 64 callers spread over three Batchers, one per member, as
// three instances would be — their batches race on the head. A caller whose batch lost
// appends again at once (the upper bound: a real caller first checks its edit against the
// entries that won).
func BenchmarkAppendThreeInstances(b *testing.B) {
	c := sharedCluster(b)
	prefix := newPrefix()
	var batchers []*Batcher
	for _, m := range c.Members() {
		cli, err := c.NewClient(m.ClientURL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cli.Close() })
		bt := New(cli, prefix).NewBatcher(0)
		b.Cleanup(bt.Close)
		batchers = append(batchers, bt)
	}
	var conflicts atomic.Int64
	b.ResetTimer()
	benchConcurrent(b, 64, func(ctx context.Context, i int64) error {
		bt := batchers[i%int64(len(batchers))]
		for {
			_, err := bt.Append(ctx, changeValue)
			if !errors.Is(err, ErrConflict) {
				return err
			}
			conflicts.Add(1)
		}
	})
	var txns, entries int64
	for _, bt := range batchers {
		t, e := bt.Stats()
		txns, entries = txns+t, entries+e
	}
	b.ReportMetric(float64(entries)/float64(txns), "entries/txn")
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/write")
}

// BenchmarkUnorderedThreeInstances measures the write side of the third shape in
// docs/scale-out.md: no counter and no compare — each of three instances (one per member)
// puts each batch it gathered as one key of its own, and the followers would number the
// entries in etcd's revision order. Nothing conflicts; what it costs (validation in the
// apply) is not measured here.
func BenchmarkUnorderedThreeInstances(b *testing.B) {
	c := sharedCluster(b)
	prefix := newPrefix()
	type req struct {
		value []byte
		done  chan error
	}
	var queues []chan req
	var wg sync.WaitGroup
	for inst, m := range c.Members() {
		cli, err := c.NewClient(m.ClientURL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cli.Close() })
		q := make(chan req, 1024)
		queues = append(queues, q)
		wg.Add(1)
		go func() { // one group-commit loop, as the Batcher's but with a plain Put
			defer wg.Done()
			var seq int
			for first := range q {
				batch := []req{first}
			drain:
				for len(batch) < MaxOps-1 {
					select {
					case r, ok := <-q:
						if !ok {
							break drain
						}
						batch = append(batch, r)
					default:
						break drain
					}
				}
				var buf []byte
				for _, r := range batch {
					buf = append(buf, r.value...)
				}
				seq++
				_, err := cli.Txn(context.Background()).Then(
					clientv3.OpPut(fmt.Sprintf("%sin/%d/%020d", prefix, inst, seq), string(buf))).Commit()
				for _, r := range batch {
					r.done <- err
				}
			}
		}()
	}
	b.Cleanup(func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
	})
	b.ResetTimer()
	benchConcurrent(b, 64, func(ctx context.Context, i int64) error {
		r := req{value: changeValue, done: make(chan error, 1)}
		queues[i%int64(len(queues))] <- r
		return <-r.done
	})
}
