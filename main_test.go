package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"projectboard/store"
)

// TestOfflineCommandsFailFastOnALockedFile: while a server holds the database, the user,
// compact and restore commands fail within seconds with a clear message.
func TestOfflineCommandsFailFastOnALockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, args := range [][]string{{"serve", "--db", path, "--addr", "127.0.0.1:0"}, {"user", "list", "--db", path}, {"compact", "--db", path}, {"restore", "--db", path, path}} {
		start := time.Now()
		err := run(args, log)
		if err == nil || !strings.Contains(err.Error(), "in use by another process") {
			t.Errorf("%v: got %v, want the in-use message", args, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %v", args, d)
		}
	}
}

func TestFlagsFallBackToEnvironment(t *testing.T) {
	t.Setenv("PROJECTBOARD_DB", "/x/y.db")
	f := newFlagSet("t")
	db := dbFlag(f)
	if err := f.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if *db != "/x/y.db" {
		t.Fatalf("got %q, want /x/y.db", *db)
	}
}
