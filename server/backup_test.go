package server

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"projectboard/store"
)

// TestHotBackupAndRestore takes a backup while editors keep committing, checks that it holds
// exactly the state of one revision, restores it, and checks that a screen resuming across
// the restore gets a fresh snapshot.
func TestHotBackupAndRestore(t *testing.T) {
	l := startLive(t)
	oldEpoch := l.st.Epoch()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			id := []string{"P1", "P2", "A1", "P1"}[w]
			for i := 0; !stop.Load() && i < 2000; i++ {
				p, _ := l.st.Project(id)
				_, _ = l.st.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: id, IfMatch: p.Version, By: "w",
					Patch: &store.Patch{Note: ptrTo(fmt.Sprintf("w%d-%d", w, i))}})
			}
		}(w)
	}
	req, _ := http.NewRequest("GET", "http://"+l.addr+"/api/admin/backup", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: l.f.cookies["admin"]})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	out, _ := os.Create(path)
	_, err = io.Copy(out, res.Body)
	out.Close()
	stop.Store(true)
	wg.Wait()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("backup: %d %v", res.StatusCode, err)
	}
	rev, n, _, err := store.Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rev) != res.Header.Get("X-Projectboard-Rev") || n != 3 {
		t.Fatalf("backup holds rev %d and %d projects; header says rev %s", rev, n, res.Header.Get("X-Projectboard-Rev"))
	}
	if rev >= l.st.Rev() {
		t.Logf("edits did not overlap the backup (backup rev %d, live %d)", rev, l.st.Rev())
	}
	// The backup's projects are exactly the live history's state at its revision.
	events, _ := l.st.Replay(0, int(rev))
	want := map[string]store.Project{}
	for _, e := range events {
		if e.Project != nil {
			want[e.Change.ProjectID] = *e.Project
		}
	}
	b, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := b.Projects()
	b.Close()
	for _, p := range got {
		if !reflect.DeepEqual(p, want[p.ID]) {
			t.Fatalf("backup's %s differs from the history at rev %d", p.ID, rev)
		}
	}

	// Restore while the server is stopped; a screen that resumes gets a snapshot.
	l.stop(t)
	l.st.Close()
	if _, err := store.Restore(path, l.f.path); err != nil {
		t.Fatal(err)
	}
	l.st = openStore(t, l.f.path)
	l.f.store = l.st
	l.listen(t, New(l.st, Config{Build: "test", Logger: l.f.srv.log}))
	if l.st.Epoch() == oldEpoch || l.st.Rev() != rev {
		t.Fatalf("after restore: epoch %s (old %s), rev %d (want %d)", l.st.Epoch(), oldEpoch, l.st.Rev(), rev)
	}
	c := l.mustDial(t, fmt.Sprintf("since=%d&epoch=%s", rev, oldEpoch))
	if m := c.next(); m.Type != "hello" || m.Epoch != l.st.Epoch() {
		t.Fatalf("got %+v", m)
	}
	if m := c.next(); m.Type != "snapshot" || m.Rev != rev || len(m.Projects) != 3 {
		t.Fatalf("after restore: got %s rev %d, want a snapshot at %d", m.Type, m.Rev, rev)
	}
}

func ptrTo[T any](v T) *T { return &v }
