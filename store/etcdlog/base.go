package etcdlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A base is the state the log starts from: the view an instance had when the cluster was
// made (a fresh database or one moved in by migrate), in chunks. An instance that has never
// followed this log — a new one, or one whose file belongs to another cluster — loads the
// base and then applies the entries after it.
//
//	base                  the Base record (JSON)
//	base/<id>/<6 digits>  its chunks, in order
type Base struct {
	ID     string `json:"id"`     // names this cluster's history: a file that followed another base must start over
	Entry  uint64 `json:"entry"`  // the last entry the base includes (0: none)
	Chunks int    `json:"chunks"` // how many chunks
	Bytes  int64  `json:"bytes"`
	// Meta is what the caller keeps beside (its schema, its epoch).
	Meta json.RawMessage `json:"meta,omitempty"`
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
	return b, nil
}

// CreateBase makes the log's first base from chunks (each at most MaxBytes), if the log has
// neither a base nor entries yet; it reports whether it did. Chunks are written first, one
// request each, and the record last in a transaction that checks the log is still empty, so
// two instances starting at once agree on one base; the loser's chunks are deleted.
func (l *Log) CreateBase(ctx context.Context, b Base, chunks [][]byte) (bool, error) {
	b.Chunks, b.Bytes, b.Entry = len(chunks), 0, 0
	for i, c := range chunks {
		if len(c) > l.maxBytes() {
			return false, fmt.Errorf("%w: base chunk %d is %d bytes", ErrTooLarge, i, len(c))
		}
		if _, err := l.cli.Put(ctx, l.chunkKey(b.ID, i), string(c)); err != nil {
			return false, err
		}
		b.Bytes += int64(len(c))
	}
	rec, err := json.Marshal(b)
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
