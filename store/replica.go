package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"projectboard/store/etcdlog"
)

// A store on a cluster (Options.Log set): etcd holds the log of record, and this file is a
// view of it that every instance keeps for itself (docs/scale-out.md).
//
// Every write — an edit batch of the writer, and every update (accounts, sessions, tokens,
// webhooks, audit) — is staged against the view as on a single node, but recorded instead of
// committed: its puts and deletes (wtx) become one entry, appended to the log only if the log
// still ends where the view does (etcdlog's compared head). Then the writer applies its own
// entry to the view at once (applyOwn: from what it staged, as a single node commits) and
// answers. Entries appended by other instances reach the view through the follower
// (etcdlog.Follow) and applyEntries, which makes the in-memory state from what the entries
// wrote. Both run under commitMu, so the view holds the log's entries in order, each once —
// the same state on every instance, revisions included.
//
// A writer whose append lost the race reads the entries that won, applies them, and stages
// again: an If-Match that held against the old view may now fail, exactly as if the other
// instance's edit had come first on one node. A writer that did not hear whether its append
// committed (the leader went away) tries again with the same expected head: if the first try
// did commit, the retry loses the race to it, and the writer finds its own entry (by its id)
// among the ones it reads.

// Local keys of the meta bucket: where this file stands in the log. They are never part of
// an entry or a base.
var (
	keyReplBase    = []byte("etcd_base")    // the history the file follows (etcdlog.Base.HistoryID)
	keyReplApplied = []byte("etcd_applied") // the last entry applied, 8 bytes BE
)

// maxEntryBytes is the most bytes of ops one entry holds: a batch larger than that spans
// several entries, appended in one transaction when they fit (etcdlog.Log.MaxBytes).
const maxEntryBytes = 900 << 10

type replica struct {
	s       *Store
	log     *etcdlog.Log
	timeout time.Duration
	// base is the newest base this instance knows of (another may have replaced it since);
	// rebasing is set while this instance makes a new one. Both under baseMu.
	baseMu   sync.Mutex
	base     etcdlog.Base
	rebasing bool
	rebases  sync.WaitGroup // Close waits for a rebase under way
	reloads  atomic.Int64   // bases loaded while running (Reloads)
	// applied is the last entry applied to the view; only the holder of commitMu touches it.
	applied uint64
	// appliedPub is applied for everyone else (WaitApplied, metrics), set once the entries'
	// changes are visible in memory (publish).
	appliedPub  atomic.Uint64
	conflicts   atomic.Int64 // writes staged again because another instance's entries came first
	lastContact atomic.Int64 // when a quorum read last succeeded, Unix ns (keepContact)
	advMu       sync.Mutex
	advanced    chan struct{} // closed when the position moves (WaitApplied)
	elect       writerElection
	campaigns   sync.WaitGroup // Close waits for the writer's role to be handed on
	headMu      sync.Mutex     // SyncRead's shared reads of the head (writerelect.go)
	headNext    *headCall
	headRunning bool
	ctx         context.Context // ends at Close
	cancel      context.CancelFunc
	done        chan struct{}
	tracked     chan struct{} // closed when the log's leader tracking has stopped
}

// testHookCatchUp, when set by a test, runs as an instance starts, between reading the log's
// head and reading the entries its view lacks.
var testHookCatchUp func()

// testHookBeforeVisible, when set by a test, runs after an instance wrote entries up to last
// into its file and before their changes are visible in memory.
var testHookBeforeVisible func(s *Store, last uint64)

// leaderCheck is how often the log checks that the member its appends go to still leads
// (etcdlog.Log.TrackLeader).
const leaderCheck = 2 * time.Second

// ErrClusterFull means etcd refuses writes for lack of space (its NOSPACE alarm): writes are
// answered 503 at once, reads and screens go on, until an administrator makes room.
var ErrClusterFull = fmt.Errorf("the cluster's etcd is out of space: raise --quota-backend-bytes or compact and defragment it, then `etcdctl alarm disarm`: %w", ErrUnavailable)

// errRestage means the log moved on under a write: it must be staged again.
var errRestage = errors.New("the log moved on: stage again")

// errRollback ends a recording transaction without committing it.
var errRollback = errors.New("recorded")

// Applied is the last entry of the cluster's log this instance has applied (0 on a single
// node).
func (s *Store) Applied() uint64 {
	if s.rep == nil {
		return 0
	}
	return s.rep.appliedPub.Load()
}

// Conflicts is how many writes were staged again because another instance's entries came
// first (0 on a single node).
func (s *Store) Conflicts() int64 {
	if s.rep == nil {
		return 0
	}
	return s.rep.conflicts.Load()
}

// AppendsToLeader is the etcd endpoint this instance's appends go to directly, the cluster's
// leader when it was last checked; "" while they go through the client's balancer (or on a
// single node).
func (s *Store) AppendsToLeader() string {
	if s.rep == nil {
		return ""
	}
	return s.rep.log.LeaderEndpoint()
}

// Clustered reports whether the store runs on a cluster's log.
func (s *Store) Clustered() bool { return s.rep != nil }

// baseMeta is what a base records beside its chunks.
type baseMeta struct {
	Schema int    `json:"schema"`
	Epoch  string `json:"epoch"`
}

// startReplica joins the log: it makes the cluster from this file when the log has no base,
// loads the base when the file belongs to another one, applies the entries up to the head
// and starts the follower. Open calls it before anyone can write.
func (s *Store) startReplica(l *etcdlog.Log) error {
	r := &replica{s: s, log: l, timeout: s.opt.EtcdTimeout, done: make(chan struct{}), advanced: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 4*r.timeout)
	defer cancel()
	base, err := l.GetBase(ctx)
	if errors.Is(err, etcdlog.ErrNoBase) {
		base, err = s.createBase(ctx, l)
	}
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	var meta baseMeta
	if err := json.Unmarshal(base.Meta, &meta); err != nil || meta.Schema != SchemaVersion {
		return fmt.Errorf("cluster: its base has schema %d, this binary needs %d (%v)", meta.Schema, SchemaVersion, err)
	}
	var local []byte
	_ = s.view(func(tx *bolt.Tx) error {
		local = bytes.Clone(tx.Bucket(bucketMeta).Get(keyReplBase))
		r.applied = btou(tx.Bucket(bucketMeta).Get(keyReplApplied))
		return nil
	})
	if string(local) != base.HistoryID() {
		if err := s.loadBase(ctx, l, base); err != nil {
			return fmt.Errorf("cluster: loading its base: %w", err)
		}
		r.applied = base.Entry
	}
	r.base = base
	if r.elect.secret, err = r.peerSecret(ctx); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	r.appliedPub.Store(r.applied)
	s.rep = r
	// Serve nothing older than the log was when we started.
	head, err := l.Head(ctx)
	if testHookCatchUp != nil {
		testHookCatchUp()
	}
	for tries := 0; err == nil && head > r.applied; tries++ {
		var entries []etcdlog.Entry
		entries, err = l.Read(ctx, r.applied+1, head)
		if errors.Is(err, etcdlog.ErrCompacted) && tries < 2 {
			// Entries the view needs were pruned — it was stopped for longer than a rebase, or
			// another instance rebased a moment ago: load the newest base, then what follows.
			err = r.loadNewestBase(ctx)
			continue
		}
		if err == nil {
			s.commitMu.Lock()
			_, err = r.applyEntries(entries, nil)
			s.commitMu.Unlock()
		}
		break
	}
	if err != nil {
		s.rep = nil
		return fmt.Errorf("cluster: catching up: %w", err)
	}
	fctx, stop := context.WithCancel(context.Background())
	r.ctx, r.cancel = fctx, stop
	r.tracked = make(chan struct{})
	go func() {
		defer close(r.tracked)
		l.TrackLeader(fctx, leaderCheck)
	}()
	go r.follow(fctx)
	go r.keepContact()
	return nil
}

// createBase offers this file as the cluster's base; if another instance was first, its
// base is the one.
func (s *Store) createBase(ctx context.Context, l *etcdlog.Log) (etcdlog.Base, error) {
	var chunks [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		chunks, err = baseChunks(tx)
		return err
	})
	if err != nil {
		return etcdlog.Base{}, err
	}
	meta, _ := json.Marshal(baseMeta{Schema: SchemaVersion, Epoch: s.epoch})
	b := etcdlog.Base{ID: randomHex(8), Meta: meta}
	won, err := l.CreateBase(ctx, b, chunks)
	if err != nil {
		return etcdlog.Base{}, err
	}
	if !won {
		return l.GetBase(ctx)
	}
	// This file is the base: it stands at entry 0 of the new log.
	err = s.file.Load().Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if err := m.Put(keyReplBase, []byte(b.ID)); err != nil {
			return err
		}
		return m.Put(keyReplApplied, u64(0))
	})
	if err != nil {
		return etcdlog.Base{}, err
	}
	return l.GetBase(ctx)
}

// baseChunks records every bucket of the file but this file's place in the log, as entries'
// ops in chunks of at most maxEntryBytes.
func baseChunks(tx *bolt.Tx) ([][]byte, error) {
	var chunks [][]byte
	var ops []op
	size := 0
	flush := func() {
		if len(ops) > 0 {
			chunks = append(chunks, encodeEntry([16]byte{}, ops))
		}
		ops, size = nil, 0
	}
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		bucket := bytes.Clone(name)
		// Every bucket, empty or not, is made by its sequence's op.
		ops = append(ops, op{kind: opSeq, bucket: bucket, seq: b.Sequence()})
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("bucket %s: nested buckets are not replicated", name)
			}
			if bytes.Equal(bucket, bucketMeta) && (bytes.Equal(k, keyReplBase) || bytes.Equal(k, keyReplApplied)) {
				return nil
			}
			n := len(bucket) + len(k) + len(v) + 16
			if size+n > maxEntryBytes {
				flush()
			}
			ops = append(ops, op{kind: opPut, bucket: bucket, key: bytes.Clone(k), value: bytes.Clone(v)})
			size += n
			return nil
		})
	})
	flush()
	return chunks, err
}

// loadBase replaces the file's contents by the base's, then the in-memory state by the file's.
func (s *Store) loadBase(ctx context.Context, l *etcdlog.Log, b etcdlog.Base) error {
	chunks, err := l.ReadBase(ctx, b)
	if err != nil {
		return err
	}
	err = s.file.Load().Update(func(tx *bolt.Tx) error {
		var names [][]byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, bytes.Clone(name))
			return nil
		})
		for _, n := range names {
			if err := tx.DeleteBucket(n); err != nil {
				return err
			}
		}
		for i, c := range chunks {
			_, ops, err := decodeEntry(c)
			if err != nil {
				return fmt.Errorf("chunk %d: %w", i, err)
			}
			if err := applyOps(tx, ops); err != nil {
				return err
			}
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if err := m.Put(keyReplBase, []byte(b.HistoryID())); err != nil {
			return err
		}
		if err := m.Put(keyReplApplied, u64(b.Entry)); err != nil {
			return err
		}
		if schemaOf(tx) != SchemaVersion {
			return fmt.Errorf("the base has schema %d, this binary needs %d", schemaOf(tx), SchemaVersion)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Readers wait for the whole of it: a running instance that loads a base (reload) must
	// not show a half-built board.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects, s.lastRev, s.agg, s.cycle = map[string]*Project{}, map[string]uint64{}, newAggregate(), newCycleState()
	s.tokenCache.Clear()
	s.tokenGen.Add(1)
	return s.load()
}

// follow applies what other instances append, until Close. A failure (etcd unreachable for
// long, the file full) is logged and the follower starts again from the view's position.
func (r *replica) follow(ctx context.Context) {
	defer close(r.done)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		r.s.commitMu.Lock()
		from := r.applied
		r.s.commitMu.Unlock()
		err := r.log.Follow(ctx, from, func(entries []etcdlog.Entry) error {
			r.s.commitMu.Lock()
			defer r.s.commitMu.Unlock()
			_, err := r.applyEntries(entries, nil)
			if err == nil {
				wait = 100 * time.Millisecond
			}
			return err
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, etcdlog.ErrCompacted) {
			if err = r.reload(ctx); err == nil {
				continue
			}
		}
		log.Printf("cluster: following the log from entry %d: %v (again in %v)", from, err, wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// stop stops the follower, the contact checks and the writer's campaign; Close calls it once
// the writer has stopped.
func (r *replica) stop() {
	r.cancel()
	<-r.done
	<-r.tracked
	r.rebases.Wait()
	r.campaigns.Wait()
}

// applyEntries applies the entries after the view's position to the file and the in-memory
// state, in one bbolt transaction, publishes their changes and advances the position. mine
// names this instance's own entries (nil: none of them are); it reports whether one of the
// entries carries that id. The caller holds commitMu.
func (r *replica) applyEntries(entries []etcdlog.Entry, mine *[16]byte) (bool, error) {
	s := r.s
	d := &decoded{snaps: map[string][]byte{}}
	found := false
	last := r.applied
	for _, e := range entries {
		if e.Rev <= last {
			continue // applied already (the writer applies its own entries at once)
		}
		if e.Rev != last+1 {
			return false, fmt.Errorf("entry %d after %d: a hole", e.Rev, last)
		}
		id, ops, err := decodeEntry(e.Value)
		if err != nil {
			return false, fmt.Errorf("entry %d: %w", e.Rev, err)
		}
		own := mine != nil && id == *mine
		found = found || own
		if err := d.add(ops, !own); err != nil {
			return false, fmt.Errorf("entry %d: %w", e.Rev, err)
		}
		last = e.Rev
	}
	if last == r.applied {
		return false, nil
	}
	t0 := time.Now()
	err := released(s.file.Load().Update(func(tx *bolt.Tx) error {
		if err := applyOps(tx, d.ops); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyReplApplied, u64(last))
	}))
	if err != nil {
		return false, err
	}
	r.applied = last
	if testHookBeforeVisible != nil {
		testHookBeforeVisible(s, last)
	}
	events := s.applyDecoded(d)
	r.publish(last)
	s.hookMu.Lock()
	hook, observe := s.hook, s.observe
	s.hookMu.Unlock()
	if observe != nil && mine == nil && len(events) > 0 {
		observe(CommitStats{Edits: len(events), Duration: time.Since(t0)})
	}
	if hook != nil && len(events) > 0 {
		hook(events)
	}
	return found, nil
}

// applyOwn applies the writer's own batch, just appended as the entries up to last: its ops
// into the file with the view's position, and its staged changes into memory as a single
// node commits them (makeVisible), which also gives the feed their encoded bytes. Only the
// other instances decode it. The caller holds commitMu.
func (r *replica) applyOwn(last uint64, ops []op, ok []staged, rev uint64, now time.Time) error {
	s := r.s
	err := released(s.file.Load().Update(func(tx *bolt.Tx) error {
		if err := applyOps(tx, ops); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyReplApplied, u64(last))
	}))
	if err != nil {
		return err
	}
	r.applied = last
	if testHookBeforeVisible != nil {
		testHookBeforeVisible(s, last)
	}
	s.hookMu.Lock()
	hook := s.hook
	s.hookMu.Unlock()
	events := s.makeVisible(ok, rev, now)
	r.publish(last)
	if len(events) > 0 && hook != nil {
		hook(events)
	}
	return nil
}

// publish announces the view's new position, once its changes are visible in memory: a read
// that waited for the position (WaitApplied, SyncRead) must find them there. (Announced before,
// crashtest caught a GET that showed an older version than the 412 its instance had just
// answered.)
func (r *replica) publish(last uint64) {
	r.appliedPub.Store(last)
	r.advance()
}

// decoded is what a run of entries changes in memory, decoded before the file is written so
// that a value that does not decode changes nothing.
type decoded struct {
	ops      []op
	projects []*Project // parallel to ops: the project a put of the projects bucket stores
	changes  []logEntry
	remote   []bool // parallel to changes: made by another instance
	reports  []*Report
	problems []*Problem
	months   []*MonthState
	snaps    map[string][]byte // snapshot key → its value, for the months closed here
	rules    *WarningRules
	tokens   bool
}

// add decodes one entry's ops.
func (d *decoded) add(ops []op, remote bool) error {
	for _, o := range ops {
		d.ops = append(d.ops, o)
		d.projects = append(d.projects, nil)
		if o.kind != opPut {
			if o.kind == opDel && (bytes.Equal(o.bucket, bucketTokens) || bytes.Equal(o.bucket, bucketTokenHashes)) {
				d.tokens = true
			}
			continue
		}
		var err error
		switch string(o.bucket) {
		case string(bucketProjects):
			p := &Project{}
			err = decode(o.value, p)
			d.projects[len(d.projects)-1] = p
		case string(bucketChanges):
			var e logEntry
			err = decode(o.value, &e)
			d.changes, d.remote = append(d.changes, e), append(d.remote, remote)
		case string(bucketReports):
			rep := &Report{}
			err = decode(o.value, rep)
			d.reports = append(d.reports, rep)
		case string(bucketProblems):
			p := &Problem{}
			err = decode(o.value, p)
			d.problems = append(d.problems, p)
		case string(bucketMonths):
			m := &MonthState{}
			err = decode(o.value, m)
			d.months = append(d.months, m)
		case string(bucketSnapshots):
			d.snaps[string(o.key)] = o.value
		case string(bucketSettings):
			if bytes.Equal(o.key, keyWarningRules) {
				d.rules = &WarningRules{}
				err = decode(o.value, d.rules)
			}
		case string(bucketTokens), string(bucketTokenHashes):
			d.tokens = true
		}
		if err != nil {
			return fmt.Errorf("bucket %s key %q: %w", o.bucket, o.key, err)
		}
	}
	return nil
}

// applyDecoded makes what the entries wrote visible, all at once with the summary of their
// last revision (as makeVisible does for a single node's commit), and returns their events.
func (s *Store) applyDecoded(d *decoded) []Event {
	now := s.opt.Now()
	s.mu.Lock()
	for i, o := range d.ops {
		switch string(o.bucket) {
		case string(bucketProjects):
			id := string(o.key)
			s.agg.add(s.projects[id], -1)
			if p := d.projects[i]; p != nil {
				s.projects[id] = p
				s.agg.add(p, 1)
			} else {
				delete(s.projects, id)
			}
		case string(bucketProjectLast):
			if o.kind == opPut {
				s.lastRev[string(o.key)] = btou(o.value)
			}
		case string(bucketMeta):
			if o.kind == opPut && bytes.Equal(o.key, keyRev) {
				s.rev = btou(o.value)
			} else if o.kind == opPut && bytes.Equal(o.key, keyEpoch) {
				s.epoch = string(o.value)
			}
		}
	}
	for _, r := range d.reports {
		s.cycle.putReport(r)
	}
	for _, p := range d.problems {
		s.cycle.putProblem(p)
	}
	for _, m := range d.months {
		s.cycle.months[m.Month] = m
		delete(s.cycle.closed, m.Month)
		if m.Status != MonthClosed {
			continue
		}
		v := d.snaps[string(snapshotKey(m.Month, m.Snapshot))]
		var view MonthView
		if v == nil || decode(v, &view) != nil {
			// Written by an earlier entry than the month's: read it from the file.
			if sv, err := s.snapshotView(m.Month, m.Snapshot); err == nil {
				view = *sv
			}
		}
		s.cycle.closed[m.Month] = closedOf(&view)
	}
	if d.rules != nil {
		s.cycle.rules = *d.rules
	}
	prev, sum := s.summary, s.summary
	for _, e := range d.changes {
		s.rev = max(s.rev, e.Rev) // a write split over entries sets meta's rev in its last
	}
	if len(d.changes) > 0 {
		s.summary = s.liveSummary(s.rev, now)
		sum = s.summary
	}
	s.mu.Unlock()
	if d.tokens {
		s.tokenGen.Add(1)
		s.tokenCache.Clear()
	}
	if len(d.changes) == 0 {
		return nil
	}
	delta, made := AppendSummaryDelta(nil, prev, sum)
	if !made {
		delta = nil
	}
	events := make([]Event, len(d.changes))
	for i, e := range d.changes {
		events[i] = Event{Change: e.Change, Project: e.After, Remote: d.remote[i]}
	}
	events[len(events)-1].Summary, events[len(events)-1].SummaryDelta = sum, delta
	return events
}

// commit appends values (one write's entries) to the log after the view's position and
// applies them; it tries again on errors that may pass (no leader, a member gone) until
// deadline. errRestage: other entries came first, and are applied now. The caller holds
// commitMu.
//
// own, when set, applies the write's entries once appended, in place of applyEntries: the
// writer's batch makes its changes visible from what it staged (makeVisible, as on a single
// node), with no decoding of what it has just encoded. It is given the last entry and the ops.
func (r *replica) commit(values [][]byte, ops []op, id [16]byte, deadline time.Time, own func(last uint64, ops []op) error) error {
	// Between tries at most retryWait: while etcd elects a leader every try fails at once
	// (WithRequireLeader), and writes go on within retryWait of the election's end.
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, retryWait) {
		// Each try gets at most attemptTimeout, and fails at once on a member without a
		// leader: an append sent to a leader that then died is never answered, and waiting for
		// it until the deadline would hold this instance's writes (all queued behind it) for
		// the whole of it, though etcd elects another leader in one or two seconds.
		ctx, cancel := context.WithDeadline(clientv3.WithRequireLeader(context.Background()),
			earliest(deadline, time.Now().Add(attemptTimeout)))
		expected := r.applied
		_, err := r.log.Append(ctx, expected, values)
		if err == nil {
			if own != nil {
				err = own(expected+uint64(len(values)), ops)
			} else {
				entries := make([]etcdlog.Entry, len(values))
				for i, v := range values {
					entries[i] = etcdlog.Entry{Rev: expected + 1 + uint64(i), Value: v}
				}
				_, err = r.applyEntries(entries, &id)
			}
			cancel()
			if err != nil {
				return fmt.Errorf("committed to the cluster, not yet applied here: %w", err)
			}
			r.maybeRebase()
			return nil
		}
		var conflict *etcdlog.ConflictError
		if errors.As(err, &conflict) {
			var entries []etcdlog.Entry
			mine := false
			entries, err = r.log.Read(ctx, expected+1, conflict.Head)
			if err == nil {
				mine, err = r.applyEntries(entries, &id)
			}
			cancel()
			switch {
			case err != nil:
				return err
			case mine: // an earlier try committed after all
				return nil
			default:
				return errRestage
			}
		}
		cancel()
		if errors.Is(err, rpctypes.ErrNoSpace) {
			return fmt.Errorf("%w (%v)", ErrClusterFull, err) // no retry will pass until someone acts
		}
		if errors.Is(err, etcdlog.ErrTooLarge) || time.Now().Add(wait).After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// attemptTimeout bounds one try of an append (commit).
const attemptTimeout = time.Second

// retryWait is the longest pause between two tries of an append. At a second (before), a
// write's tries came 0.75, 1.55, 2.55 s after a leader died, so an election that ended at
// 1.6 s resumed writes only at 2.55 s (crashtest: 2.4 and 2.8 s, against the bar of 3 s).
const retryWait = 250 * time.Millisecond

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// entryID is a fresh id for one write's entries.
func entryID() [16]byte {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return id
}

// splitEntries encodes ops as entries of at most maxEntryBytes each.
func splitEntries(id [16]byte, ops []op) [][]byte {
	var out [][]byte
	start, size := 0, 0
	for i, o := range ops {
		n := len(o.bucket) + len(o.key) + len(o.value) + 16
		if size+n > maxEntryBytes && i > start {
			out = append(out, encodeEntry(id, ops[start:i]))
			start, size = i, 0
		}
		size += n
	}
	return append(out, encodeEntry(id, ops[start:]))
}

// update runs fn against the view in a transaction that records its writes and is then
// rolled back; the writes go to the log (commit) and come back to the view from there.
func (r *replica) update(fn func(*wtx) error) error {
	s := r.s
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	deadline := time.Now().Add(r.timeout)
	synced := false
	for {
		var ops []op
		err := released(s.file.Load().Update(func(tx *bolt.Tx) error {
			if err := fn(&wtx{Tx: tx, ops: &ops}); err != nil {
				return err
			}
			return errRollback
		}))
		if !errors.Is(err, errRollback) {
			if !synced && err != nil { // refused: perhaps by a view behind the log
				synced = true
				if caughtUp, cerr := r.catchUp(deadline); cerr == nil && caughtUp {
					continue
				}
			}
			return err
		}
		if len(ops) == 0 {
			return nil
		}
		id := entryID()
		err = r.commit(splitEntries(id, ops), ops, id, deadline, nil)
		if !errors.Is(err, errRestage) {
			return err
		}
		r.conflicts.Add(1)
	}
}

// commitReplicated is commit on a cluster: stage, record, append, apply, answer; staged
// again whenever another instance's entries came first.
func (s *Store) commitReplicated(batch []*writeReq) {
	r := s.rep
	deadline := time.Now().Add(r.timeout)
	s.hookMu.Lock()
	observe := s.observe
	s.hookMu.Unlock()
	synced := false
	for {
		now := s.opt.Now().UTC()
		ok, rev, edits := s.stageBatch(batch, now)
		// A refusal may come from a view behind the log (an edit made a moment ago on
		// another instance, If-Match naming its version): catch up once and stage again.
		// What passed needs no such check: the append's compare catches a stale view.
		if !synced && refusedAny(batch) {
			synced = true
			if caughtUp, err := r.catchUp(deadline); err == nil && caughtUp {
				resetBatch(batch)
				continue
			}
		}
		if len(ok) == 0 {
			break
		}
		t0 := time.Now()
		s.chain(ok)
		err := encodeStaged(ok)
		var ops []op
		if err == nil {
			err = writeStaged(&wtx{ops: &ops}, ok, rev)
		}
		if err == nil {
			id := entryID()
			own := func(last uint64, ops []op) error { return r.applyOwn(last, ops, ok, rev, now) }
			err = r.commit(splitEntries(id, ops), ops, id, deadline, own)
		}
		if errors.Is(err, errRestage) {
			r.conflicts.Add(1)
			resetBatch(batch)
			continue
		}
		if observe != nil {
			observe(CommitStats{Edits: len(ok), Refused: edits - len(ok), Duration: time.Since(t0), Err: err})
		}
		if err != nil {
			err = wrapWrite(err)
			for _, st := range ok {
				if st.req != nil {
					st.req.errs[st.i] = err
				}
			}
			break
		}
		fillResults(ok)
		break
	}
	for _, req := range batch {
		close(req.done)
	}
}

// catchUp reads the log's head and applies what the view lacks; it reports whether there
// was anything. The caller holds commitMu.
func (r *replica) catchUp(deadline time.Time) (bool, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	head, err := r.log.Head(ctx)
	if err != nil || head <= r.applied {
		return false, err
	}
	entries, err := r.log.Read(ctx, r.applied+1, head)
	if err != nil {
		return false, err
	}
	_, err = r.applyEntries(entries, nil)
	return err == nil, err
}

func refusedAny(batch []*writeReq) bool {
	for _, req := range batch {
		for _, err := range req.errs {
			if err != nil {
				return true
			}
		}
	}
	return false
}

func resetBatch(batch []*writeReq) {
	for _, req := range batch {
		clear(req.res)
		clear(req.errs)
	}
}
