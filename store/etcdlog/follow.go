package etcdlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// listPage is how many entries one range read of Follow asks for.
const listPage = 500

// Follow calls apply with every entry after applied, in order, in batches, without holes or
// repeats, and then with every entry appended later, until ctx ends or apply fails; it
// returns the reason. It is the Kubernetes watch cache's pattern: a range read of the log from
// applied+1, then a watch from the read's etcd revision.
//
// A watch that breaks — its member stopped, lost its leader (the watch requires one, so an
// isolated member cannot keep a follower silently behind), or etcd compacted its history past
// the watch — is resumed by reading the log again from the next entry: entries are keys that
// compaction keeps, so Follow needs no help from the caller. Only entries removed by Prune end
// it, with ErrCompacted: the caller must rebuild its view from a snapshot.
//
// apply runs on Follow's goroutine and owns the entries it is given.
func (l *Log) Follow(ctx context.Context, applied uint64, apply func([]Entry) error) error {
	next := applied + 1
	for {
		etcdRev, err := l.list(ctx, &next, apply)
		if err != nil {
			return err
		}
		err = l.watch(ctx, etcdRev+1, &next, apply)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ae applyError
		if errors.As(err, &ae) {
			return ae.err
		}
		if errors.Is(err, errHole) {
			return err
		}
		// Anything else — the watch closed, was compacted, lost its member or its leader —
		// reads the log again from next.
	}
}

type applyError struct{ err error }

func (e applyError) Error() string { return e.err.Error() }

var errHole = errors.New("etcdlog: hole in the log")

// list delivers the entries from *next up to the head, page by page, all at the etcd revision
// of the first page, and returns that revision.
func (l *Log) list(ctx context.Context, next *uint64, apply func([]Entry) error) (int64, error) {
	end := clientv3.GetPrefixRangeEnd(l.logPrefix())
	var etcdRev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if etcdRev != 0 {
			opts = append(opts, clientv3.WithRev(etcdRev))
		}
		resp, err := l.cli.Txn(ctx).Then(
			clientv3.OpGet(l.key(*next), opts...),
			clientv3.OpGet(l.headKey(), revOpt(etcdRev)...),
		).Commit()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("etcdlog: reading the log from %d: %w", *next, err)
		}
		if etcdRev == 0 {
			etcdRev = resp.Header.Revision
		}
		head, err := parseHead(resp.Responses[1].GetResponseRange().Kvs)
		if err != nil {
			return 0, err
		}
		r := resp.Responses[0].GetResponseRange()
		if len(r.Kvs) == 0 {
			if head >= *next {
				return 0, fmt.Errorf("%w: %d wanted, the log is empty up to its head %d", ErrCompacted, *next, head)
			}
			return etcdRev, nil
		}
		if err := l.deliver(r.Kvs, true, next, apply); err != nil {
			return 0, err
		}
		if !r.More {
			return etcdRev, nil
		}
	}
}

func revOpt(rev int64) []clientv3.OpOption {
	if rev == 0 {
		return nil
	}
	return []clientv3.OpOption{clientv3.WithRev(rev)}
}

// deliver hands kvs, entries in order, to apply, skipping those before *next (already
// delivered), and advances *next. listed tells that kvs come from a range read starting at
// *next, where a first entry beyond *next means the ones before it were pruned.
func (l *Log) deliver(kvs []*mvccpb.KeyValue, listed bool, next *uint64, apply func([]Entry) error) error {
	batch := make([]Entry, 0, len(kvs))
	for _, kv := range kvs {
		rev, err := l.revOf(kv.Key)
		if err != nil {
			return err
		}
		switch {
		case rev < *next+uint64(len(batch)):
			continue
		case rev > *next+uint64(len(batch)):
			if listed && len(batch) == 0 {
				// The first entry kept is beyond the one we need: pruned.
				return fmt.Errorf("%w: %d wanted, %d is the first kept", ErrCompacted, *next, rev)
			}
			return fmt.Errorf("%w: %d after %d", errHole, rev, *next+uint64(len(batch))-1)
		}
		batch = append(batch, Entry{Rev: rev, Value: kv.Value})
	}
	if len(batch) == 0 {
		return nil
	}
	if err := apply(batch); err != nil {
		return applyError{err}
	}
	*next += uint64(len(batch))
	return nil
}

// watch delivers entries appended from etcd revision from on, until the watch ends.
func (l *Log) watch(ctx context.Context, from int64, next *uint64, apply func([]Entry) error) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := l.cli.Watch(ctx, l.logPrefix(), clientv3.WithPrefix(), clientv3.WithRev(from),
		clientv3.WithProgressNotify(), clientv3.WithFilterDelete())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		if len(resp.Events) == 0 {
			continue // a progress notification: nothing appended up to resp.Header.Revision
		}
		kvs := make([]*mvccpb.KeyValue, 0, len(resp.Events))
		for _, ev := range resp.Events {
			kvs = append(kvs, ev.Kv)
		}
		// One transaction's events come in the order of its operations, the entries' order;
		// sort anyway, so that the order of delivery never depends on it.
		slices.SortFunc(kvs, func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Key, b.Key) })
		if err := l.deliver(kvs, false, next, apply); err != nil {
			return err
		}
	}
	return errors.New("etcdlog: watch closed")
}
