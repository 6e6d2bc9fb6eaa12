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
	// 2: a project's history is a chain through the log instead of an index entry per change.
	// The index had one key per change sorted by project, so every commit wrote into as many of
	// its pages as the commit had projects, more of them as the history grew (with 64 editors
	// it cost a third of the commit rate). Now each change names the project's previous change
	// ("prev" in its log entry) and project_last holds each project's newest one: a commit
	// writes a few hot pages. Changes made before this step stay reachable through the old
	// index, which stops at index_until.
	func(tx *bolt.Tx) error {
		last, err := tx.CreateBucketIfNotExists(bucketProjectLast)
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketProjectChanges).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) < 9 || k[len(k)-9] != 0 {
				return fmt.Errorf("project_changes: malformed key %x", k)
			}
			// Keys are sorted by project, then revision: the last one of a project wins.
			if err := last.Put(k[:len(k)-9], k[len(k)-8:]); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		return meta.Put(keyIndexUntil, u64(btou(meta.Get(keyRev))))
	},
	// 3: the audit log, and api tokens that belong to an account. An api token made before
	// this step belongs to the account that created it; one whose creator is gone (or was a
	// token) is revoked, since nobody answers for it any more.
	func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketAudit); err != nil {
			return err
		}
		users := tx.Bucket(bucketUsers)
		var orphans []string
		updated := map[string]Token{}
		err := tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var t Token
			if err := decode(v, &t); err != nil {
				return err
			}
			if t.Kind != "api" || t.Owner != "" {
				return nil
			}
			if users.Get([]byte(t.CreatedBy)) == nil {
				orphans = append(orphans, t.ID)
				return nil
			}
			t.Owner = t.CreatedBy
			updated[t.ID] = t
			return nil
		})
		if err != nil {
			return err
		}
		for id, t := range updated {
			if err := putJSON(tx.Bucket(bucketTokens), id, t); err != nil {
				return err
			}
		}
		for _, id := range orphans {
			if err := deleteTokenTx(&wtx{Tx: tx}, id); err != nil {
				return err
			}
		}
		return nil
	},
	// 4: the monthly cycle: reports, problems, months and their frozen figures, settings (the
	// warning rules, which start at their defaults) and webhook deliveries. Projects get their
	// warnings from the first re-evaluation (the server runs one at start and then on its
	// clock), as changes by "system" like any other.
	func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketReports, bucketProblems, bucketMonths, bucketSnapshots,
			bucketSettings, bucketDeliveries} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		settings := tx.Bucket(bucketSettings)
		if settings.Get(keyWarningRules) == nil {
			r := DefaultWarningRules()
			r.Version = 1
			return putJSON(settings, string(keyWarningRules), r)
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
