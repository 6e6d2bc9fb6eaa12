package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migrations is the append-only list of schema steps. The schema version of a file is the
// number of steps applied to it; each step runs in its own transaction.
var migrations = []func(tx *bolt.Tx) error{
	// 1: the initial buckets and a random epoch.
	func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketProjects, bucketChanges, bucketProjectChanges,
			bucketUsers, bucketSessions, bucketTokens, bucketTokenHashes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyEpoch) == nil {
			if err := meta.Put(keyEpoch, []byte(newEpoch())); err != nil {
				return err
			}
		}
		return nil
	},
}

// SchemaVersion is the schema this binary writes.
var SchemaVersion = len(migrations)

func newEpoch() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func schemaOf(tx *bolt.Tx) int {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0
	}
	return int(btou(meta.Get(keySchema)))
}

// migrate brings the file to SchemaVersion, one transaction per step, and refuses a file
// written by a newer binary.
func migrate(db *bolt.DB) error {
	var have int
	if err := db.View(func(tx *bolt.Tx) error { have = schemaOf(tx); return nil }); err != nil {
		return err
	}
	if have > SchemaVersion {
		return fmt.Errorf("database schema %d is newer than this binary's %d: use a newer projectboard", have, SchemaVersion)
	}
	for v := have; v < SchemaVersion; v++ {
		err := db.Update(func(tx *bolt.Tx) error {
			if err := migrations[v](tx); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keySchema, u64(uint64(v+1)))
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	return nil
}
