package etcdlog

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Batcher is group commit over a Log: callers on many goroutines hand it one entry each; its
// goroutine appends whatever is queued (up to the log's MaxBatch and MaxBytes) in one
// transaction while the next callers queue, then answers each caller with its entry's number.
// Only one transaction is in flight at a time, as in the store's own writer.
//
// A Batcher keeps the head it last appended at. When another appender moved it, the batch
// fails with a *ConflictError and the Batcher takes the new head: the callers check their
// edits against the entries they have not seen and try again.
type Batcher struct {
	log     *Log
	timeout time.Duration
	reqs    chan *request
	done    chan struct{}
	wg      sync.WaitGroup

	txns, entries atomic.Int64 // committed
}

// Stats returns how many transactions the Batcher committed and how many entries they held.
func (b *Batcher) Stats() (txns, entries int64) { return b.txns.Load(), b.entries.Load() }

type request struct {
	ctx   context.Context
	value []byte
	rev   uint64
	err   error
	ok    chan struct{}
}

// ErrClosed is returned by a Batcher's Append after Close.
var ErrClosed = errors.New("etcdlog: batcher closed")

// NewBatcher starts a Batcher on l; each transaction may take up to timeout (10 s when zero).
func (l *Log) NewBatcher(timeout time.Duration) *Batcher {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	b := &Batcher{log: l, timeout: timeout, reqs: make(chan *request, 1024), done: make(chan struct{})}
	b.wg.Add(1)
	go b.run()
	return b
}

// Append appends value and returns its number once the transaction that carried it is
// committed.
func (b *Batcher) Append(ctx context.Context, value []byte) (uint64, error) {
	r := &request{ctx: ctx, value: value, ok: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-b.done:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// Once queued, the request is answered even if ctx ends: whether it was committed must be
	// known before the caller moves on.
	<-r.ok
	return r.rev, r.err
}

// Close stops the Batcher after the queued requests are answered.
func (b *Batcher) Close() {
	close(b.done)
	b.wg.Wait()
}

func (b *Batcher) run() {
	defer b.wg.Done()
	var head uint64
	known := false
	batch := make([]*request, 0, b.log.maxBatch())
	values := make([][]byte, 0, b.log.maxBatch())
	for {
		var first *request
		select {
		case first = <-b.reqs:
		case <-b.done:
			// Answer what is still queued.
			for {
				select {
				case r := <-b.reqs:
					r.err = ErrClosed
					close(r.ok)
				default:
					return
				}
			}
		}
		batch, values = batch[:0], values[:0]
		size := 0
		for r := first; r != nil; {
			if r.ctx.Err() != nil {
				r.err = r.ctx.Err()
				close(r.ok)
			} else {
				batch = append(batch, r)
				values = append(values, r.value)
				size += len(r.value) + len(b.log.logPrefix()) + 20
			}
			r = nil
			if len(batch) < b.log.maxBatch() && size < b.log.maxBytes()-64<<10 {
				select {
				case r = <-b.reqs:
				default:
				}
			}
		}
		if len(batch) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		var a Appended
		var err error
		if !known {
			head, err = b.log.Head(ctx)
			known = err == nil
		}
		if err == nil {
			a, err = b.log.Append(ctx, head, values)
		}
		cancel()
		var ce *ConflictError
		switch {
		case err == nil:
			head = a.Last
			b.txns.Add(1)
			b.entries.Add(int64(len(batch)))
		case errors.As(err, &ce):
			head = ce.Head
		default:
			known = false // the transaction may or may not have committed
		}
		for i, r := range batch {
			if err == nil {
				r.rev = a.First + uint64(i)
			}
			r.err = err
			close(r.ok)
		}
	}
}
