// Package store holds Projectboard's domain types and its bbolt database: projects, the
// change log with its revisions, accounts, sessions and tokens. Project changes are committed
// one transaction at a time, in groups (see writer).
package store

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"projectboard/store/etcdlog"
)

// Options configure Open. The zero value means the documented defaults.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the file (default 2 s).
	LockTimeout time.Duration
	// ReadOnly opens the file for reading only.
	ReadOnly bool
	// MaxBatch caps how many queued edits share one transaction (default 1000).
	MaxBatch int
	// Now gives the current time (default time.Now); tests set it.
	Now func() time.Time
	// PasswordParams tunes argon2id (default argon2id.DefaultParams).
	PasswordParams *PasswordParams
	// SessionIdle and SessionMax bound a session's life (defaults 7 and 30 days).
	SessionIdle, SessionMax time.Duration
	// Log, when set, runs the store on a cluster: the log in etcd is the record, the file a
	// view of it (replica.go). Nil: a single node, the file is the record.
	Log *etcdlog.Log
	// EtcdTimeout bounds how long a write on a cluster keeps trying (no leader, a member
	// gone) before it is refused as unavailable (default 5 s).
	EtcdTimeout time.Duration
	// RebaseEvery: on a cluster, once the log has grown this many entries past its base, the
	// instance that commits makes its view the new base and the entries the old base
	// included are pruned from etcd (replica.go, "Rebasing"); default 50,000.
	RebaseEvery uint64
}

// ErrLocked means another process, usually a running server, holds the database file.
var ErrLocked = errors.New("the database file is in use by another process (is a server running on it?)")

// Store is an open Projectboard database.
type Store struct {
	// file is the open bbolt database; Release closes it and Reacquire opens it anew, so it
	// is read through view and update, which report a released file as ErrUnavailable.
	file  atomic.Pointer[bolt.DB]
	path  string
	opt   Options
	epoch string

	// mu guards the in-memory state below. Only the holder of commitMu changes it.
	mu       sync.RWMutex
	projects map[string]*Project
	lastRev  map[string]uint64 // project id → its newest change's revision (project_last)
	rev      uint64
	agg      *aggregate
	summary  *Summary // the current year's, at rev
	cycle    cycleState

	commitMu  sync.Mutex  // held by whoever is committing (see writer.go); one at a time
	batch     []*writeReq // the requests being committed, reused by the holder of commitMu
	reqs      chan *writeReq
	stop      chan struct{}
	stopped   chan struct{}
	release   chan chan error // Release asks the writer to close the file
	reacquire chan struct{}   // Reacquire tells a released writer to go on
	closeOnce sync.Once
	hookMu    sync.Mutex
	hook      func([]Event)
	observe   func(CommitStats)

	dummyOnce sync.Once
	dummy     string

	tokenMu    sync.Mutex    // orders caching a token against revoking it
	tokenCache sync.Map      // sha256(secret) → Token
	tokenGen   atomic.Uint64 // moves when another instance's entry changed tokens (replica.go)

	rep *replica // nil on a single node

	passwordChecks atomic.Int64 // Authenticate calls, each one argon2id hash
}

// PasswordChecks is how many passwords Authenticate has checked (each costs an argon2id
// hash): the login throttle's tests and metrics read it.
func (s *Store) PasswordChecks() int64 { return s.passwordChecks.Load() }

// CommitStats describe one transaction of the writer.
type CommitStats struct {
	Edits    int           // edits committed in the transaction
	Refused  int           // edits of the batch refused before the commit (412, 422 …)
	Duration time.Duration // the transaction, fsyncs included
	Err      error         // the commit's error; the edits were then not written
}

// Open opens or creates the database at path, migrates it and loads the projects.
func Open(path string, opt Options) (*Store, error) {
	if opt.LockTimeout == 0 {
		opt.LockTimeout = 2 * time.Second
	}
	if opt.MaxBatch == 0 {
		opt.MaxBatch = 1000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SessionIdle == 0 {
		opt.SessionIdle = 7 * 24 * time.Hour
	}
	if opt.SessionMax == 0 {
		opt.SessionMax = 30 * 24 * time.Hour
	}
	if opt.EtcdTimeout == 0 {
		opt.EtcdTimeout = 5 * time.Second
	}
	if opt.RebaseEvery == 0 {
		opt.RebaseEvery = 50_000
	}
	if opt.Log != nil && opt.ReadOnly {
		return nil, errors.New("a store on a cluster cannot be opened read-only")
	}
	if !opt.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, err
		}
	}
	db, err := openFile(path, opt)
	if err != nil && opt.Log != nil && !errors.Is(err, ErrLocked) {
		db, err = freshView(path, err)
	}
	if err != nil {
		return nil, err
	}
	if opt.Log != nil {
		// On a cluster the file is a view of the log, which is durable on a quorum before
		// anything is acknowledged; the view records the last entry it applied in the same
		// transaction. A process that dies loses nothing of the file (the kernel's page cache
		// keeps what was written); a machine that loses power may lose the tail, replayed from
		// the log at the next start, or tear the file, then rebuilt from the cluster (see
		// freshView). Syncing every apply would only slow every edit by the disk's latency.
		db.NoSync = true
	}
	s := &Store{path: path, opt: opt, projects: map[string]*Project{}, lastRev: map[string]uint64{}, agg: newAggregate(),
		cycle: newCycleState(),
		reqs:  make(chan *writeReq, 4096), stop: make(chan struct{}), stopped: make(chan struct{}),
		release: make(chan chan error), reacquire: make(chan struct{})}
	s.file.Store(db)
	if !opt.ReadOnly {
		if err := migrate(db); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.load(); err != nil && opt.Log != nil {
		// A view that does not load (torn by a power cut): rebuild it from the cluster.
		db.Close()
		if db, err = freshView(path, err); err != nil {
			return nil, err
		}
		db.NoSync = true
		s.file.Store(db)
		err = migrate(db)
		if err == nil {
			err = s.load()
		}
		if err != nil {
			db.Close()
			return nil, err
		}
	} else if err != nil {
		db.Close()
		return nil, err
	}
	if opt.Log != nil {
		if err := s.startReplica(opt.Log); err != nil {
			db.Close()
			return nil, err
		}
	}
	if opt.ReadOnly {
		close(s.stopped)
	} else {
		go s.writer()
	}
	return s, nil
}

func openFile(path string, opt Options) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opt.LockTimeout,
		ReadOnly:        opt.ReadOnly,
		InitialMmapSize: 64 << 20, // long reads must not block a write that grows the map
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// freshView moves aside a cluster instance's view that cannot be opened or loaded and opens
// a new, empty one in its place: the instance then loads the cluster's base and the log.
func freshView(path string, cause error) (*bolt.DB, error) {
	aside := fmt.Sprintf("%s.broken-%d", path, time.Now().Unix())
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("%w (and moving it aside failed: %v)", cause, err)
	}
	log.Printf("cluster: the view %s could not be used (%v): moved to %s, rebuilding it from the cluster", path, cause, aside)
	return openFile(path, Options{LockTimeout: 2 * time.Second})
}

// view and update run a transaction on the open file; while the file is released (see
// Release) they fail with ErrUnavailable.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return released(s.file.Load().View(fn))
}

// update runs fn in a write transaction: on a single node bbolt's, on a cluster one whose
// writes go through the log (replica.go).
func (s *Store) update(fn func(*wtx) error) error {
	if s.rep != nil {
		return s.rep.update(fn)
	}
	return released(s.file.Load().Update(func(tx *bolt.Tx) error { return fn(&wtx{Tx: tx}) }))
}

// batchUpdate is update through bbolt's Batch on a single node: concurrent callers share a
// transaction, and fn may run more than once.
func (s *Store) batchUpdate(fn func(*wtx) error) error {
	if s.rep != nil {
		return s.rep.update(fn)
	}
	return released(s.file.Load().Batch(func(tx *bolt.Tx) error { return fn(&wtx{Tx: tx}) }))
}

func released(err error) error {
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return fmt.Errorf("the database file is handed over: %w", ErrUnavailable)
	}
	return err
}

func (s *Store) load() error {
	return s.view(func(tx *bolt.Tx) error {
		if schemaOf(tx) != SchemaVersion {
			return fmt.Errorf("database schema %d, this binary needs %d", schemaOf(tx), SchemaVersion)
		}
		meta := tx.Bucket(bucketMeta)
		s.epoch = string(meta.Get(keyEpoch))
		s.rev = btou(meta.Get(keyRev))
		// Decoding dominates start-up with many projects, so it runs on every core. The
		// values point into the memory map, valid while this transaction is open.
		var values [][]byte
		_ = tx.Bucket(bucketProjects).ForEach(func(_, v []byte) error {
			values = append(values, v)
			return nil
		})
		projects, err := decodeProjects(values)
		if err != nil {
			return err
		}
		_ = tx.Bucket(bucketProjectLast).ForEach(func(k, v []byte) error {
			s.lastRev[string(k)] = btou(v)
			return nil
		})
		for _, p := range projects {
			s.projects[p.ID] = p
			s.agg.add(p, 1)
		}
		if err := s.cycle.load(tx); err != nil {
			return err
		}
		s.summary = s.liveSummary(s.rev, s.opt.Now())
		return nil
	})
}

func decodeProjects(values [][]byte) ([]*Project, error) {
	out := make([]*Project, len(values))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(values)/1000))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(values); i += workers {
				p := &Project{}
				if err := decode(values[i], p); err != nil {
					errs[w] = fmt.Errorf("project %d: %w", i, err)
					return
				}
				out[i] = p
			}
		}(w)
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Close stops the writer after it has committed what is queued, then closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.stopped
	if s.rep != nil {
		s.rep.stop()
	}
	s.commitMu.Lock() // a caller may be committing on its own goroutine
	defer s.commitMu.Unlock()
	if s.rep != nil {
		_ = s.file.Load().Sync() // the view is written without syncs: a clean stop keeps it all
	}
	return s.file.Load().Close() // a no-op on a released file
}

// Epoch identifies this database's history: revisions are comparable only within one epoch.
func (s *Store) Epoch() string { return s.epoch }

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// SetCommitHook sets the function called after every durable commit with the batch's events
// in revision order, before the callers are answered. Commits run one at a time (on the writer
// goroutine or on an editor's), so calls never overlap; it must not block.
func (s *Store) SetCommitHook(fn func([]Event)) {
	s.hookMu.Lock()
	s.hook = fn
	s.hookMu.Unlock()
}

// SetCommitObserver sets a function the writer calls after every transaction, for metrics.
// Set it before the first edit; it runs with the commit and must not block.
func (s *Store) SetCommitObserver(fn func(CommitStats)) {
	s.hookMu.Lock()
	s.observe = fn
	s.hookMu.Unlock()
}

// Rev is the revision of the last committed change.
func (s *Store) Rev() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev
}

// Project returns a copy of one project.
func (s *Store) Project(id string) (Project, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[id]
	if !ok {
		return Project{}, fmt.Errorf("project %q: %w", id, ErrNotFound)
	}
	return *p, nil
}

// Projects returns every project sorted by id, and the revision they reflect.
func (s *Store) Projects() ([]Project, uint64) {
	p, _, rev := s.Snapshot()
	return p, rev
}

// Summary returns the figures for a filter; the unfiltered one is computed once per commit.
func (s *Store) Summary(f SummaryFilter) *Summary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f == (SummaryFilter{}) {
		return s.summary
	}
	now := s.opt.Now()
	if f.Year == 0 {
		f.Year = s.currentYear(now)
	}
	sum := s.agg.summary(s.rev, f, now)
	s.decorate(sum, f, now)
	return sum
}

// Changes returns up to limit changes after rev since, oldest first.
func (s *Store) Changes(since uint64, limit int) ([]Change, error) {
	entries, err := s.log(since, limit)
	out := make([]Change, len(entries))
	for i, e := range entries {
		out[i] = e.Change
	}
	return out, err
}

// Replay returns up to limit events after rev since, oldest first, each with the project as
// it was after that change; their Summary is nil.
func (s *Store) Replay(since uint64, limit int) ([]Event, error) {
	entries, err := s.log(since, limit)
	out := make([]Event, len(entries))
	for i, e := range entries {
		out[i] = Event{Change: e.Change, Project: e.After}
	}
	return out, err
}

func (s *Store) log(since uint64, limit int) ([]logEntry, error) {
	if limit <= 0 {
		return nil, nil // nothing asked for: no read transaction (a screen that missed nothing)
	}
	var out []logEntry
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(u64(since + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e logEntry
			if err := decode(v, &e); err != nil {
				return fmt.Errorf("change %d: %w", btou(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// ProjectChanges returns up to limit changes of one project, newest first: it follows the
// chain of "prev" revisions from the project's newest change, and for changes made before
// schema 2 (up to index_until) walks the old index.
func (s *Store) ProjectChanges(id string, limit int) ([]Change, error) {
	out := []Change{}
	err := s.view(func(tx *bolt.Tx) error {
		changes := tx.Bucket(bucketChanges)
		until := btou(tx.Bucket(bucketMeta).Get(keyIndexUntil))
		for rev := btou(tx.Bucket(bucketProjectLast).Get([]byte(id))); rev > until && len(out) < limit; {
			v := changes.Get(u64(rev))
			if v == nil {
				return fmt.Errorf("project %s: change %d of its history is missing", id, rev)
			}
			var e logEntry
			if err := decode(v, &e); err != nil {
				return fmt.Errorf("change %d: %w", rev, err)
			}
			if e.ProjectID != id || (e.Prev >= rev && e.Prev != 0) {
				return fmt.Errorf("project %s: change %d does not continue its history", id, rev)
			}
			out = append(out, e.Change)
			rev = e.Prev
		}
		if until == 0 || len(out) >= limit {
			return nil
		}
		// The older changes, from the index: it holds every change up to until, so the
		// project's last key there is where the chain left off.
		prefix := append([]byte(id), 0)
		c := tx.Bucket(bucketProjectChanges).Cursor()
		// Seek past the last key of the prefix, then walk back.
		k, _ := c.Seek(append(append([]byte{}, prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && len(out) < limit && hasPrefix(k, prefix); k, _ = c.Prev() {
			var e logEntry
			if err := decode(changes.Get(k[len(prefix):]), &e); err != nil {
				return err
			}
			out = append(out, e.Change)
		}
		return nil
	})
	return out, err
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix)
}

// Check runs bbolt's consistency check over the whole file.
func (s *Store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// today is the zone's current date.
func (s *Store) today() Date {
	return Date(s.opt.Now().In(ZoneTime).Format(dateLayout))
}

// Snapshot returns every project sorted by id and the unfiltered summary, both at the
// returned revision.
func (s *Store) Snapshot() ([]Project, *Summary, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Project, 0, len(s.projects))
	for _, p := range s.projects {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, s.summary, s.rev
}

// Len is the number of projects.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.projects)
}
