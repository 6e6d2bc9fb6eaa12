package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// What callers queued before Close is committed before the file closes, and in groups: at
// shutdown as at any other time, a transaction takes up to MaxBatch queued requests.
func TestCloseCommitsQueuedEditsInGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	s, err := Open(path, Options{PasswordParams: fastHash, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sizes []int
	s.SetCommitObserver(func(c CommitStats) {
		mu.Lock()
		sizes = append(sizes, c.Edits)
		mu.Unlock()
	})
	const n = 20
	s.commitMu.Lock() // someone is committing: every edit below queues
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			_, err := s.Apply(Edit{Kind: ChangeCreate, New: sample(fmt.Sprintf("Q%d", i), StagePreparing), By: "tester"})
			errs <- err
		}(i)
	}
	// The writer goroutine takes one request and waits for commitMu; the rest stay queued.
	for deadline := time.Now().Add(10 * time.Second); len(s.reqs) < n-1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(s.reqs), n-1)
		}
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		select {
		case <-s.stop:
		default:
			if time.Now().After(deadline) {
				t.Fatal("Close did not begin")
			}
			continue
		}
		break
	}
	s.commitMu.Unlock()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("a queued edit: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != n/4 {
		t.Errorf("%d transactions of %v edits, want %d of 4", len(sizes), sizes, n/4)
	}
	again, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.Rev() != n || again.Len() != n {
		t.Errorf("the file holds rev %d and %d projects, want %d of each", again.Rev(), again.Len(), n)
	}
}
