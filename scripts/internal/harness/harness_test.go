package harness

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRepoRootFindsTheModule(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "module projectboard\n") {
		t.Fatalf("%s/go.mod is not module projectboard: %.40q", root, b)
	}
	wd, _ := os.Getwd()
	if rel, err := filepath.Rel(root, wd); err != nil || rel != filepath.Join("scripts", "internal", "harness") {
		t.Errorf("root %s is not two levels above the working directory %s", root, wd)
	}
}

func TestRepoRootOutsideTheModule(t *testing.T) {
	t.Chdir(t.TempDir())
	if root, err := RepoRoot(); err == nil {
		t.Fatalf("RepoRoot outside the repository = %s, want an error", root)
	}
}

func TestFreePortIsListenable(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d", port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	ln.Close()
}

func TestChildEnvDropsProjectboardVariables(t *testing.T) {
	t.Setenv("PROJECTBOARD_DB", "/somewhere/else.db")
	t.Setenv("PROJECTBOARD_ADMIN_PASSWORD", "caller's")
	t.Setenv("HARNESS_TEST_KEEP", "kept")
	env := ChildEnv("PROJECTBOARD_ADMIN_PASSWORD=child's")
	var pb []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "PROJECTBOARD_") {
			pb = append(pb, kv)
		}
	}
	if !slices.Equal(pb, []string{"PROJECTBOARD_ADMIN_PASSWORD=child's"}) {
		t.Errorf("PROJECTBOARD_ variables in the child's environment: %q, want only the extra one", pb)
	}
	if env[len(env)-1] != "PROJECTBOARD_ADMIN_PASSWORD=child's" {
		t.Errorf("the extra variable is not last: %q", env[len(env)-1])
	}
	if !slices.Contains(env, "HARNESS_TEST_KEEP=kept") {
		t.Error("ChildEnv dropped an unrelated variable")
	}
}

func TestWaitOK(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := WaitOK(ctx, srv.URL, nil, time.Now().Add(5*time.Second), time.Millisecond); err != nil {
		t.Fatalf("WaitOK on a server that comes up: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("WaitOK asked %d times, want 3", n)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	if err := WaitOK(ctx, down.URL, nil, time.Now().Add(50*time.Millisecond), time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("WaitOK past the deadline = %v, want ErrTimeout", err)
	}
	exited := make(chan struct{})
	close(exited)
	if err := WaitOK(ctx, down.URL, exited, time.Now().Add(5*time.Second), time.Millisecond); !errors.Is(err, ErrExited) {
		t.Errorf("WaitOK after the process exited = %v, want ErrExited", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := WaitOK(cancelled, down.URL, nil, time.Now().Add(5*time.Second), time.Millisecond); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitOK with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestAPILoginAndNewToken runs Login and NewToken against a stand-in for the server's
// session and token endpoints, which insist on the same Origin and the session cookie.
func TestAPILoginAndNewToken(t *testing.T) {
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/session", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if json.NewDecoder(r.Body).Decode(&in) != nil || in["username"] != "admin" || in["password"] != "pw" {
			http.Error(w, "bad login", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "pb_session", Value: "s1"})
	})
	mux.HandleFunc("POST /api/tokens", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != base || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "foreign origin", http.StatusForbidden)
			return
		}
		if c, err := r.Cookie("pb_session"); err != nil || c.Value != "s1" {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		_ = json.NewEncoder(w).Encode(map[string]string{"token": in["kind"] + "/" + in["name"] + "/" + in["role"]})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base = srv.URL
	ctx := context.Background()

	a := &API{Base: base, HTTP: srv.Client()}
	if _, err := a.NewToken(ctx, "display", "x", ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("NewToken before Login = %v, want a 401", err)
	}
	if err := a.Login(ctx, "wrong"); err == nil {
		t.Error("Login with a wrong password succeeded")
	}
	if err := a.Login(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	if a.Cookie != "pb_session=s1" {
		t.Errorf("Cookie after Login = %q", a.Cookie)
	}
	for _, c := range []struct{ kind, name, role, want string }{
		{"display", "screens", "", "display/screens/"},
		{"api", "editors", "editor", "api/editors/editor"},
	} {
		got, err := a.NewToken(ctx, c.kind, c.name, c.role)
		if err != nil || got != c.want {
			t.Errorf("NewToken(%s, %s, %s) = %q, %v; want %q", c.kind, c.name, c.role, got, err, c.want)
		}
	}
}
