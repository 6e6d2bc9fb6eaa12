package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestCompactShrinksAndKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, sample("A", StagePreparing))
	for i := 0; i < 300; i++ {
		note := fmt.Sprintf("%d %0500d", i, i)
		if _, err := s.Apply(Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: uint64(i + 1), Patch: &Patch{Note: &note}}); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := s.Projects()
	s.Close()
	if _, _, err := Compact(path); err != nil {
		t.Fatal(err)
	}
	rev, n, _, err := Verify(path)
	if err != nil || rev != 301 || n != 1 {
		t.Fatalf("after compact: rev %d, %d projects, %v", rev, n, err)
	}
	s = openTest(t, path)
	got, _ := s.Projects()
	if got[0].Note != want[0].Note {
		t.Fatal("project changed by compaction")
	}
	if _, _, err := Compact(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("compact of an open file: got %v, want ErrLocked", err)
	}
	if _, err := Restore(path, path); !errors.Is(err, ErrLocked) {
		t.Fatalf("restore onto an open file: got %v, want ErrLocked", err)
	}
}

func TestRestoreRefusesDamagedFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.db")
	_ = os.WriteFile(bad, []byte("not a database"), 0o600)
	if _, err := Restore(bad, filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Fatal("restored a file that is not a database")
	}
}
