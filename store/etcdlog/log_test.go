package etcdlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"projectboard/store/etcdlog/etcdtest"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// follower follows a log into a slice until stopped.
type follower struct {
	mu      sync.Mutex
	entries []Entry
	err     error
	done    chan struct{}
	cancel  context.CancelFunc
}

func follow(l *Log, applied uint64) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		err := l.Follow(ctx, applied, func(es []Entry) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.entries = append(f.entries, es...)
			return nil
		})
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}()
	return f
}

// waitFor waits until the follower has n entries, or fails the test.
func (f *follower) waitFor(t *testing.T, n int, within time.Duration) []Entry {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f.mu.Lock()
		got, err := len(f.entries), f.err
		f.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-f.done:
			t.Fatalf("follower ended after %d of %d entries: %v", got, n, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower has %d of %d entries after %v", got, n, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.cancel()
	<-f.done
	return f.entries
}

// checkContiguous fails unless entries are numbered from first, one by one.
func checkContiguous(t *testing.T, name string, entries []Entry, first uint64) {
	t.Helper()
	for i, e := range entries {
		if e.Rev != first+uint64(i) {
			t.Fatalf("%s: entry %d has number %d, want %d", name, i, e.Rev, first+uint64(i))
		}
	}
}

// appendRetrying appends values, taking the head that won after each conflict (the caller
// would check its edits here), and returns what it committed.
func appendRetrying(ctx context.Context, l *Log, values [][]byte, head *uint64) (Appended, error) {
	for {
		a, err := l.Append(ctx, *head, values)
		var ce *ConflictError
		if errors.As(err, &ce) {
			*head = ce.Head
			continue
		}
		if err == nil {
			*head = a.Last
		}
		return a, err
	}
}

func TestAppendersOnEveryMemberOneOrder(t *testing.T) {
	c := sharedCluster(t)
	prefix := newPrefix()
	clis := clients(t, c)
	const appenders, batches = 8, 40

	var followers []*follower
	for _, cli := range clis {
		followers = append(followers, follow(New(cli, prefix), 0))
	}

	ctx := ctxFor(t, 2*time.Minute)
	var mu sync.Mutex
	committed := map[uint64]string{} // number → value, as Append answered
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for w := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := New(clis[w%len(clis)], prefix)
			var head uint64
			for b := range batches {
				var values [][]byte
				for k := range 1 + (w+b)%4 {
					values = append(values, fmt.Appendf(nil, "w%d-b%d-%d", w, b, k))
				}
				a, err := appendRetrying(ctx, l, values, &head)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, v := range values {
					if old, dup := committed[a.First+uint64(i)]; dup {
						t.Errorf("number %d given to %s and %s", a.First+uint64(i), old, v)
					}
					committed[a.First+uint64(i)] = string(v)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	n := len(committed)
	head, err := New(clis[0], prefix).Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != uint64(n) {
		t.Fatalf("head %d after %d entries committed", head, n)
	}
	for i, f := range followers {
		entries := f.waitFor(t, n, time.Minute)
		name := fmt.Sprintf("follower on m%d", i)
		if len(entries) != n {
			t.Fatalf("%s: %d entries, want %d", name, len(entries), n)
		}
		checkContiguous(t, name, entries, 1)
		for _, e := range entries {
			if committed[e.Rev] != string(e.Value) {
				t.Fatalf("%s: entry %d is %q, Append answered %q", name, e.Rev, e.Value, committed[e.Rev])
			}
		}
	}
	t.Logf("%d appenders, %d entries in %d transactions, identical on 3 followers", appenders, n, appenders*batches)
}

func TestRacingAppendersExactlyOneWins(t *testing.T) {
	c := sharedCluster(t)
	prefix := newPrefix()
	clis := clients(t, c)
	a, b := New(clis[0], prefix), New(clis[1], prefix)
	ctx := ctxFor(t, time.Minute)
	var head uint64
	for round := range 20 {
		start := make(chan struct{})
		var wg sync.WaitGroup
		var resA, resB Appended
		var errA, errB error
		wg.Add(2)
		go func() { defer wg.Done(); <-start; resA, errA = a.Append(ctx, head, [][]byte{[]byte("a")}) }()
		go func() {
			defer wg.Done()
			<-start
			resB, errB = b.Append(ctx, head, [][]byte{[]byte("b1"), []byte("b2")})
		}()
		close(start)
		wg.Wait()
		var ce *ConflictError
		switch {
		case errA == nil && errors.As(errB, &ce):
			if ce.Head != resA.Last {
				t.Fatalf("round %d: loser told head %d, winner committed up to %d", round, ce.Head, resA.Last)
			}
			head = resA.Last
		case errB == nil && errors.As(errA, &ce):
			if ce.Head != resB.Last {
				t.Fatalf("round %d: loser told head %d, winner committed up to %d", round, ce.Head, resB.Last)
			}
			head = resB.Last
		default:
			t.Fatalf("round %d: a: %v, b: %v; want exactly one conflict", round, errA, errB)
		}
	}
}

func TestAppendLimits(t *testing.T) {
	c := sharedCluster(t)
	l := New(c.Client(t), newPrefix())
	ctx := ctxFor(t, time.Minute)
	values := make([][]byte, MaxOps)
	for i := range values {
		values[i] = []byte("x")
	}
	if _, err := l.Append(ctx, 0, values); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d entries: got %v, want ErrTooLarge", len(values), err)
	}
	// MaxOps-1 entries and the head are exactly etcd's default --max-txn-ops.
	if _, err := l.Append(ctx, 0, values[:MaxOps-1]); err != nil {
		t.Fatalf("%d entries: %v", MaxOps-1, err)
	}
	big := make([]byte, 1<<20)
	if _, err := l.Append(ctx, MaxOps-1, [][]byte{big}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1 MiB entry: got %v, want ErrTooLarge", err)
	}
	// Just under MaxBytes passes etcd's 1.5 MiB request limit.
	if _, err := l.Append(ctx, MaxOps-1, [][]byte{big[:1<<20-100]}); err != nil {
		t.Fatalf("1 MiB − 100 B entry: %v", err)
	}
}

// TestFollowSurvivesEtcdCompaction: etcd compacts its history, not its keys — the entries
// stay readable and a follower from 0 gets all of them.
func TestFollowSurvivesEtcdCompaction(t *testing.T) {
	c := sharedCluster(t)
	cli := c.Client(t)
	l := New(cli, newPrefix())
	ctx := ctxFor(t, time.Minute)
	var head uint64
	for i := range 10 {
		if _, err := appendRetrying(ctx, l, [][]byte{fmt.Appendf(nil, "%d", i)}, &head); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	f := follow(l, 3)
	for i := 10; i < 15; i++ {
		if _, err := appendRetrying(ctx, l, [][]byte{fmt.Appendf(nil, "%d", i)}, &head); err != nil {
			t.Fatal(err)
		}
	}
	entries := f.waitFor(t, 12, 30*time.Second)
	checkContiguous(t, "follower", entries, 4)
}

func TestFollowPrunedIsErrCompacted(t *testing.T) {
	c := sharedCluster(t)
	l := New(c.Client(t), newPrefix())
	ctx := ctxFor(t, time.Minute)
	var head uint64
	for i := range 10 {
		if _, err := appendRetrying(ctx, l, [][]byte{fmt.Appendf(nil, "%d", i)}, &head); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Prune(ctx, 6); err != nil {
		t.Fatal(err)
	}
	for _, applied := range []uint64{0, 4} {
		err := l.Follow(ctx, applied, func([]Entry) error { return nil })
		if !errors.Is(err, ErrCompacted) {
			t.Fatalf("follow from %d after pruning below 6: got %v, want ErrCompacted", applied, err)
		}
	}
	entries := follow(l, 5).waitFor(t, 5, 30*time.Second)
	checkContiguous(t, "follower from 5", entries, 6)

	if err := l.Prune(ctx, 11); err != nil { // everything
		t.Fatal(err)
	}
	if err := l.Follow(ctx, 3, func([]Entry) error { return nil }); !errors.Is(err, ErrCompacted) {
		t.Fatalf("follow from 3 after pruning everything: got %v, want ErrCompacted", err)
	}
}

// TestFollowResumesAcrossMemberStops: followers talking to the whole cluster keep one order,
// without holes or repeats, while each member in turn — leaders included — is stopped and
// restarted under a steady appender.
func TestFollowResumesAcrossMemberStops(t *testing.T) {
	if testing.Short() {
		t.Skip("elections take seconds")
	}
	c := etcdtest.New(t, etcdtest.Options{})
	prefix := newPrefix()
	var followers []*follower
	for range 2 {
		followers = append(followers, follow(New(c.Client(t), prefix), 0))
	}
	appender := New(c.Client(t), prefix)

	ctx := ctxFor(t, 3*time.Minute)
	stop := make(chan struct{})
	appended := make(chan uint64, 1)
	go func() {
		var head uint64
		defer func() { appended <- head }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := appendRetrying(actx, appender, [][]byte{fmt.Appendf(nil, "%d", i)}, &head)
			cancel()
			if err != nil {
				// Unknown outcome (the member or the leader went away): learn the head again.
				hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				if h, err := appender.Head(hctx); err == nil {
					head = h
				}
				cancel()
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	for _, m := range c.Members() {
		time.Sleep(300 * time.Millisecond)
		c.Stop(m)
		time.Sleep(1500 * time.Millisecond)
		if err := c.Restart(m); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	head := <-appended
	if head == 0 {
		t.Fatal("nothing appended")
	}
	for i, f := range followers {
		entries := f.waitFor(t, int(head), time.Minute)
		checkContiguous(t, fmt.Sprintf("follower %d", i), entries, 1)
	}
	t.Logf("%d entries appended while each member was stopped in turn; both followers got 1…%d", head, head)
}
