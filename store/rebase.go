package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"projectboard/store/etcdlog"
)

// Rebasing. Every entry of the log would otherwise stay in etcd for ever, and etcd's storage
// quota (2 GiB by default) would end the cluster's writes after some 800,000 edits. So the
// log is cut from time to time: once it has grown Options.RebaseEvery entries past its base,
// the instance that has just committed (normally the elected writer) makes its view, as it
// stands at that entry, the new base, and the entries the previous base already included are
// deleted in the same etcd transaction (etcdlog.ReplaceBase). etcd then holds at most two
// bases and about 2 × RebaseEvery entries, whatever the board's age.
//
// Nothing of the board is lost: the view — and so the base made from it — holds the whole
// change log, the history, the audit log, as a single node's file does. An instance that was
// away for less than one rebase finds the entries it lacks still kept; one away longer (or a
// new one) loads the newest base and follows from there, at start (startReplica) or, if it
// finds the entries it needs gone while running, in place (reload).

// maybeRebase starts a rebase when the log has grown RebaseEvery entries past the base this
// instance knows of and none is under way here. The caller holds commitMu, so the view stands
// exactly at r.applied: a read transaction taken now sees that state while writes go on.
func (r *replica) maybeRebase() {
	r.baseMu.Lock()
	due := !r.rebasing && r.applied >= r.base.Entry+r.s.opt.RebaseEvery
	if due {
		r.rebasing = true
	}
	old := r.base
	r.baseMu.Unlock()
	if !due {
		return
	}
	tx, err := r.s.file.Load().Begin(false)
	if err != nil {
		r.rebaseDone(old, fmt.Errorf("reading the view: %w", err))
		return
	}
	at := r.applied
	meta, _ := json.Marshal(baseMeta{Schema: SchemaVersion, Epoch: r.s.epoch})
	r.rebases.Add(1)
	go func() {
		defer r.rebases.Done()
		chunks, err := baseChunks(tx)
		_ = tx.Rollback()
		if err == nil {
			err = r.replaceBase(old, etcdlog.Base{ID: randomHex(8), Entry: at, Meta: meta}, chunks)
		}
		r.rebaseDone(old, err)
	}()
}

// replaceBase puts b in old's place, pruning what old included; when another instance did
// first, it learns the base that won.
func (r *replica) replaceBase(old, b etcdlog.Base, chunks [][]byte) error {
	ctx, cancel := context.WithTimeout(r.ctx, 4*r.timeout)
	defer cancel()
	won, err := r.log.ReplaceBase(ctx, old, b, chunks, old.Entry)
	if err != nil {
		return err
	}
	if !won {
		now, err := r.log.GetBase(ctx)
		if err != nil {
			return err
		}
		r.baseMu.Lock()
		r.base = now
		r.baseMu.Unlock()
		return nil
	}
	if now, err := r.log.GetBase(ctx); err == nil && now.ID == b.ID {
		r.baseMu.Lock()
		r.base = now
		r.baseMu.Unlock()
		log.Printf("cluster: new base at entry %d (%d bytes in %d chunks); entries up to %d pruned", b.Entry, now.Bytes, now.Chunks, old.Entry)
	}
	return nil
}

func (r *replica) rebaseDone(old etcdlog.Base, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Printf("cluster: making a new base after entry %d: %v (tried again after the next commit)", old.Entry, err)
	}
	r.baseMu.Lock()
	r.rebasing = false
	r.baseMu.Unlock()
}

// reload loads the newest base into the view while the instance runs, when the entries it
// needs next were pruned (it was cut off for longer than a rebase). Screens connected here
// are then closed by the server (Reloads) and resume from their revision.
func (r *replica) reload(ctx context.Context) error {
	if err := r.loadNewestBase(ctx); err != nil {
		return err
	}
	r.reloads.Add(1)
	return nil
}

// loadNewestBase replaces the view by the newest base, which must stand past it: the entries
// the view needs next were pruned. Running (reload) or starting (startReplica).
func (r *replica) loadNewestBase(ctx context.Context) error {
	s := r.s
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 4*r.timeout)
	defer cancel()
	base, err := r.log.GetBase(ctx)
	if err != nil {
		return err
	}
	if base.Entry <= r.applied {
		return fmt.Errorf("%w, yet the base stands at entry %d and the view at %d", etcdlog.ErrCompacted, base.Entry, r.applied)
	}
	log.Printf("cluster: the entries after %d were pruned: loading the base at entry %d", r.applied, base.Entry)
	if err := s.loadBase(ctx, r.log, base); err != nil {
		return fmt.Errorf("loading the base: %w", err)
	}
	r.applied = base.Entry
	r.baseMu.Lock()
	r.base = base
	r.baseMu.Unlock()
	r.publish(base.Entry) // loadBase rebuilt memory from the file
	return nil
}

// Reloads is how many times this instance, running, loaded a newer base into its view
// (replica.reload): its screens must start again from their revision.
func (s *Store) Reloads() int64 {
	if s.rep == nil {
		return 0
	}
	return s.rep.reloads.Load()
}

// Base is the base of the cluster's log this instance last knew of (zero on a single node).
func (s *Store) Base() etcdlog.Base {
	if s.rep == nil {
		return etcdlog.Base{}
	}
	s.rep.baseMu.Lock()
	defer s.rep.baseMu.Unlock()
	return s.rep.base
}
