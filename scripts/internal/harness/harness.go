// Package harness holds the small pieces that the test tools under scripts/ (crashtest,
// soak, loadgen) share for running a real projectboard server: finding the repository and
// building the binary, choosing a port, the child's environment and process attributes,
// waiting for it to answer, and talking JSON to its API.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RepoRoot finds the projectboard module's directory from the working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module projectboard\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module projectboard found: run inside the projectboard repository or pass --bin")
		}
		dir = parent
	}
}

// BuildServer builds the projectboard binary from the module root (see RepoRoot) into
// dir/projectboard and returns its path. A failed build's output is in the error.
func BuildServer(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "projectboard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// FreePort asks the kernel for a free 127.0.0.1 TCP port. The port is free when FreePort
// returns; nothing holds it for the caller.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ChildEnv is this process's environment without its PROJECTBOARD_* settings, which would
// otherwise change the server under test, followed by extra ("KEY=value" each).
func ChildEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PROJECTBOARD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// ErrExited is WaitOK's answer when the process exited before the URL answered.
var ErrExited = errors.New("the process exited")

// ErrTimeout is WaitOK's answer when the URL did not answer 200 by the deadline.
var ErrTimeout = errors.New("no answer in time")

// WaitOK polls GET url every interval until it answers 200 OK and then returns nil. It
// returns ErrExited once exited is closed (a nil exited never is), ctx.Err() once ctx is
// done, and ErrTimeout after deadline.
func WaitOK(ctx context.Context, url string, exited <-chan struct{}, deadline time.Time, interval time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
	}
}
