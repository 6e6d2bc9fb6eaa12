package etcdlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A base is the state the log starts from: the view an instance had when the cluster was
// made (a fresh database or one moved in by migrate), in chunks; later, a view at some entry,
// which replaces it (ReplaceBase) so that the entries it includes can be pruned. An instance
// that has never followed this log — a new one, or one whose file belongs to another cluster
// — or that needs entries already pruned loads the base and then applies the entries after it.
//
//	base                  the Base record (JSON)
//	base/<id>/<6 digits>  its chunks, in order
type Base struct {
	ID     string `json:"id"`     // names this base's chunks
	Entry  uint64 `json:"entry"`  // the last entry the base includes (0: none)
	Chunks int    `json:"chunks"` // how many chunks
	Bytes  int64  `json:"bytes"`
	// History names the cluster's history, the same for every base that replaced the first one
	// (empty in a first base: its ID names it): a file that followed another history must
	// start over.
	History string `json:"history,omitempty"`
	// Meta is what the caller keeps beside (its schema, its epoch).
	Meta json.RawMessage `json:"meta,omitempty"`

	raw string // the record as read, for ReplaceBase's compare
}

// HistoryID names the history the base belongs to.
func (b Base) HistoryID() string {
	if b.History != "" {
		return b.History
	}
	return b.ID
}

// ErrNoBase means the log has no base yet: nobody has made the cluster.
var ErrNoBase = errors.New("etcdlog: no base")

func (l *Log) baseKey() string { return l.prefix + "base" }

func (l *Log) chunkKey(id string, i int) string {
	return fmt.Sprintf("%sbase/%s/%06d", l.prefix, id, i)
}

// GetBase returns the log's base record, or ErrNoBase.
func (l *Log) GetBase(ctx context.Context) (Base, error) {
	resp, err := l.cli.Get(ctx, l.baseKey())
	if err != nil {
		return Base{}, err
	}
	if len(resp.Kvs) == 0 {
		return Base{}, ErrNoBase
	}
	var b Base
	if err := json.Unmarshal(resp.Kvs[0].Value, &b); err != nil {
		return Base{}, fmt.Errorf("etcdlog: base record: %w", err)
	}
	b.raw = string(resp.Kvs[0].Value)
	return b, nil
}

// ReplaceBase makes b, a view at entry b.Entry of the same history, the log's base in place of
// old (as GetBase read it), and prunes the entries up to prune (at most old.Entry: an instance
// whose view is older than the base being replaced must load a base anyway). The chunks are
// written first, one request each; the record, the prune and the floor go in one transaction
// that checks the base is still old, so two instances replacing it at once leave one. It reports
// whether b is the base. Chunks of bases before old are deleted; old's are kept, for an instance
// that has just read its record and is reading its chunks.
func (l *Log) ReplaceBase(ctx context.Context, old, b Base, chunks [][]byte, prune uint64) (bool, error) {
	if old.raw == "" {
		return false, errors.New("etcdlog: ReplaceBase needs the old base as GetBase read it")
	}
	if b.Entry < old.Entry || prune > old.Entry {
		return false, fmt.Errorf("etcdlog: base at entry %d cannot replace one at %d and prune to %d", b.Entry, old.Entry, prune)
	}
	b.History = old.HistoryID()
	rec, err := l.putChunks(ctx, &b, chunks)
	if err != nil {
		return false, err
	}
	then := []clientv3.Op{clientv3.OpPut(l.baseKey(), string(rec))}
	if prune > 0 {
		then = append(then,
			clientv3.OpDelete(l.logPrefix(), clientv3.WithRange(l.key(prune+1))),
			clientv3.OpPut(l.floorKey(), strconv.FormatUint(prune+1, 10)))
	}
	resp, err := l.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(l.baseKey()), "=", old.raw)).Then(then...).Commit()
	if err != nil {
		return false, err
	}
	if !resp.Succeeded {
		_, _ = l.cli.Delete(ctx, l.prefix+"base/"+b.ID+"/", clientv3.WithPrefix())
		return false, nil
	}
	// Older chunk sets: every base/<id>/ but old's and b's.
	keys, err := l.cli.Get(ctx, l.prefix+"base/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err == nil {
		gone := map[string]bool{}
		for _, kv := range keys.Kvs {
			id, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), l.prefix+"base/"), "/")
			if id != old.ID && id != b.ID && !gone[id] {
				gone[id] = true
				_, _ = l.cli.Delete(ctx, l.prefix+"base/"+id+"/", clientv3.WithPrefix())
			}
		}
	}
	return true, nil
}

// Floor returns the first entry still kept (1 when nothing was pruned).
func (l *Log) Floor(ctx context.Context) (uint64, error) {
	resp, err := l.cli.Get(ctx, l.floorKey())
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) == 0 {
		return 1, nil
	}
	return strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
}

// CreateBase makes the log's first base from chunks (each at most MaxBytes), if the log has
// neither a base nor entries yet; it reports whether it did. Chunks are written first, one
// request each, and the record last in a transaction that checks the log is still empty, so
// two instances starting at once agree on one base; the loser's chunks are deleted.
func (l *Log) CreateBase(ctx context.Context, b Base, chunks [][]byte) (bool, error) {
	b.Entry = 0
	rec, err := l.putChunks(ctx, &b, chunks)
	if err != nil {
		return false, err
	}
	resp, err := l.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(l.baseKey()), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(l.headKey()), "=", 0),
	).Then(clientv3.OpPut(l.baseKey(), string(rec))).Commit()
	if err != nil {
		return false, err
	}
	if !resp.Succeeded {
		_, _ = l.cli.Delete(ctx, l.prefix+"base/"+b.ID+"/", clientv3.WithPrefix())
		return false, nil
	}
	return true, nil
}

// putChunks writes chunks as b's, one request each, sets b's count and size, and returns b's
// record, to be put once the chunks are all there.
func (l *Log) putChunks(ctx context.Context, b *Base, chunks [][]byte) ([]byte, error) {
	b.Chunks, b.Bytes = len(chunks), 0
	for i, c := range chunks {
		if len(c) > l.maxBytes() {
			return nil, fmt.Errorf("%w: base chunk %d is %d bytes", ErrTooLarge, i, len(c))
		}
		if _, err := l.cli.Put(ctx, l.chunkKey(b.ID, i), string(c)); err != nil {
			return nil, err
		}
		b.Bytes += int64(len(c))
	}
	return json.Marshal(b)
}

// ReadBase returns the chunks of base b, in order.
func (l *Log) ReadBase(ctx context.Context, b Base) ([][]byte, error) {
	out := make([][]byte, 0, b.Chunks)
	for i := 0; i < b.Chunks; i++ {
		resp, err := l.cli.Get(ctx, l.chunkKey(b.ID, i))
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("etcdlog: base %s: chunk %d is missing", b.ID, i)
		}
		out = append(out, resp.Kvs[0].Value)
	}
	return out, nil
}
