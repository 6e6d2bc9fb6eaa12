//go:build unix

package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"projectboard/store"
)

// TestMain lets the test binary also act as a server process for tests that need one they
// can starve of disk or kill.
func TestMain(m *testing.M) {
	if os.Getenv("PB_TEST_CHILD_DB") != "" {
		childServe()
		return
	}
	os.Exit(m.Run())
}

// childServe serves PB_TEST_CHILD_DB on PB_TEST_CHILD_ADDR, with its file size limited to
// PB_TEST_CHILD_FSIZE bytes: writes past it fail as on a full disk (Go ignores SIGXFSZ, so
// the write returns EFBIG).
func childServe() {
	if n, err := strconv.ParseUint(os.Getenv("PB_TEST_CHILD_FSIZE"), 10, 64); err == nil {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			os.Exit(2)
		}
	}
	st, err := store.Open(os.Getenv("PB_TEST_CHILD_DB"), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	srv := New(st, Config{Build: "child", Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	ln, err := net.Listen("tcp", os.Getenv("PB_TEST_CHILD_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_ = srv.App().Listener(ln)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDiskFull fills the database's file up to a size limit while editors write: the server
// answers 503 with a clear error, keeps serving reads, and every acknowledged edit is in the
// file afterwards.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 16 MiB file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "full.db")
	st := openStore(t, path)
	ids := []string{"D0", "D1", "D2", "D3"}
	var seed []store.Project
	for _, id := range ids {
		seed = append(seed, store.Project{ID: id, Name: "项目" + id, Category: store.CategoryPlanned, Year: 2022,
			Sector: "数字经济", Department: "经济发展局", Stage: store.StageUnderConstruction})
	}
	if err := st.Seed(seed, "test", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddUser(store.User{Username: "filler", Role: store.RoleEditor}, "a long test password"); err != nil {
		t.Fatal(err)
	}
	_, token, _ := st.CreateToken(store.Token{Kind: "api", Name: "filler", Role: store.RoleEditor, Owner: "filler"})
	st.Close()
	fi, _ := os.Stat(path)

	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PB_TEST_CHILD_DB="+path, "PB_TEST_CHILD_ADDR="+addr,
		"PB_TEST_CHILD_FSIZE="+strconv.FormatInt(fi.Size()+(1<<20), 10))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://" + addr
	waitHealthy(t, base)

	type ack struct {
		version uint64
		note    string
	}
	acked := map[string]ack{}
	versions := map[string]uint64{"D0": 1, "D1": 1, "D2": 1, "D3": 1}
	var full *http.Response
	fullBody := ""
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; full == nil && time.Now().Before(deadline) && i < 20000; i++ {
		id := ids[i%len(ids)]
		note := fmt.Sprintf("%06d-%s", i, strings.Repeat("满", 600))
		res := patchRaw(t, base, token, id, versions[id], `{"note":"`+note+`"}`)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 200:
			versions[id]++
			acked[id] = ack{versions[id], note}
		case 503:
			full, fullBody = res, string(b)
		default:
			t.Fatalf("edit %d: %d %s", i, res.StatusCode, b)
		}
	}
	if full == nil {
		t.Fatal("the file never filled up")
	}
	var body errorBody
	_ = json.Unmarshal([]byte(fullBody), &body)
	if body.Error.Code != "unavailable" || strings.Contains(fullBody, "file") || strings.Contains(fullBody, "EFBIG") {
		t.Fatalf("503 body: %s", fullBody)
	}
	t.Logf("full after %d acknowledged edits: %s", versions["D0"]+versions["D1"]+versions["D2"]+versions["D3"]-4, body.Error.Message)
	// Reads go on, and show the last acknowledged state.
	for _, id := range ids {
		req, _ := http.NewRequest("GET", base+"/api/projects/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("read while full: %v %v", res, err)
		}
		var p store.Project
		_ = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if p.Version != versions[id] {
			t.Fatalf("%s: served version %d, acknowledged %d", id, p.Version, versions[id])
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	// Offline, without the limit: everything acknowledged is there, and the file is sound.
	st = openStore(t, path)
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	for id, a := range acked {
		p, err := st.Project(id)
		if err != nil || p.Version != a.version || p.Note != a.note {
			t.Fatalf("%s: got version %d, want acknowledged %d (%v)", id, p.Version, a.version, err)
		}
	}
	changes, _ := st.Changes(0, 1<<20)
	for i, c := range changes {
		if c.Rev != uint64(i+1) {
			t.Fatalf("revision %d at position %d", c.Rev, i)
		}
	}
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("server did not start")
}

func patchRaw(t *testing.T, base, token, id string, version uint64, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("PATCH", base+"/api/projects/"+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", etag(version))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
