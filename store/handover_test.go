package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func openHandover(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path, Options{PasswordParams: fastHash, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, sample("A", StagePreparing))
	return s, path
}

// progressEdit sets project A's progress; version is the version it expects A to be at.
func progressEdit(p int, version uint64) Edit {
	return Edit{Kind: ChangeUpdate, ProjectID: "A", IfMatch: version, By: "tester", Patch: &Patch{Progress: ptr(p)}}
}

// applyAsync starts an edit and returns where its outcome arrives.
func applyAsync(s *Store, e Edit) <-chan error {
	out := make(chan error, 1)
	go func() { _, err := s.Apply(e); out <- err }()
	return out
}

func noAnswerYet(t *testing.T, c <-chan error) {
	t.Helper()
	select {
	case err := <-c:
		t.Fatalf("an edit was answered while the file was released: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// While released, another process can open the file; the state in memory is still served;
// an edit waits, and goes through once the file is reacquired.
func TestReleaseThenReacquire(t *testing.T) {
	s, path := openHandover(t)
	defer s.Close()
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	other, err := Open(path, Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("another process could not open the released file: %v", err)
	}
	if other.Rev() != 1 {
		t.Fatalf("the file holds rev %d, want 1", other.Rev())
	}
	other.Close()

	if projects, sum, rev := s.Snapshot(); rev != 1 || sum.Rev != 1 || len(projects) != 1 {
		t.Fatalf("in-memory state not served while released: rev %d, %d projects", rev, len(projects))
	}
	if _, err := s.Changes(0, 10); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("reading the log of a released file: %v, want ErrUnavailable", err)
	}
	waiting := applyAsync(s, progressEdit(10, 1))
	noAnswerYet(t, waiting)

	if err := s.Reacquire(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err != nil {
		t.Fatalf("the waiting edit: %v", err)
	}
	if _, err := s.Apply(progressEdit(20, 2)); err != nil {
		t.Fatal(err)
	}
	if s.Rev() != 3 {
		t.Fatalf("rev %d after two edits, want 3", s.Rev())
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// Closing a released store (the new process took over) fails the waiting edits: they were
// never acknowledged and nothing of them is in the file.
func TestReleaseThenClose(t *testing.T) {
	s, path := openHandover(t)
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	waiting := applyAsync(s, progressEdit(10, 1))
	noAnswerYet(t, waiting)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a waiting edit after the hand-over: %v, want ErrUnavailable", err)
	}
	if _, err := s.Apply(progressEdit(11, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("an edit after Close: %v, want ErrClosed", err)
	}
	again, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Rev() != 1 {
		t.Fatalf("the file holds rev %d, want 1: a refused edit was written", again.Rev())
	}
}

// If another process wrote to the file meanwhile, this process's state is stale: Reacquire
// refuses and edits keep waiting for Close.
func TestReacquireRefusesAChangedFile(t *testing.T) {
	s, path := openHandover(t)
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	other, err := Open(path, Options{PasswordParams: fastHash, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Apply(progressEdit(50, 1)); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if err := s.Reacquire(); err == nil {
		t.Fatal("Reacquire accepted a file another process changed")
	}
	waiting := applyAsync(s, progressEdit(10, 1))
	noAnswerYet(t, waiting)
	s.Close()
	if err := <-waiting; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("waiting edit: %v", err)
	}
}
