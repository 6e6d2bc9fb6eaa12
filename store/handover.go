package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The in-place upgrade hands the database file from this process to its successor (SIGHUP):
// Release (main's upgrade calls it) asks the writer goroutine to let the file go; the writer
// goroutine (handOver) commits what is queued, closes the file and waits, holding commitMu
// so that no caller commits on its own goroutine meanwhile — their edits queue. Then either
// Reacquire (the successor failed: the writer goes on) or Close (the successor took over:
// what queued meanwhile fails, unwritten).

// Release hands the database file over to another process, for an upgrade without
// downtime: the writer commits what is queued and closes the file, so the new process can
// open it. The in-memory state stays, so snapshots and the summary are still served; reads
// of the file fail with ErrUnavailable and edits wait. Then either Close (the new process
// took over: waiting edits fail with ErrUnavailable, nothing acknowledged is lost) or
// Reacquire (the upgrade failed).
func (s *Store) Release() error {
	if s.opt.ReadOnly {
		return errors.New("a read-only store has no writer to release")
	}
	ack := make(chan error)
	select {
	case s.release <- ack:
		return <-ack
	case <-s.stop:
		return ErrClosed
	}
}

// Reacquire opens the file again after Release and lets waiting edits through. It fails if
// the file changed meanwhile (another process wrote to it): this process's state is then
// stale and it must not go on.
func (s *Store) Reacquire() error {
	db, err := openFile(s.path, s.opt)
	if err != nil {
		return err
	}
	var epoch string
	var rev uint64
	_ = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		epoch, rev = string(meta.Get(keyEpoch)), btou(meta.Get(keyRev))
		return nil
	})
	s.mu.RLock()
	same := epoch == s.epoch && rev == s.rev
	s.mu.RUnlock()
	if !same {
		db.Close()
		return fmt.Errorf("the database changed while it was released (epoch %s rev %d, had %s rev %d)", epoch, rev, s.epoch, s.rev)
	}
	s.file.Store(db)
	select {
	case s.reacquire <- struct{}{}:
		return nil
	case <-s.stop:
		return ErrClosed
	}
}

// handOver runs on the writer goroutine, which holds commitMu, when Release asks: it commits
// what is queued, closes the file, answers Release and waits — for Reacquire (true: go on) or
// for Close (false: what queued meanwhile fails, nothing of it was written).
func (s *Store) handOver(ack chan error) bool {
	s.commitAllQueued()
	err := s.file.Load().Close()
	ack <- err
	if err != nil {
		return true // still open: nothing to wait for
	}
	select {
	case <-s.reacquire:
		return true
	case <-s.stop:
		for {
			select {
			case r := <-s.reqs:
				for i := range r.errs {
					r.errs[i] = fmt.Errorf("the server is handing over to its new process: %w", ErrUnavailable)
				}
				close(r.done)
			default:
				return false
			}
		}
	}
}
