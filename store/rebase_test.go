package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"projectboard/store/etcdlog"
	"projectboard/store/etcdlog/etcdtest"
)

// openRebasing opens an instance on member i that makes a new base every `every` entries.
func openRebasing(tb testing.TB, c *etcdtest.Cluster, prefix, path string, member int, every uint64) *Store {
	tb.Helper()
	cli := c.Client(tb, c.Members()[member%3].ClientURL)
	s, err := Open(path, Options{PasswordParams: fastHash, Log: etcdlog.New(cli, prefix), RebaseEvery: every})
	if err != nil {
		tb.Fatalf("open instance on member %d: %v", member, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// waitBase waits until s knows of a base at entry at least `at`.
func waitBase(tb testing.TB, s *Store, at uint64) etcdlog.Base {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b := s.Base(); b.Entry >= at {
			return b
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no base at entry %d or later; the newest is at %d", at, s.Base().Entry)
		}
	}
}

// The log in etcd stays bounded: every 8 entries the writing instance makes its view the new
// base and the entries the previous base held are pruned. A running instance keeps following,
// one that was stopped for longer than a rebase loads the newest base at start, one cut off
// from etcd while running loads it in place, a new one joins from it — and every one of them
// ends with the whole board, its change log from the first edit included.
func TestClusterRebasePrunesTheLog(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Options{})
	const prefix, every = "/rb/", 8
	dir := t.TempDir()
	a := openRebasing(t, c, prefix, filepath.Join(dir, "a.db"), 0, every)
	b := openRebasing(t, c, prefix, filepath.Join(dir, "b.db"), 1, every)
	cPath := filepath.Join(dir, "c.db")
	early := openRebasing(t, c, prefix, cPath, 2, every)
	for i := 0; i < 3; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("P%02d", i), StageUnderConstruction))
	}
	waitApplied(t, a, b, early)
	early.Close() // stays away for several rebases

	for i := 3; i < 20; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("P%02d", i), StageUnderConstruction))
	}
	waitBase(t, a, 16)
	waitApplied(t, a, b)
	if state(t, b) != state(t, a) {
		t.Fatal("an instance following through two rebases differs from the writer")
	}

	// b cut off from etcd (its only member stopped) while the log moves on two more rebases.
	c.Stop(c.Members()[1])
	for i := 20; i < 40; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("P%02d", i), StageUnderConstruction))
	}
	// The 40th entry starts the rebase at 40: wait for it, so that none is being made below.
	base := waitBase(t, a, 40)
	l := etcdlog.New(c.Client(t, c.Members()[0].ClientURL), prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	floor, err := l.Floor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if floor <= 20 {
		t.Fatalf("entries from %d kept, want the ones up to the previous base (%d+) pruned", floor, every*3)
	}
	kept, err := l.Client().Get(ctx, prefix+"log/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if kept.Count > 2*every+1 {
		t.Fatalf("etcd keeps %d entries, want at most %d (two rebases' worth)", kept.Count, 2*every+1)
	}
	chunkSets, err := l.Client().Get(ctx, prefix+"base/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]bool{}
	for _, kv := range chunkSets.Kvs {
		sets[filepath.Dir(string(kv.Key))] = true
	}
	if len(sets) > 2 {
		t.Fatalf("etcd keeps %d bases' chunks, want at most 2: %v", len(sets), sets)
	}
	t.Logf("base at entry %d (%d bytes), entries kept from %d (%d of them)", base.Entry, base.Bytes, floor, kept.Count)

	// etcd compacts its history (auto-compaction): the pruned entries are gone from it too, so
	// b cannot take them from a watch's replay either.
	now, err := l.Client().Get(ctx, prefix+"head")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Client().Compact(ctx, now.Header.Revision); err != nil {
		t.Fatal(err)
	}
	t.Logf("b stands at entry %d, cut off for %v", b.Applied(), b.CutOff())
	if err := c.Restart(c.Members()[1]); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, a, b)
	if b.Reloads() != 1 {
		t.Fatalf("b loaded a base %d times while running, want 1", b.Reloads())
	}
	if state(t, b) != state(t, a) {
		t.Fatal("the instance that loaded a base while running differs from the writer")
	}

	// The instance stopped early (at entry 3, long pruned) and a new one.
	back := openRebasing(t, c, prefix, cPath, 2, every)
	fresh := openRebasing(t, c, prefix, filepath.Join(dir, "d.db"), 0, every)
	waitApplied(t, a, back, fresh)
	want := state(t, a)
	if state(t, back) != want || state(t, fresh) != want {
		t.Fatal("an instance back after the rebases, or a new one, differs from the writer")
	}
	changes, err := fresh.Changes(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 40 || changes[0].Rev != 1 {
		t.Fatalf("a new instance's change log holds %d changes from rev %d, want all 40 from 1", len(changes), changes[0].Rev)
	}
	// Writes go on from any of them.
	mustCreate(t, back, sample("P40", StageUnderConstruction))
	waitApplied(t, a, b, back, fresh)
	if state(t, b) != state(t, back) {
		t.Fatal("instances differ after a write on the one that came back")
	}
}

// An instance that starts while another one rebases — after it read the log's head, before it
// read the entries its view lacks, which the rebase prunes — loads the new base instead of
// failing to start.
func TestClusterInstanceStartingDuringARebase(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Options{})
	const prefix, every = "/rs/", 8
	dir := t.TempDir()
	a := openRebasing(t, c, prefix, filepath.Join(dir, "a.db"), 0, every)
	latePath := filepath.Join(dir, "late.db")
	late := openRebasing(t, c, prefix, latePath, 1, every)
	for i := 0; i < 3; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("P%02d", i), StageUnderConstruction))
	}
	waitApplied(t, a, late)
	late.Close()
	for i := 3; i < 5; i++ { // late is behind: it reads entries 4 and 5 as it starts
		mustCreate(t, a, sample(fmt.Sprintf("P%02d", i), StageUnderConstruction))
	}

	next := 5
	testHookCatchUp = func() {
		// The base at 16 prunes the entries up to 8, the previous base: late's 4th among them.
		for ; next < 17; next++ {
			mustCreate(t, a, sample(fmt.Sprintf("P%02d", next), StageUnderConstruction))
		}
		waitBase(t, a, 16)
	}
	t.Cleanup(func() { testHookCatchUp = nil })
	late = openRebasing(t, c, prefix, latePath, 1, every)
	testHookCatchUp = nil
	if next != 17 {
		t.Fatal("the hook did not run")
	}
	if got := late.Reloads(); got != 0 {
		t.Errorf("the instance loaded the base %d times while running, want 0: at its start", got)
	}
	if got := late.Base().Entry; got < 16 {
		t.Errorf("the instance started on the base at entry %d, want the new one (16 or later)", got)
	}
	mustCreate(t, a, sample("P99", StageUnderConstruction))
	waitApplied(t, a, late)
	if state(t, late) != state(t, a) {
		t.Fatal("the instance that started during a rebase differs from the writer")
	}
}
