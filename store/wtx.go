package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"
)

// wtx is a write transaction. Every write of the store goes through its put, del and
// nextSequence, never through a bucket's own Put or Delete: on a single node they write to
// bbolt and nothing else; on a cluster (replica.go) they also record each write as an op, and
// the ops, not the transaction, become the entry of the log that every instance applies.
// Reads go to the bbolt transaction, which holds the writes made so far.
type wtx struct {
	*bolt.Tx
	ops *[]op // nil on a single node
}

// op is one recorded write: a put (value set), a delete, or a bucket's sequence.
type op struct {
	kind   opKind
	bucket []byte
	key    []byte
	value  []byte
	seq    uint64
}

type opKind byte

const (
	opPut opKind = 1
	opDel opKind = 2
	opSeq opKind = 3
)

func (w *wtx) record(o op) {
	if w.ops != nil {
		*w.ops = append(*w.ops, o)
	}
}

// put stores value under key in bucket. The slices must not change afterwards.
func (w *wtx) put(bucket, key, value []byte) error {
	w.record(op{kind: opPut, bucket: bucket, key: key, value: value})
	if w.Tx == nil {
		return nil // recording only (replica.go)
	}
	return w.Bucket(bucket).Put(key, value)
}

// del deletes key from bucket.
func (w *wtx) del(bucket, key []byte) error {
	w.record(op{kind: opDel, bucket: bucket, key: key})
	if w.Tx == nil {
		return nil
	}
	return w.Bucket(bucket).Delete(key)
}

// putJSON stores v, encoded, under key.
func (w *wtx) putJSON(bucket []byte, key string, v any) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	return w.put(bucket, []byte(key), data)
}

// nextSequence is the bucket's NextSequence, recorded as the sequence it leaves.
func (w *wtx) nextSequence(bucket []byte) (uint64, error) {
	seq, err := w.Bucket(bucket).NextSequence()
	if err == nil {
		w.record(op{kind: opSeq, bucket: bucket, seq: seq})
	}
	return seq, err
}

// Entry encoding: a version byte and its writer's id (16 bytes, so that a writer that lost its
// answer can recognise its own entry when it reads the log: replica.go), then the ops, each as
// its kind byte and uvarint-prefixed bucket, key and value (a delete has no value; a sequence
// has its number as a uvarint instead of the key and value). Version 1 has the ops as they are;
// version 2, written since, has them compressed as one S2 block (github.com/klauspost/compress,
// Snappy's faster successor): the values are JSON and compress 3–5 ×, and etcd's commit time
// grows with the bytes it writes to its log on every member (a group commit of 30 edits is
// 70 KB raw). Both are read.
const (
	entryPlain      = 1
	entryCompressed = 2
	entryVersion    = entryCompressed // what encodeEntry writes
	// maxEntryDecoded bounds what a compressed entry may claim to hold once decoded.
	maxEntryDecoded = 64 << 20
)

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// encodeEntry encodes id and ops as one entry of the log.
func encodeEntry(id [16]byte, ops []op) []byte {
	b := appendOps(nil, ops)
	out := make([]byte, 17, 17+s2.MaxEncodedLen(len(b)))
	out[0] = entryVersion
	copy(out[1:17], id[:])
	return append(out, s2.Encode(out[17:cap(out)], b)...)
}

// appendOps appends ops, uncompressed, to b.
func appendOps(b []byte, ops []op) []byte {
	size := len(b)
	for _, o := range ops {
		size += 1 + 3*binary.MaxVarintLen32 + len(o.bucket) + len(o.key) + len(o.value)
	}
	b = slices.Grow(b, size-len(b))
	for _, o := range ops {
		b = append(b, byte(o.kind))
		b = appendBytes(b, o.bucket)
		switch o.kind {
		case opPut:
			b = appendBytes(b, o.key)
			b = appendBytes(b, o.value)
		case opDel:
			b = appendBytes(b, o.key)
		case opSeq:
			b = binary.AppendUvarint(b, o.seq)
		}
	}
	return b
}

var errBadEntry = errors.New("malformed log entry")

// decodeEntry is encodeEntry's inverse. The ops' slices point into b.
func decodeEntry(b []byte) (id [16]byte, ops []op, err error) {
	if len(b) < 17 || (b[0] != entryPlain && b[0] != entryCompressed) {
		return id, nil, fmt.Errorf("%w: version or length", errBadEntry)
	}
	copy(id[:], b[1:17])
	version := b[0]
	b = b[17:]
	if version == entryCompressed {
		n, err := s2.DecodedLen(b)
		if err != nil || n > maxEntryDecoded {
			return id, nil, fmt.Errorf("%w: compressed ops (%d bytes claimed): %v", errBadEntry, n, err)
		}
		if b, err = s2.Decode(nil, b); err != nil {
			return id, nil, fmt.Errorf("%w: compressed ops: %v", errBadEntry, err)
		}
	}
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, false
		}
		v := b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	for len(b) > 0 {
		o := op{kind: opKind(b[0])}
		b = b[1:]
		var ok bool
		if o.bucket, ok = next(); !ok {
			return id, nil, fmt.Errorf("%w: bucket of op %d", errBadEntry, len(ops))
		}
		switch o.kind {
		case opPut:
			o.key, ok = next()
			if ok {
				o.value, ok = next()
			}
		case opDel:
			o.key, ok = next()
		case opSeq:
			n, k := binary.Uvarint(b)
			o.seq, ok, b = n, k > 0, b[max(k, 0):]
		}
		if !ok {
			return id, nil, fmt.Errorf("%w: op %d (kind %d)", errBadEntry, len(ops), o.kind)
		}
		ops = append(ops, o)
	}
	return id, ops, nil
}

// applyOps writes ops into tx, creating buckets that are missing.
func applyOps(tx *bolt.Tx, ops []op) error {
	for _, o := range ops {
		b, err := tx.CreateBucketIfNotExists(o.bucket)
		if err != nil {
			return err
		}
		switch o.kind {
		case opPut:
			err = b.Put(o.key, o.value)
		case opDel:
			err = b.Delete(o.key)
		case opSeq:
			err = b.SetSequence(o.seq)
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", o.bucket, err)
		}
	}
	return nil
}
