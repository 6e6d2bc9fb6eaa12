package store

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A file of schema 1 kept each project's history in an index with one key per change; from
// schema 2 a change names the project's previous one. Histories that span the step read the
// same as before, newest first, across it; the file stays consistent.
func TestMigrationToChainedHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	writeSchema1File(t, path)
	checkHistoriesAcrossTheStep(t, path)
}

// A backup made by the binary before schema 2 restores: the copy is migrated.
func TestRestoreOfAnOlderBackup(t *testing.T) {
	dir := t.TempDir()
	backup, dst := filepath.Join(dir, "v1-backup.db"), filepath.Join(dir, "live.db")
	writeSchema1File(t, backup)
	if _, err := Restore(backup, dst); err != nil {
		t.Fatalf("restore of a schema-1 backup: %v", err)
	}
	checkHistoriesAcrossTheStep(t, dst)
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(empty, filepath.Join(dir, "other.db")); err == nil {
		t.Fatal("restored an empty file")
	}
}

// writeSchema1File writes a file as the binary before schema 2 did: projects A and B with
// changes 1–5 (B deleted at 5), each listed in the per-project index.
func writeSchema1File(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := sample("A", StageUnderConstruction)
	a.Version = 3
	history := []struct {
		rev  uint64
		id   string
		kind ChangeKind
	}{{1, "A", ChangeCreate}, {2, "B", ChangeCreate}, {3, "A", ChangeUpdate}, {4, "A", ChangeUpdate}, {5, "B", ChangeDelete}}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := migrations[0](tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keySchema, u64(1)); err != nil {
			return err
		}
		for _, h := range history {
			v, err := encode(logEntry{Change: Change{Rev: h.rev, ProjectID: h.id, Kind: h.kind, By: "old",
				At: time.Date(2022, 1, int(h.rev), 0, 0, 0, 0, time.UTC)}, After: a})
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketChanges).Put(u64(h.rev), v); err != nil {
				return err
			}
			if err := tx.Bucket(bucketProjectChanges).Put(projectChangeKey(h.id, h.rev), []byte{}); err != nil {
				return err
			}
		}
		pj, err := encode(a)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketProjects).Put([]byte("A"), pj); err != nil {
			return err
		}
		return meta.Put(keyRev, u64(5))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// checkHistoriesAcrossTheStep opens the schema-1 file of writeSchema1File, edits on and
// checks that every history reads newest first across the step.
func checkHistoriesAcrossTheStep(t *testing.T, path string) {
	t.Helper()
	revs := func(s *Store, id string, limit int) []uint64 {
		t.Helper()
		hist, err := s.ProjectChanges(id, limit)
		if err != nil {
			t.Fatalf("ProjectChanges(%s, %d): %v", id, limit, err)
		}
		out := []uint64{}
		for _, c := range hist {
			out = append(out, c.Rev)
		}
		return out
	}
	expect := func(s *Store, id string, limit int, want ...uint64) {
		t.Helper()
		if got := revs(s, id, limit); !reflect.DeepEqual(got, append([]uint64{}, want...)) {
			t.Errorf("history of %s (limit %d) = %v, want %v", id, limit, got, want)
		}
	}

	s, err := Open(path, Options{PasswordParams: fastHash})
	if err != nil {
		t.Fatal(err)
	}
	expect(s, "A", 10, 4, 3, 1)
	expect(s, "B", 10, 5, 2)
	expect(s, "C", 10)
	for i, p := range []int{10, 20} {
		if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: uint64(3 + i), By: "new",
			Patch: &Patch{Progress: ptr(p)}}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, sample("C", StagePreparing))
	expect(s, "A", 10, 7, 6, 4, 3, 1)
	expect(s, "A", 3, 7, 6, 4)
	expect(s, "A", 2, 7, 6)
	expect(s, "B", 10, 5, 2)
	expect(s, "C", 10, 8)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{PasswordParams: fastHash})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expect(s, "A", 10, 7, 6, 4, 3, 1)
	// Both changes of one batch chain in order.
	if _, err := s.ApplyAtomic([]Edit{
		{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 5, By: "new", Patch: &Patch{Progress: ptr(30)}},
		{Kind: ChangeUpdate, ProjectID: "A", IfMatch: 6, By: "new", Patch: &Patch{Progress: ptr(40)}},
	}); err != nil {
		t.Fatal(err)
	}
	expect(s, "A", 10, 10, 9, 7, 6, 4, 3, 1)
}
