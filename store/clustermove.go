package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"projectboard/store/etcdlog"
)

// ErrClusterInUse means the cluster already holds a board under the prefix.
var ErrClusterInUse = errors.New("the cluster already holds a board under this prefix")

// ToCluster makes the single-node database at path the board of the cluster l is on: its
// contents become the cluster's base, revisions and epoch included, so screens and tokens go
// on as they were. The file is only read (the server must be stopped); the cluster's prefix
// must hold no board yet. Instances then start on the cluster with views of their own.
func ToCluster(path string, l *etcdlog.Log, timeout time.Duration) (etcdlog.Base, error) {
	db, err := openFile(path, Options{LockTimeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		return etcdlog.Base{}, err
	}
	defer db.Close()
	var chunks [][]byte
	var meta baseMeta
	err = db.View(func(tx *bolt.Tx) error {
		if schemaOf(tx) != SchemaVersion {
			return fmt.Errorf("%s has schema %d, this binary moves %d: open it with `projectboard serve` once first", path, schemaOf(tx), SchemaVersion)
		}
		meta = baseMeta{Schema: SchemaVersion, Epoch: string(tx.Bucket(bucketMeta).Get(keyEpoch))}
		chunks, err = baseChunks(tx)
		return err
	})
	if err != nil {
		return etcdlog.Base{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := l.GetBase(ctx); err == nil {
		return etcdlog.Base{}, ErrClusterInUse
	} else if !errors.Is(err, etcdlog.ErrNoBase) {
		return etcdlog.Base{}, err
	}
	b := etcdlog.Base{ID: randomHex(8)}
	if b.Meta, err = encode(meta); err != nil {
		return etcdlog.Base{}, err
	}
	won, err := l.CreateBase(ctx, b, chunks)
	if err != nil {
		return etcdlog.Base{}, err
	}
	if !won {
		return etcdlog.Base{}, ErrClusterInUse
	}
	return l.GetBase(ctx)
}

// FromCluster writes the cluster's board into a new single-node database at path: the base
// and every entry after it, as an instance's view, then without its place in the cluster.
func FromCluster(path string, l *etcdlog.Log, timeout time.Duration) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: give a new file", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := l.GetBase(ctx); err != nil {
		return fmt.Errorf("the cluster: %w", err)
	}
	s, err := Open(path, Options{Log: l, EtcdTimeout: timeout})
	if err != nil {
		os.Remove(path)
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := openFile(path, Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if err := m.Delete(keyReplBase); err != nil {
			return err
		}
		return m.Delete(keyReplApplied)
	})
	return errors.Join(err, db.Close())
}
