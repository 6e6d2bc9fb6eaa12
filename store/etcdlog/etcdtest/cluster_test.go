package etcdtest

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestWriteOnOneMemberReadOnAnother(t *testing.T) {
	c := New(t, Options{})
	ms := c.Members()
	w := c.Client(t, ms[0].ClientURL)
	r := c.Client(t, ms[2].ClientURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	put, err := w.Put(ctx, "/pb/test", "written on m0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, "/pb/test") // linearizable: m2 asks the leader for its commit index
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "written on m0" {
		t.Fatalf("got %v on m2, want the value written on m0", got.Kvs)
	}
	if got.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("got mod revision %d on m2, want %d", got.Kvs[0].ModRevision, put.Header.Revision)
	}
}

// TestLeaderStopped stops the leader several times in a row (restarting it in between) and
// measures how long until a write through the remaining members succeeds again.
func TestLeaderStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("elections take seconds")
	}
	c := New(t, Options{})
	const rounds = 5
	var pauses, elections []time.Duration
	for round := range rounds {
		leader, err := c.WaitLeader(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var others []string
		for _, m := range c.Members() {
			if m != leader {
				others = append(others, m.ClientURL)
			}
		}
		cli := c.Client(t, others...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := cli.Put(ctx, "/pb/test", "before"); err != nil {
			t.Fatal(err)
		}
		cancel()

		start := time.Now()
		c.Stop(leader)
		var elected time.Duration
		for {
			if l := c.Leader(); l != nil && elected == 0 {
				elected = time.Since(start)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := cli.Put(ctx, "/pb/test", "after")
			cancel()
			if err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("round %d: no write succeeded 30 s after the leader stopped: %v", round, err)
			}
		}
		pause := time.Since(start)
		if elected == 0 {
			elected = pause // the write's own wait hid the election
		}
		pauses = append(pauses, pause)
		elections = append(elections, elected)
		t.Logf("round %d: stopped leader %s; new leader seen after %v, write succeeded after %v",
			round, leader.Name, elected.Round(time.Millisecond), pause.Round(time.Millisecond))

		if err := c.Restart(leader); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("median of %d: new leader after %v, first write after %v (each median of its own column)",
		rounds, median(elections).Round(time.Millisecond), median(pauses).Round(time.Millisecond))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
