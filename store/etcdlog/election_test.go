package etcdlog

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// TestElectedWriterFailover measures the alternative to the compared counter: one instance
// elected writer (concurrency.Election on a lease), the others forwarding to it. When the
// writer's process dies its lease is not revoked — nothing is left to revoke it — and the
// next candidate wins only when the lease expires. The counter scheme has no such pause: any
// instance appends as soon as etcd has a leader.
func TestElectedWriterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for leases to expire")
	}
	c := sharedCluster(t)
	const ttl = 2 // seconds; etcd raises shorter leases to its minimum (1.5 × election timeout)
	prefix := newPrefix() + "writer"
	var pauses []time.Duration
	for round := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sa, err := concurrency.NewSession(c.Client(t), concurrency.WithTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		a := concurrency.NewElection(sa, prefix)
		if err := a.Campaign(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		sb, err := concurrency.NewSession(c.Client(t), concurrency.WithTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		b := concurrency.NewElection(sb, prefix)
		won := make(chan error, 1)
		go func() { won <- b.Campaign(ctx, "b") }()
		time.Sleep(200 * time.Millisecond) // b is waiting behind a

		start := time.Now()
		sa.Orphan() // a's process dies: its keep-alives stop, its lease stays until it expires
		if err := <-won; err != nil {
			t.Fatal(err)
		}
		pause := time.Since(start)
		pauses = append(pauses, pause)
		t.Logf("round %d: writer gone, next writer elected after %v (lease TTL %d s)", round, pause.Round(time.Millisecond), ttl)
		if err := b.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		sb.Close()
	}
	slices.Sort(pauses)
	t.Logf("median of %d: %v", len(pauses), pauses[len(pauses)/2].Round(time.Millisecond))
}
