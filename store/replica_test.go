package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"projectboard/store/etcdlog"
	"projectboard/store/etcdlog/etcdtest"
)

// One 3-member etcd cluster, in this process, serves the cluster tests; each takes a prefix
// of its own. It starts on first use and stops when the package's tests end.
var etcdShared struct {
	once    sync.Once
	cluster *etcdtest.Cluster
	dir     string
	err     error
}

var etcdPrefixes atomic.Int64

func sharedEtcd(tb testing.TB) *etcdtest.Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a 3-member etcd cluster")
	}
	etcdShared.once.Do(func() {
		etcdShared.dir, etcdShared.err = os.MkdirTemp("", "store-etcd-")
		if etcdShared.err == nil {
			etcdShared.cluster, etcdShared.err = etcdtest.Start(etcdShared.dir, etcdtest.Options{})
		}
	})
	if etcdShared.err != nil {
		tb.Fatal(etcdShared.err)
	}
	return etcdShared.cluster
}

// stopSharedEtcd stops the cluster once the package's tests are done (TestMain).
func stopSharedEtcd() {
	if etcdShared.cluster != nil {
		etcdShared.cluster.Close()
	}
	if etcdShared.dir != "" {
		os.RemoveAll(etcdShared.dir)
	}
}

// instance opens a store on its own file, on the cluster's log under prefix, its client
// talking to one member only (member i of 3), as an instance on its own machine would.
func instance(tb testing.TB, c *etcdtest.Cluster, prefix string, member int, now func() time.Time) *Store {
	tb.Helper()
	cli := c.Client(tb, c.Members()[member%3].ClientURL)
	s, err := Open(filepath.Join(tb.TempDir(), "view.db"), Options{PasswordParams: fastHash, Now: now,
		Log: etcdlog.New(cli, prefix)})
	if err != nil {
		tb.Fatalf("open instance %d: %v", member, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// waitApplied waits until every store has applied as far as the first one.
func waitApplied(tb testing.TB, stores ...*Store) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		want, same := uint64(0), true
		for _, s := range stores {
			want = max(want, s.Applied())
		}
		for _, s := range stores {
			same = same && s.Applied() == want
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			for i, s := range stores {
				tb.Logf("instance %d applied %d", i, s.Applied())
			}
			tb.Fatalf("instances did not reach entry %d", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// revRecorder records the revisions a store publishes, in order.
type revRecorder struct {
	mu    sync.Mutex
	revs  []uint64
	local map[uint64]bool // the revisions this instance committed itself
}

func record(s *Store) *revRecorder {
	r := &revRecorder{local: map[uint64]bool{}}
	s.SetCommitHook(func(evs []Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range evs {
			r.revs = append(r.revs, e.Change.Rev)
			if !e.Remote {
				r.local[e.Change.Rev] = true
			}
		}
	})
	return r
}

func (r *revRecorder) get() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.revs...)
}

// state is what two instances must agree on: every project, the summary, the change log.
func state(tb testing.TB, s *Store) string {
	tb.Helper()
	projects, sum, rev := s.Snapshot()
	changes, err := s.Changes(0, 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(struct {
		Projects []Project
		Summary  *Summary
		Rev      uint64
		Epoch    string
		Changes  []Change
		Problems []Problem
		Months   []MonthState
	}{projects, sum, rev, s.Epoch(), changes, s.Problems(ProblemFilter{}), s.Months(2022)})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestClusterInstancesAgree(t *testing.T) {
	c := sharedEtcd(t)
	prefix := fmt.Sprintf("/st%d/", etcdPrefixes.Add(1))
	clk := &clock{}
	clk.Set("2022-10-04T10:00:00+08:00")
	a := instance(t, c, prefix, 0, clk.Now)
	recA := record(a)
	for i := 0; i < 6; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("P%d", i), StageUnderConstruction))
	}
	b := instance(t, c, prefix, 1, clk.Now) // joins: the base, then six entries
	recB := record(b)
	if a.Epoch() != b.Epoch() || b.Rev() != 6 || b.Len() != 6 {
		t.Fatalf("joined at epoch %q rev %d with %d projects; want %q, 6, 6", b.Epoch(), b.Rev(), b.Len(), a.Epoch())
	}

	// Editors on both instances race for the same projects.
	var wg sync.WaitGroup
	var wins, lost atomic.Int64
	for w := 0; w < 8; w++ {
		s := []*Store{a, b}[w%2]
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				id := fmt.Sprintf("P%d", (w+i)%6)
				p, err := s.Project(id)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, By: fmt.Sprintf("ed%d", w),
					Patch: &Patch{Progress: ptr((p.Progress + 1) % 100)}})
				var vm *VersionMismatchError
				switch {
				case err == nil:
					wins.Add(1)
				case errors.As(err, &vm):
					lost.Add(1)
				default:
					t.Errorf("editor %d: %v", w, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d edits won, %d refused by If-Match", wins.Load(), lost.Load())

	// The monthly cycle, accounts, sessions and tokens, each written on one instance.
	rep := submit(t, b, "P1", "2022-09", 0, 5_000_000, 40)
	if _, err := a.Apply(Edit{Kind: ChangeReport, ProjectID: "P1", By: "office",
		Report: &ReportEdit{Month: "2022-09", Action: ReportApprove, IfMatch: rep.Version}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CloseMonth("2022-09", 0, "office"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddUser(User{Username: "li", Role: RoleEditor, Departments: []string{"经济发展局"}}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, a, b)
	if _, err := b.Authenticate("li", "correct horse battery"); err != nil {
		t.Fatalf("an account made on one instance does not log in on the other: %v", err)
	}
	sid, err := b.CreateSession("li")
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := b.CreateToken(Token{Name: "大屏", Kind: "display", Role: RoleDisplay, CreatedBy: "li"})
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, a, b)
	if u, _, err := a.SessionUser(sid); err != nil || u.Username != "li" {
		t.Fatalf("a session started on one instance is not valid on the other: %v", err)
	}
	if _, err := a.TokenBySecret(secret); err != nil {
		t.Fatalf("a token made on one instance is not known on the other: %v", err)
	}
	if _, err := b.DeleteToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, a, b)
	if _, err := a.TokenBySecret(secret); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a token revoked on one instance still works on the other (cached): %v", err)
	}

	// Both hold the same state and published the same revisions, 1, 2, 3 … in order.
	if sa, sb := state(t, a), state(t, b); sa != sb {
		t.Fatalf("the instances differ:\n%s\n%s", sa, sb)
	}
	revsA, revsB := recA.get(), recB.get()
	for i, r := range revsA {
		if r != uint64(i+1) {
			t.Fatalf("instance A published %d as its %d-th revision", r, i+1)
		}
	}
	if !reflect.DeepEqual(revsA[6:], revsB) {
		t.Fatalf("instance B published %v after joining at 6, A %v", revsB, revsA[6:])
	}
	// Each change is its committer's own (reminders are sent once): on exactly one instance.
	for _, rev := range revsB {
		if recA.local[rev] == recB.local[rev] {
			t.Fatalf("revision %d: local on A %v, on B %v; want exactly one", rev, recA.local[rev], recB.local[rev])
		}
	}

	// A third instance that starts now catches up to the same state, and the file behind an
	// instance is a complete single-node database of that state.
	third := instance(t, c, prefix, 2, clk.Now)
	if got := state(t, third); got != state(t, a) {
		t.Fatal("a late instance differs from the first")
	}
	path := b.Path()
	want := state(t, b)
	b.Close()
	alone, err := Open(path, Options{PasswordParams: fastHash, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	if got := state(t, alone); got != want {
		t.Fatal("the view's file, opened on its own, differs from the instance's memory")
	}
}

func TestClusterIfMatchExactlyOneWins(t *testing.T) {
	c := sharedEtcd(t)
	prefix := fmt.Sprintf("/st%d/", etcdPrefixes.Add(1))
	a := instance(t, c, prefix, 0, nil)
	b := instance(t, c, prefix, 1, nil)
	for round := 0; round < 20; round++ {
		id := fmt.Sprintf("R%d", round)
		p := mustCreate(t, a, sample(id, StageUnderConstruction))
		waitApplied(t, a, b)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Apply(Edit{Kind: ChangeUpdate, ProjectID: id, IfMatch: p.Version, By: fmt.Sprint("ed", i),
					Patch: &Patch{Progress: ptr(10 + i)}})
			}()
		}
		wg.Wait()
		var vm *VersionMismatchError
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.As(err, &vm):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of two editors of version %d won (%v)", round, won, p.Version, errs)
		}
	}
}

func TestClusterOneBaseWhenInstancesStartTogether(t *testing.T) {
	c := sharedEtcd(t)
	prefix := fmt.Sprintf("/st%d/", etcdPrefixes.Add(1))
	stores := make([]*Store, 3)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i] = instance(t, c, prefix, i, nil)
		}()
	}
	wg.Wait()
	for _, s := range stores[1:] {
		if s.Epoch() != stores[0].Epoch() {
			t.Fatalf("instances started together disagree on the epoch: %q, %q", s.Epoch(), stores[0].Epoch())
		}
	}
	mustCreate(t, stores[2], sample("X", StageUnderConstruction))
	waitApplied(t, stores...)
	for _, s := range stores {
		if s.Len() != 1 || s.Rev() != 1 {
			t.Fatalf("an instance holds %d projects at rev %d", s.Len(), s.Rev())
		}
	}
}

func TestClusterRebuildsABrokenView(t *testing.T) {
	c := sharedEtcd(t)
	prefix := fmt.Sprintf("/st%d/", etcdPrefixes.Add(1))
	a := instance(t, c, prefix, 0, nil)
	for i := 0; i < 5; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("P%d", i), StageUnderConstruction))
	}
	b := instance(t, c, prefix, 1, nil)
	path := b.Path()
	b.Close()
	// A power cut tore the view: its pages are garbage.
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	cli := c.Client(t, c.Members()[1].ClientURL)
	again, err := Open(path, Options{PasswordParams: fastHash, Log: etcdlog.New(cli, prefix)})
	if err != nil {
		t.Fatalf("a broken view is not rebuilt: %v", err)
	}
	defer again.Close()
	if state(t, again) != state(t, a) {
		t.Fatal("the rebuilt view differs from the cluster")
	}
	if aside, _ := filepath.Glob(path + ".broken-*"); len(aside) != 1 {
		t.Fatalf("the broken view was not kept aside: %v", aside)
	}
}

func TestClusterMigrateInAndOut(t *testing.T) {
	c := sharedEtcd(t)
	prefix := fmt.Sprintf("/st%d/", etcdPrefixes.Add(1))
	// A single node's board, with its history, moves into the cluster …
	single, err := Open(filepath.Join(t.TempDir(), "single.db"), Options{PasswordParams: fastHash})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		mustCreate(t, single, sample(fmt.Sprintf("P%d", i), StageUnderConstruction))
	}
	if _, err := single.AddUser(User{Username: "li", Role: RoleAdmin}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	want := state(t, single)
	path := single.Path()
	single.Close()
	l := etcdlog.New(c.Client(t), prefix)
	if _, err := ToCluster(path, l, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := ToCluster(path, l, 10*time.Second); !errors.Is(err, ErrClusterInUse) {
		t.Fatalf("moving a second board into the same prefix: %v, want ErrClusterInUse", err)
	}
	a := instance(t, c, prefix, 0, nil)
	if got := state(t, a); got != want {
		t.Fatal("the instance's board differs from the single node's")
	}
	if _, err := a.Authenticate("li", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, a, sample("P9", StageUnderConstruction))
	// … and out again, with what was added there.
	out := filepath.Join(t.TempDir(), "out.db")
	if err := FromCluster(out, l, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	back, err := Open(out, Options{PasswordParams: fastHash})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if state(t, back) != state(t, a) || back.Clustered() {
		t.Fatal("the board moved out of the cluster differs from the cluster's")
	}
}

func TestClusterOutOfSpaceIsAnsweredAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd member")
	}
	c := etcdtest.New(t, etcdtest.Options{Members: 1, Configure: func(cfg *embed.Config) {
		cfg.QuotaBackendBytes = 2 << 20
	}})
	s := instance(t, c, "/full/", 0, nil)
	p := mustCreate(t, s, sample("P", StageUnderConstruction))
	note := strings.Repeat("长", 1900) // ~6 KB an edit (note and change): 2 MiB within a few hundred edits
	var err error
	var took time.Duration
	for i := 0; i < 2000 && err == nil; i++ {
		t0 := time.Now()
		var r Result
		r, err = s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "P", IfMatch: p.Version, By: "ed",
			Patch: &Patch{Note: ptr(fmt.Sprintf("%d %s", i, note))}})
		took = time.Since(t0)
		p = r.Project
	}
	if !errors.Is(err, ErrClusterFull) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("writing past the quota: %v, want ErrClusterFull (an ErrUnavailable)", err)
	}
	if took > 2*time.Second {
		t.Fatalf("the refusal took %v: it should not wait for a leader that is there", took)
	}
	if _, err := s.Project("P"); err != nil {
		t.Fatalf("reads stop when etcd is full: %v", err)
	}
}

// A read that waited for a position (WaitApplied, under SyncRead) finds that position's changes
// in memory: the position is announced only once they are visible — on the writer, which applies
// its own entry, and on an instance that follows. (Announced first, a crashtest GET showed an
// older version than the 412 its instance had just answered.)
func TestClusterPositionAnnouncedOnceVisible(t *testing.T) {
	c := sharedEtcd(t)
	prefix := fmt.Sprintf("/pv%d/", etcdPrefixes.Add(1))
	a := instance(t, c, prefix, 0, nil)
	b := instance(t, c, prefix, 1, nil)
	var mu sync.Mutex
	checked := map[*Store]int{}
	testHookBeforeVisible = func(s *Store, last uint64) {
		if s.WaitApplied(last, 0) {
			t.Errorf("entry %d announced before its changes are visible", last)
		}
		mu.Lock()
		checked[s]++
		mu.Unlock()
	}
	t.Cleanup(func() { testHookBeforeVisible = nil })
	for i := 0; i < 5; i++ {
		mustCreate(t, a, sample(fmt.Sprintf("V%02d", i), StageUnderConstruction))
	}
	waitApplied(t, a, b)
	testHookBeforeVisible = nil
	mu.Lock()
	defer mu.Unlock()
	if checked[a] < 5 || checked[b] == 0 {
		t.Fatalf("checked %d entries on the writer (want 5) and %d on the follower", checked[a], checked[b])
	}
	if _, err := b.Project("V04"); err != nil {
		t.Fatalf("the follower at the writer's position lacks the last project: %v", err)
	}
}
