package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/server/feedwire"
	"projectboard/store/etcdlog"
	"projectboard/store/etcdlog/etcdtest"
)

// TestUpgradeInPlace: SIGHUP starts the binary anew on the same socket and database while an
// editor keeps editing and a screen is connected. No request is refused by the socket, the
// screen is told 1001 and resumes from its revision on the new process without a snapshot,
// every acknowledged edit is in the new process's history, and the old process exits.
func TestUpgradeInPlace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_ = upgradeInPlace(t)
}

// TestUpgradeInPlaceOnACluster is the same on an instance of a 3-member etcd cluster: the old
// process resigns the writer's role and hands its view over; the new one joins the log from
// the view's position.
func TestUpgradeInPlaceOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	c := etcdtest.New(t, etcdtest.Options{})
	acked := upgradeInPlace(t, "--etcd-endpoints", strings.Join(c.Endpoints(), ","), "--etcd-prefix", "/upgrade/")
	// The edits went through the cluster's log, not only into the view.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	head, err := etcdlog.New(c.Client(t), "/upgrade/").Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head < uint64(acked) {
		t.Errorf("the cluster's log ends at entry %d, below the %d edits acknowledged", head, acked)
	}
}

var built struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinary builds the binary once for the tests of this run.
func buildBinary(t *testing.T) string {
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pb-upgrade-"); built.err != nil {
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(built.dir, "projectboard"), ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		built.out, built.err = build.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, "projectboard")
}

// upgradeInPlace runs the test against `serve` with serveArgs and returns how many edits were
// acknowledged.
func upgradeInPlace(t *testing.T, serveArgs ...string) int {
	dir := t.TempDir()
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pidFile := filepath.Join(dir, "pb.pid")
	logPath := filepath.Join(dir, "pb.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--db", filepath.Join(dir, "pb.db"), "--pid-file", pidFile}, serveArgs...)...)
	cmd.Env = append(os.Environ(), "PROJECTBOARD_ADMIN_PASSWORD=upgrade-test-pass")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	oldExit := make(chan error, 1)
	go func() { oldExit <- cmd.Wait() }()
	newPID := 0
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if newPID != 0 {
			_ = syscall.Kill(newPID, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	base := "http://" + addr
	waitHealthy(t, base)

	jar, _ := cookiejar.New(nil)
	// A new connection per request: the test is that none is refused across the upgrade.
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	call := func(method, path, ifMatch string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", base)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.Bytes()
	}
	if code, body := call("POST", "/api/session", "", map[string]string{"username": "admin", "password": "upgrade-test-pass"}); code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var list struct {
		Projects []struct {
			ID      string `json:"id"`
			Version uint64 `json:"version"`
		} `json:"projects"`
	}
	code, body := call("GET", "/api/projects", "", nil)
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Projects) == 0 {
		t.Fatalf("projects: %d %.200s", code, body)
	}
	id, version := list.Projects[0].ID, list.Projects[0].Version

	// The screen.
	u, _ := url.Parse(base)
	hdr := http.Header{"Origin": {base}}
	for _, c := range jar.Cookies(u) {
		hdr.Add("Cookie", c.Name+"="+c.Value)
	}
	wsURL := "ws://" + addr + "/ws"
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
	if err != nil {
		t.Fatal(err)
	}
	var hello feedwire.Message
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello: %v %+v", err, hello)
	}
	var first feedwire.Message
	if err := ws.ReadJSON(&first); err != nil || first.Type != "snapshot" {
		t.Fatalf("want a snapshot first: %v %+v", err, first)
	}
	// The screen keeps the last revision it saw until the server closes it.
	lastRev := hello.Rev
	closeCode := make(chan int, 1)
	go func() {
		for {
			var m feedwire.Message
			if err := ws.ReadJSON(&m); err != nil {
				code := -1
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				closeCode <- code
				return
			}
			if m.Type == feedwire.TypeChange {
				lastRev = m.Rev
			}
		}
	}()

	// The editor: sequential edits with If-Match, each acknowledged one remembered.
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	acked := map[int]bool{}
	refused := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for progress := 1; ctx.Err() == nil && progress <= 100; progress++ {
			code, body := call("PATCH", "/api/projects/"+id, strconv.Quote(strconv.FormatUint(version, 10)), map[string]int{"progress": progress})
			mu.Lock()
			switch code {
			case 200:
				acked[progress] = true
				version++
			case 503:
				refused++ // the hand-over window: never acknowledged, retried as a new edit
			default:
				mu.Unlock()
				t.Errorf("PATCH during the upgrade: %d %s", code, body)
				return
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(100 * time.Millisecond)

	oldPID := cmd.Process.Pid
	if err := syscall.Kill(oldPID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for newPID == 0 || newPID == oldPID {
		if time.Now().After(deadline) {
			t.Fatal("no new process wrote its PID within 30 s of SIGHUP")
		}
		b, _ := os.ReadFile(pidFile)
		newPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case code := <-closeCode:
		if code != websocket.CloseGoingAway {
			t.Fatalf("the screen was closed with %d, want 1001", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the screen was not closed after the upgrade")
	}
	select {
	case err := <-oldExit:
		if err != nil {
			t.Fatalf("the old process: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the old process did not exit after handing over")
	}
	time.Sleep(100 * time.Millisecond) // a few edits against the new process
	stop()
	wg.Wait()

	// The screen resumes from its revision on the new process: no snapshot.
	ws2, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s?since=%d&epoch=%s", wsURL, lastRev, hello.Epoch), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	var hello2 feedwire.Message
	if err := ws2.ReadJSON(&hello2); err != nil || hello2.Epoch != hello.Epoch {
		t.Fatalf("hello after the upgrade: %v %+v (epoch was %s)", err, hello2, hello.Epoch)
	}
	for rev := lastRev; rev < hello2.Rev; {
		var m feedwire.Message
		if err := ws2.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.Type != "change" || m.Rev != rev+1 {
			t.Fatalf("resume after rev %d: got %s rev %d, want change rev %d", rev, m.Type, m.Rev, rev+1)
		}
		rev = m.Rev
	}

	// Every acknowledged edit is in the new process's history.
	code, body = call("GET", "/api/projects/"+id+"/changes?limit=1000", "", nil)
	var hist struct {
		Changes []struct {
			Fields map[string]struct{ To any } `json:"fields"`
		} `json:"changes"`
	}
	if code != 200 || json.Unmarshal(body, &hist) != nil {
		t.Fatalf("history: %d %.200s", code, body)
	}
	seen := map[int]bool{}
	for _, c := range hist.Changes {
		if f, ok := c.Fields["progress"]; ok {
			if v, ok := f.To.(float64); ok {
				seen[int(v)] = true
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for p := range acked {
		if !seen[p] {
			t.Errorf("acknowledged edit progress=%d is not in the history after the upgrade", p)
		}
	}
	if len(acked) < 10 {
		t.Errorf("only %d edits were acknowledged around the upgrade", len(acked))
	}
	t.Logf("upgrade: %d edits acknowledged, %d refused with 503 during the hand-over; screen resumed at rev %d → %d",
		len(acked), refused, lastRev, hello2.Rev)
	_ = syscall.Kill(newPID, syscall.SIGTERM)
	return len(acked)
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server not healthy within 30 s")
}
