package store

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Edit is one change a caller asks the writer to commit.
type Edit struct {
	Kind      ChangeKind
	ProjectID string
	// IfMatch is the version the caller last saw; an update or delete is refused with a
	// *VersionMismatchError when the project has moved on.
	IfMatch uint64
	Patch   *Patch            // for ChangeUpdate
	New     *Project          // for ChangeCreate
	Report  *ReportEdit       // for ChangeReport
	Problem *ProblemEdit      // for ChangeProblem
	Month   *MonthEdit        // for ChangeMonth
	Rules   *WarningRulesEdit // for ChangeSettings
	By      string
	Comment string
	// Actor, when set, is the account the edit is made for: the writer refuses it
	// (ErrForbidden) if the account may not change a project of the department of the
	// project before or after it (User.CanEdit), checked against the committed state. Nil: no
	// such check (the system's own edits, tools of the office).
	Actor *User
}

// mayEdit refuses (ErrForbidden) an edit for actor of a project of before's or after's
// department that the account may not change. Either may be nil (before a create, after a
// delete, or not yet known); so may actor: no check.
func mayEdit(actor *User, before, after *Project) error {
	if actor == nil {
		return nil
	}
	for _, p := range [2]*Project{before, after} {
		if p != nil && !actor.CanEdit(p.Department) {
			return fmt.Errorf("department %s: %w", p.Department, ErrForbidden)
		}
	}
	return nil
}

// Result is the outcome of one Edit.
type Result struct {
	Project Project
	Change  *Change // nil when the edit changed nothing
	// ProjectJSON is Project as stored, when the edit wrote it (nil otherwise): an answer can
	// send these bytes instead of encoding the project again.
	ProjectJSON []byte
	Report      *Report       // the report a ChangeReport edit left
	Problem     *Problem      // the problem a ChangeProblem edit left
	Month       *MonthState   // the month a close or reopen left
	Rules       *WarningRules // the rules a settings change left
	changes     int           // how many changes the edit made, follow-ups included
}

// writeReq is one caller's request: usually one edit; for an atomic request several, which
// commit in one transaction or not at all.
type writeReq struct {
	edits  []Edit
	atomic bool
	res    []Result
	errs   []error
	done   chan struct{}
}

// How an edit becomes durable, and which goroutine runs what.
//
// Whoever holds commitMu commits, and only the holder of commitMu changes the in-memory state
// (see Store.mu). Two kinds of goroutine take it:
//
//   - a caller of Apply or ApplyAtomic (submit) that finds commitMu free commits its own
//     request, with whatever is queued, on its own goroutine: a lone editor then waits for its
//     fsyncs only, not for two goroutine hand-offs as well;
//   - the writer goroutine (writer) commits what callers queued while someone else was
//     committing. At Close it commits everything still queued and stops; at Release it does
//     the same, closes the file and waits (handover.go).
//
// Both commit through commitQueued, the only caller of commit: it takes what is queued, up to
// MaxBatch requests, into one transaction (two fsyncs for the lot), makes it visible, publishes
// it in revision order and only then answers the callers. A lone edit is committed at once:
// there is no timer.

// submit runs on the caller's goroutine: it commits r itself or queues it for the writer
// goroutine, and returns once r is answered.
func (s *Store) submit(r *writeReq) {
	r.res, r.errs, r.done = make([]Result, len(r.edits)), make([]error, len(r.edits)), make(chan struct{})
	if s.opt.ReadOnly {
		for i := range r.errs {
			r.errs[i] = fmt.Errorf("the store is open read-only: %w", ErrClosed)
		}
		return
	}
	// Nobody committing: commit on this goroutine, with whatever else is queued.
	if s.commitMu.TryLock() {
		select {
		case <-s.stop: // closing: the writer goroutine answers what was queued before
			s.commitMu.Unlock()
		default:
			s.commitQueued(r)
			s.commitMu.Unlock()
			return
		}
	}
	// Someone is committing (or the file is handed over): queue for the writer goroutine.
	select {
	case s.reqs <- r:
		select {
		case <-r.done:
			return
		case <-s.stopped:
			// The writer is gone. It may have answered before it went; if not, the request
			// came after its last look at the queue and nothing of it was written.
			select {
			case <-r.done:
				return
			default:
			}
		}
	case <-s.stop:
	}
	for i := range r.errs {
		r.errs[i] = ErrClosed
	}
}

// Apply queues an edit for the writer and waits until it is durable on disk (or refused).
func (s *Store) Apply(e Edit) (Result, error) {
	r := &writeReq{edits: []Edit{e}}
	s.submit(r)
	return r.res[0], r.errs[0]
}

// EditError is ApplyAtomic's refusal: which edit (from 0) of how many was refused, and why.
type EditError struct {
	Index, Of int
	Err       error
}

func (e *EditError) Error() string { return fmt.Sprintf("edit %d of %d: %v", e.Index+1, e.Of, e.Err) }

// Unwrap gives the refused edit's error.
func (e *EditError) Unwrap() error { return e.Err }

// ApplyAtomic commits every edit in one transaction, or none: if one is refused, all are,
// and the error is an *EditError naming the first refused edit.
func (s *Store) ApplyAtomic(edits []Edit) ([]Result, error) {
	r := &writeReq{edits: edits, atomic: true}
	s.submit(r)
	return r.res, errors.Join(r.errs...)
}

// writer is the writer goroutine: it commits what callers queue while another commit is
// running, and at Close or Release commits everything still queued before it stops or lets
// the file go. It takes commitMu before it takes more from the queue, so what queues while it
// waits for a caller's commit joins its batch.
func (s *Store) writer() {
	defer close(s.stopped)
	for {
		select {
		case first := <-s.reqs:
			s.commitMu.Lock()
			s.commitQueued(first)
			s.commitMu.Unlock()
		case <-s.stop:
			s.commitMu.Lock()
			s.commitAllQueued()
			s.commitMu.Unlock()
			return
		case ack := <-s.release:
			s.commitMu.Lock()
			goOn := s.handOver(ack)
			s.commitMu.Unlock()
			if !goOn {
				return
			}
		}
	}
}

// commitQueued commits first (nil: none) with whatever is queued, up to MaxBatch requests, in
// one transaction, and reports whether there was anything to commit. It is the one way to
// commit; the caller holds commitMu, whichever goroutine it runs on.
func (s *Store) commitQueued(first *writeReq) bool {
	batch := s.batch[:0]
	if first != nil {
		batch = append(batch, first)
	}
	batch = s.drain(batch)
	if len(batch) == 0 {
		return false
	}
	s.commit(batch)
	clear(batch) // answered: keep no request alive until the next commit
	s.batch = batch[:0]
	return true
}

// commitAllQueued runs commitQueued until the queue is empty: at Close and Release, what
// callers queued before is committed and answered, MaxBatch requests a transaction.
func (s *Store) commitAllQueued() {
	for s.commitQueued(nil) {
	}
}

// drain adds what is queued to batch, up to MaxBatch requests.
func (s *Store) drain(batch []*writeReq) []*writeReq {
	for len(batch) < s.opt.MaxBatch {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

type staged struct {
	req    *writeReq
	i      int // the edit's index in req
	change Change
	after  *Project // nil for a delete
	before *Project // nil for a create
	// The encoded values, made before the transaction (see encodeStaged).
	projectJSON, changeJSON, logJSON []byte
	prev                             uint64 // the project's previous change (see chain)

	// The monthly cycle's part: a month or settings change has no project; puts are the
	// values it writes besides, apply makes them visible in memory (under mu), and the
	// pointers are what the edit's Result carries.
	noProject bool
	puts      []kv
	apply     func(*cycleState)
	report    *Report
	problem   *Problem
	month     *MonthState
	rules     *WarningRules
	changes   int // how many changes the edit made (a settings change or re-evaluation makes several)
}

// encodeStaged encodes every staged value before the write transaction, on every core for
// a large batch: encoding is most of the writer's CPU, and the transaction then only puts.
func encodeStaged(batch []staged) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(batch)/8))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	encodeShare := func(w int) {
		for i := w; i < len(batch); i += workers {
			st := &batch[i]
			var after []byte
			if st.after != nil {
				v, err := encode(st.after)
				if err != nil {
					errs[w] = err
					return
				}
				st.projectJSON, after = v, v // encoded once, stored twice
			}
			cj, err := encode(st.change)
			if err != nil {
				errs[w] = err
				return
			}
			st.changeJSON, st.logJSON = cj, appendAfter(cj, after, st.prev)
		}
	}
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			encodeShare(w)
		}(w)
	}
	encodeShare(0) // this goroutine takes a share too; a lone edit starts none
	wg.Wait()
	return errors.Join(errs...)
}

// commit stages a batch against the current state, writes what passed in one transaction,
// makes it visible, publishes it and answers every caller, in that order.
func (s *Store) commit(batch []*writeReq) {
	if s.rep != nil {
		s.commitReplicated(batch)
		return
	}
	now := s.opt.Now().UTC()
	ok, rev, edits := s.stageBatch(batch, now)
	s.hookMu.Lock()
	hook, observe := s.hook, s.observe
	s.hookMu.Unlock()
	if len(ok) > 0 {
		t0 := time.Now()
		s.chain(ok)
		err := encodeStaged(ok)
		if err == nil {
			err = s.update(func(tx *wtx) error { return writeStaged(tx, ok, rev) })
		}
		if observe != nil {
			observe(CommitStats{Edits: len(ok), Refused: edits - len(ok), Duration: time.Since(t0), Err: err})
		}
		if err != nil {
			for _, st := range ok {
				if st.req != nil {
					st.req.errs[st.i] = fmt.Errorf("commit: %v: %w", err, ErrUnavailable)
				}
			}
			ok = nil
		}
	}
	if events := s.makeVisible(ok, rev, now); len(events) > 0 && hook != nil {
		hook(events)
	}
	for _, r := range batch {
		close(r.done)
	}
}

// chain sets each staged change's prev: the revision of the same project's change before it,
// in this batch or committed. Only the holder of commitMu reads or writes lastRev.
func (s *Store) chain(ok []staged) {
	if len(ok) == 1 { // the usual case: no map
		if !ok[0].noProject {
			ok[0].prev = s.lastRev[ok[0].change.ProjectID]
		}
		return
	}
	inBatch := make(map[string]uint64, len(ok))
	for i := range ok {
		if ok[i].noProject {
			continue
		}
		id := ok[i].change.ProjectID
		prev, seen := inBatch[id]
		if !seen {
			prev = s.lastRev[id]
		}
		ok[i].prev = prev
		inBatch[id] = ok[i].change.Rev
	}
}

// stageBatch checks every edit of the batch in order against the state the earlier ones
// leave, numbering those that change something. It returns them, the last revision and how
// many edits the batch held.
func (s *Store) stageBatch(batch []*writeReq, now time.Time) (ok []staged, rev uint64, edits int) {
	b := s.newBatchState(now, s.today())
	overlay := b.projects // the batch's view of projects changed so far
	rev = s.rev
	type prior struct {
		p         *Project
		inOverlay bool
	}
	for _, r := range batch {
		edits += len(r.edits)
		// For an atomic request, remember how to undo its part of the overlay.
		startOK, startRev, startUndo := len(ok), rev, len(b.undo)
		var undo map[string]prior
		if r.atomic {
			undo = map[string]prior{}
		}
		failed := -1
		for i, e := range r.edits {
			b.rev = rev
			var sts []staged
			var err error
			switch e.Kind {
			case ChangeCreate, ChangeUpdate, ChangeDelete:
				var st *staged
				if st, err = s.stage(e, b, now, b.today); st != nil {
					sts = []staged{*st}
				}
			default:
				sts, err = b.stageCycle(e)
			}
			if err != nil {
				r.errs[i] = err
				if r.atomic {
					failed = i
					break
				}
				b.rollback(startUndo) // a lone edit's overlays of other kinds
				startUndo = len(b.undo)
				continue
			}
			if len(sts) == 0 { // nothing changed
				r.res[i] = b.unchanged(e)
				continue
			}
			for j := range sts {
				st := &sts[j]
				rev++
				if j == 0 {
					st.req, st.i, st.changes = r, i, len(sts)
				}
				st.change.Rev = rev
				if st.noProject {
					continue
				}
				id := st.change.ProjectID
				if _, seen := undo[id]; r.atomic && !seen {
					p, inOverlay := overlay[id]
					undo[id] = prior{p, inOverlay}
				}
				overlay[id] = st.after
			}
			ok = append(ok, sts...)
			if !r.atomic {
				startUndo = len(b.undo)
			}
		}
		if failed < 0 {
			continue
		}
		for id, u := range undo {
			if u.inOverlay {
				overlay[id] = u.p
			} else {
				delete(overlay, id)
			}
		}
		b.rollback(startUndo)
		b.problemSeq = max(b.problemSeq, s.cycle.problemSeq) // ids may skip: never reused
		ok, rev = ok[:startOK], startRev
		for i := range r.errs {
			if i != failed {
				r.errs[i] = nil
			}
		}
		r.errs[failed] = &EditError{Index: failed, Of: len(r.edits), Err: r.errs[failed]}
	}
	return ok, rev, edits
}

// makeVisible applies committed changes to the in-memory state and returns their events.
// The whole batch becomes visible at once, with the summary of its last revision, so a
// reader never sees a revision without its figures. Only the last event carries the
// summary: the earlier ones were never visible on their own.
func (s *Store) makeVisible(ok []staged, rev uint64, now time.Time) []Event {
	if len(ok) == 0 {
		return nil
	}
	s.mu.Lock()
	for _, st := range ok {
		if st.apply != nil {
			st.apply(&s.cycle)
		}
		if st.noProject {
			continue
		}
		s.lastRev[st.change.ProjectID] = st.change.Rev
		s.agg.add(st.before, -1)
		s.agg.add(st.after, 1)
		if st.after == nil {
			delete(s.projects, st.change.ProjectID)
		} else {
			s.projects[st.change.ProjectID] = st.after
		}
	}
	s.rev = rev
	prev := s.summary
	s.summary = s.liveSummary(rev, now)
	sum := s.summary
	s.mu.Unlock()
	// Summaries are never changed once made, so the delta is worked out outside the lock.
	delta, made := AppendSummaryDelta(nil, prev, sum)
	if !made {
		delta = nil
	}
	fillResults(ok)
	events := make([]Event, 0, len(ok))
	for i, st := range ok {
		ev := Event{Change: st.change, Project: st.after, ChangeJSON: st.changeJSON, ProjectJSON: st.projectJSON}
		if i == len(ok)-1 {
			ev.Summary, ev.SummaryDelta = sum, delta
		}
		events = append(events, ev)
	}
	return events
}

// fillResults sets each committed edit's Result.
func fillResults(ok []staged) {
	for _, st := range ok {
		if st.req == nil {
			continue
		}
		ch := st.change
		res := Result{Change: &ch, Report: st.report, Problem: st.problem, Month: st.month, Rules: st.rules, changes: st.changes}
		if st.after != nil {
			res.Project, res.ProjectJSON = *st.after, st.projectJSON
		} else if st.before != nil {
			res.Project = *st.before
		}
		st.req.res[st.i] = res
	}
}

// stage checks an edit against the batch's current state and works out its change; a nil
// result without error means the edit changes nothing.
func (s *Store) stage(e Edit, b *batchState, now time.Time, today Date) (*staged, error) {
	current := b.current
	if err := CheckComment(e.Comment); err != nil {
		return nil, err
	}
	switch e.Kind {
	case ChangeCreate:
		if e.New == nil {
			return nil, invalid("body", "is required")
		}
		p := *e.New
		if p.ID == "" {
			p.ID = "P" + strings.ToUpper(randomHex(5))
		}
		p, err := PrepareNew(p, today) // stage-implied dates, Validate, the domain rules
		if err != nil {
			return nil, err
		}
		if _, exists := current(p.ID); exists {
			return nil, fmt.Errorf("project %q: %w", p.ID, ErrConflict)
		}
		if err := mayEdit(e.Actor, nil, &p); err != nil {
			return nil, err
		}
		p.Version, p.UpdatedAt, p.UpdatedBy = 1, now, e.By
		p.Warning, p.OpenProblems = Warning{}, 0
		fields := Diff(Project{}, p)
		b.withWarning(&p, fields)
		return &staged{after: &p, change: Change{ProjectID: p.ID, ProjectName: p.Name, At: now, By: e.By,
			Kind: ChangeCreate, Fields: fields, Comment: e.Comment}}, nil
	case ChangeUpdate, ChangeDelete:
		before, exists := current(e.ProjectID)
		if !exists {
			return nil, fmt.Errorf("project %q: %w", e.ProjectID, ErrNotFound)
		}
		if e.IfMatch != before.Version {
			return nil, &VersionMismatchError{Current: *before}
		}
		if e.Kind == ChangeDelete {
			if err := mayEdit(e.Actor, before, nil); err != nil {
				return nil, err
			}
			return &staged{before: before, change: Change{ProjectID: before.ID, ProjectName: before.Name, At: now,
				By: e.By, Kind: ChangeDelete, Fields: map[string]FieldChange{}, Comment: e.Comment}}, nil
		}
		if e.Patch == nil {
			return nil, invalid("body", "is required")
		}
		// The department check comes first: an edit that would change nothing must still not
		// tell an editor of another department that it was accepted.
		if err := mayEdit(e.Actor, before, nil); err != nil {
			return nil, err
		}
		// Apply with the patch's effective date (default today), Validate, the effective
		// date against today and the project's year, the rules of the touched fields.
		after, fields, err := e.Patch.Prepare(*before, today)
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			return nil, nil
		}
		if err := mayEdit(e.Actor, before, &after); err != nil {
			return nil, err
		}
		b.withWarning(&after, fields)
		after.Version, after.UpdatedAt, after.UpdatedBy = before.Version+1, now, e.By
		return &staged{before: before, after: &after, change: Change{ProjectID: after.ID, ProjectName: after.Name,
			At: now, By: e.By, Kind: ChangeUpdate, Fields: fields, Comment: e.Comment}}, nil
	}
	return nil, fmt.Errorf("unknown change kind %q", e.Kind)
}

// writeStaged writes a batch's projects, log entries and index keys, and the last revision.
func writeStaged(tx *wtx, batch []staged, rev uint64) error {
	if tx.Tx != nil {
		// The log only ever appends at the end: full pages waste nothing (the default of half
		// full suits random inserts). FillPercent lives on the bucket handle, so it is set in
		// every transaction.
		tx.Bucket(bucketChanges).FillPercent = 0.95
	}
	for _, st := range batch {
		for _, v := range st.puts {
			if err := tx.put(v.bucket, v.key, v.value); err != nil {
				return err
			}
		}
		revKey := u64(st.change.Rev)
		if st.noProject {
			if err := tx.put(bucketChanges, revKey, st.logJSON); err != nil {
				return err
			}
			continue
		}
		id := []byte(st.change.ProjectID)
		if st.after == nil {
			if err := tx.del(bucketProjects, id); err != nil {
				return err
			}
		} else if err := tx.put(bucketProjects, id, st.projectJSON); err != nil {
			return err
		}
		if err := tx.put(bucketChanges, revKey, st.logJSON); err != nil {
			return err
		}
		if err := tx.put(bucketProjectLast, id, revKey); err != nil {
			return err
		}
	}
	return tx.put(bucketMeta, keyRev, u64(rev))
}
