package store

import (
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// Every bucket name, in one place.
var (
	bucketMeta           = []byte("meta")            // schema, epoch, rev
	bucketProjects       = []byte("projects")        // project id → Project
	bucketChanges        = []byte("changes")         // rev (8 bytes BE) → logEntry
	bucketProjectChanges = []byte("project_changes") // project id, 0x00, rev → nothing (changes up to meta index_until)
	bucketProjectLast    = []byte("project_last")    // project id → rev of its last change (8 bytes BE)
	bucketUsers          = []byte("users")           // username → userRecord
	bucketSessions       = []byte("sessions")        // sha256(session id) → Session
	bucketTokens         = []byte("tokens")          // token id → tokenRecord
	bucketTokenHashes    = []byte("token_hashes")    // sha256(token) → token id
	bucketAudit          = []byte("audit")           // seq (8 bytes BE) → AuditEvent, append-only
	bucketReports        = []byte("reports")         // project id, 0x00, "YYYY-MM" → Report
	bucketProblems       = []byte("problems")        // problem id → Problem
	bucketMonths         = []byte("months")          // "YYYY-MM" → MonthState
	bucketSnapshots      = []byte("snapshots")       // "YYYY-MM", 0x00, snapshot (8 bytes BE) → MonthView, immutable
	bucketSettings       = []byte("settings")        // name → settings document ("warnings", "webhooks")
	bucketDeliveries     = []byte("deliveries")      // seq (8 bytes BE) → webhook Delivery
)

var (
	keySchema = []byte("schema")
	keyEpoch  = []byte("epoch")
	keyRev    = []byte("rev")
	// keyIndexUntil is the last revision whose change is in project_changes; each later change
	// names the project's change before it in its "prev" (schema 2).
	keyIndexUntil = []byte("index_until")
)

// reportKey is a report's key: its project, a zero byte, its month.
func reportKey(projectID string, m Month) []byte {
	return append(append([]byte(projectID), 0), m...)
}

// snapshotKey is a month's n-th frozen figures.
func snapshotKey(m Month, n int) []byte {
	return append(append([]byte(m), 0), u64(uint64(n))...)
}

var (
	keyWarningRules = []byte("warnings")
	keyWebhooks     = []byte("webhooks")
)

// u64 encodes n as 8 big-endian bytes, so keys sort by number.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func btou(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// projectChangeKey is the index key of a project's change: id, a zero byte, then the rev.
func projectChangeKey(id string, rev uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return append(k, u64(rev)...)
}

// encode and decode are the one codec for stored values. json.Unmarshal copies what it
// keeps, so a decoded value never points into bbolt's memory map.
func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decode(b []byte, v any) error { return json.Unmarshal(b, v) }

// putJSON stores v, encoded, under key.
func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}
