package etcdlog

import (
	"context"
	"testing"
	"time"

	"projectboard/store/etcdlog/etcdtest"
)

// waitLeaderEndpoint waits until the log's appends go to want, or fails the test.
func waitLeaderEndpoint(t *testing.T, l *Log, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.LeaderEndpoint() != want {
		if time.Now().After(deadline) {
			t.Fatalf("appends go to %q after %v, not to the leader %s", l.LeaderEndpoint(), within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Appends follow the leader: found at the start, again after leadership moved to another member
// (the periodic check), and after the leader died (an append through it fails; the next try
// goes through the balancer, and tracking finds the new leader).
func TestAppendsGoToTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("elections take seconds")
	}
	c := etcdtest.New(t, etcdtest.Options{})
	cli := c.Client(t)
	l := New(cli, newPrefix())
	ctx, cancel := context.WithCancel(context.Background())
	tracked := make(chan struct{})
	go func() {
		defer close(tracked)
		l.TrackLeader(ctx, 200*time.Millisecond)
	}()
	defer func() {
		cancel()
		<-tracked
		if ep := l.LeaderEndpoint(); ep != "" {
			t.Errorf("tracking stopped, yet appends still go to %s", ep)
		}
	}()

	leader, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitLeaderEndpoint(t, l, leader.ClientURL, 5*time.Second)
	var head uint64
	actx := ctxFor(t, time.Minute)
	for i := 0; i < 5; i++ {
		if _, err := appendRetrying(actx, l, [][]byte{[]byte("before")}, &head); err != nil {
			t.Fatal(err)
		}
	}

	// Leadership moves to another member: the check over the held connection notices.
	var to *etcdtest.Member
	for _, m := range c.Members() {
		if m != leader {
			to = m
			break
		}
	}
	st, err := cli.Status(actx, to.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client(t, leader.ClientURL).MoveLeader(actx, st.Header.MemberId); err != nil {
		t.Fatal(err)
	}
	waitLeaderEndpoint(t, l, to.ClientURL, 5*time.Second)
	if _, err := appendRetrying(actx, l, [][]byte{[]byte("moved")}, &head); err != nil {
		t.Fatal(err)
	}

	// The leader dies: appends go on (through the balancer, then the new leader).
	c.Stop(to)
	t0 := time.Now()
	for {
		tctx, cancel := context.WithTimeout(actx, 500*time.Millisecond)
		_, err := appendRetrying(tctx, l, [][]byte{[]byte("after")}, &head)
		cancel()
		if err == nil {
			break
		}
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("no append for 10 s after the leader died: %v", err)
		}
		if h, err := l.Head(tctx); err == nil {
			head = h
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("appending again %v after the leader died", time.Since(t0).Round(time.Millisecond))
	next, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitLeaderEndpoint(t, l, next.ClientURL, 5*time.Second)
	if _, err := appendRetrying(actx, l, [][]byte{[]byte("new leader")}, &head); err != nil {
		t.Fatal(err)
	}
	entries, err := l.Read(actx, 1, head)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, "the log", entries, 1)
}
