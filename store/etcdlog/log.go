// Package etcdlog keeps Projectboard's log of record in etcd: a sequence of entries numbered
// 1, 2, 3 … without holes, appended in batches by any number of instances, and followed by each
// instance into its own bbolt view.
//
// etcd numbers every write with one cluster-wide revision, so the writes to one prefix leave
// holes wherever other keys were written. The log keeps its own counter instead: the key
// <prefix>head holds the last entry's number, and an append of k entries is one transaction
//
//	If(Value(head) == n) Then(Put(log/n+1) … Put(log/n+k), Put(head, n+k)) Else(Get(head))
//
// so appends are serialised by the compare, a lost race costs one round trip and answers with
// the head that won, and a committed batch is contiguous and never torn. Entries are keys of
// their own, never overwritten: etcd's compaction of its history leaves them readable, and
// only Prune removes them.
//
// Key layout under the prefix (by default "/pb/"):
//
//	head                  the last entry's number, decimal
//	log/<20-digit number> one entry, its value the caller's bytes
//	floor                 the first entry still kept, decimal; absent until Prune
package etcdlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxOps is etcd's default limit of operations in one transaction (--max-txn-ops); an append
// spends one on the head, so a batch holds at most MaxOps-1 entries unless the cluster allows
// more (Log.MaxBatch).
const MaxOps = 128

// MaxRequestBytes is etcd's default limit of a request (--max-request-bytes, 1.5 MiB).
const MaxRequestBytes = 3 << 19

// ErrConflict means the head moved since the caller read it: another append won. A
// *ConflictError carries the head that won.
var ErrConflict = errors.New("etcdlog: head moved")

// ErrCompacted means entries the caller needs were pruned from etcd: it must rebuild its view
// from a snapshot instead of following the log.
var ErrCompacted = errors.New("etcdlog: entries pruned")

// ErrTooLarge means a batch exceeds what one etcd transaction may carry.
var ErrTooLarge = errors.New("etcdlog: batch too large for one transaction")

// ConflictError is returned by Append when the head was not what the caller expected.
type ConflictError struct {
	Expected, Head uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("etcdlog: head is %d, not %d", e.Head, e.Expected)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Entry is one entry of the log.
type Entry struct {
	Rev   uint64 // its number: 1, 2, 3 …
	Value []byte
}

// Appended tells what an Append committed.
type Appended struct {
	First, Last uint64 // the numbers given to the batch
	EtcdRev     int64  // etcd's revision of the transaction
}

// Log is the log of record under one prefix of an etcd cluster.
type Log struct {
	cli    *clientv3.Client
	prefix string

	// MaxBatch is the most entries Append takes at once; MaxOps-1 when zero.
	MaxBatch int
	// MaxBytes is the most bytes of keys and values Append sends at once; 1 MiB when zero,
	// leaving room under MaxRequestBytes for the request's own encoding.
	MaxBytes int

	leader  atomic.Pointer[leaderConn] // the connection appends take (leader.go); nil: the client
	recheck chan struct{}              // an append through leader failed
}

// New returns the log under prefix ("/pb/" when empty) of the cluster cli talks to.
func New(cli *clientv3.Client, prefix string) *Log {
	if prefix == "" {
		prefix = "/pb/"
	}
	return &Log{cli: cli, prefix: prefix, recheck: make(chan struct{}, 1)}
}

func (l *Log) headKey() string  { return l.prefix + "head" }
func (l *Log) floorKey() string { return l.prefix + "floor" }
func (l *Log) logPrefix() string {
	return l.prefix + "log/"
}

// key returns the key of entry rev; 20 digits hold any uint64 and sort as numbers.
func (l *Log) key(rev uint64) string { return fmt.Sprintf("%s%020d", l.logPrefix(), rev) }

func (l *Log) revOf(key []byte) (uint64, error) {
	s := string(key)
	if len(s) != len(l.logPrefix())+20 || s[:len(l.logPrefix())] != l.logPrefix() {
		return 0, fmt.Errorf("etcdlog: %q is not an entry key", s)
	}
	return strconv.ParseUint(s[len(l.logPrefix()):], 10, 64)
}

func (l *Log) maxBatch() int {
	if l.MaxBatch > 0 {
		return l.MaxBatch
	}
	return MaxOps - 1
}

func (l *Log) maxBytes() int {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return 1 << 20
}

// Head returns the number of the last entry appended, 0 for an empty log, read through a
// quorum (linearizable).
func (l *Log) Head(ctx context.Context) (uint64, error) {
	resp, err := l.cli.Get(ctx, l.headKey())
	if err != nil {
		return 0, err
	}
	return parseHead(resp.Kvs)
}

func parseHead(kvs []*mvccpb.KeyValue) (uint64, error) {
	if len(kvs) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcdlog: head %q: %w", kvs[0].Value, err)
	}
	return n, nil
}

// Append appends values as entries head+1 … head+len(values) in one transaction, if the last
// entry is still head. Otherwise nothing is written and the error is a *ConflictError with
// the head that is: the caller checks its edits against the entries up to it and tries again.
// The batch is committed — replicated to a quorum and durable on it — when Append returns
// without error.
func (l *Log) Append(ctx context.Context, head uint64, values [][]byte) (Appended, error) {
	if len(values) == 0 {
		return Appended{}, errors.New("etcdlog: empty append")
	}
	if len(values) > l.maxBatch() {
		return Appended{}, fmt.Errorf("%w: %d entries, at most %d", ErrTooLarge, len(values), l.maxBatch())
	}
	size := 0
	ops := make([]clientv3.Op, 0, len(values)+1)
	for i, v := range values {
		k := l.key(head + 1 + uint64(i))
		size += len(k) + len(v)
		ops = append(ops, clientv3.OpPut(k, string(v)))
	}
	if size > l.maxBytes() {
		return Appended{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, size, l.maxBytes())
	}
	last := head + uint64(len(values))
	ops = append(ops, clientv3.OpPut(l.headKey(), strconv.FormatUint(last, 10)))

	var cmp clientv3.Cmp
	if head == 0 {
		cmp = clientv3.Compare(clientv3.CreateRevision(l.headKey()), "=", 0)
	} else {
		cmp = clientv3.Compare(clientv3.Value(l.headKey()), "=", strconv.FormatUint(head, 10))
	}
	kv, lc := l.appendKV()
	resp, err := kv.Txn(ctx).If(cmp).Then(ops...).Else(clientv3.OpGet(l.headKey())).Commit()
	if err != nil {
		if lc != nil {
			l.forgetLeader(lc)
		}
		return Appended{}, err
	}
	if !resp.Succeeded {
		now, err := parseHead(resp.Responses[0].GetResponseRange().Kvs)
		if err != nil {
			return Appended{}, err
		}
		return Appended{}, &ConflictError{Expected: head, Head: now}
	}
	return Appended{First: head + 1, Last: last, EtcdRev: resp.Header.Revision}, nil
}

// Prune deletes the entries before floor, which every instance must have applied and copied
// into its own file. A follower that needs one of them afterwards gets ErrCompacted.
func (l *Log) Prune(ctx context.Context, floor uint64) error {
	_, err := l.cli.Txn(ctx).Then(
		clientv3.OpDelete(l.logPrefix(), clientv3.WithRange(l.key(floor))),
		clientv3.OpPut(l.floorKey(), strconv.FormatUint(floor, 10)),
	).Commit()
	return err
}

// Client is the etcd client the log uses.
func (l *Log) Client() *clientv3.Client { return l.cli }

// Prefix is the log's key prefix.
func (l *Log) Prefix() string { return l.prefix }

// Read returns the entries from up to to, inclusive, in order, or ErrCompacted when one of
// them was pruned. A writer that lost a race reads what won with it.
func (l *Log) Read(ctx context.Context, from, to uint64) ([]Entry, error) {
	var out []Entry
	for next := from; next <= to; {
		resp, err := l.cli.Get(ctx, l.key(next), clientv3.WithRange(l.key(to+1)), clientv3.WithLimit(listPage))
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("%w: %d wanted, none kept up to %d", ErrCompacted, next, to)
		}
		for _, kv := range resp.Kvs {
			rev, err := l.revOf(kv.Key)
			if err != nil {
				return nil, err
			}
			if rev != next {
				return nil, fmt.Errorf("%w: %d wanted, %d found", ErrCompacted, next, rev)
			}
			out = append(out, Entry{Rev: rev, Value: kv.Value})
			next++
		}
	}
	return out, nil
}
