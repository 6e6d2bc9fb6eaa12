// Command cluster runs Projectboard as a cluster on this machine, to watch it fail over:
// three etcd members and three projectboard instances, each a process of its own, behind a
// round-robin proxy (scripts/internal/rrproxy) on one address. Kill any instance with
// kill -9 and the pages and wall screens open through the proxy carry on: requests go to the
// other instances, and a screen whose connection died reconnects, through the proxy, to one
// of them.
//
//	make cluster      # builds the UI, bin/projectboard, bin/etcdmember and bin/cluster first
//	go run ./scripts/cluster [--port 8080] [--dir DIR] [--bin bin/projectboard] [--etcdmember PATH]
//
// Without --bin it builds projectboard from the module root into DIR (with the UI only if
// assets/dist holds a built one); without --etcdmember it builds scripts/etcdmember there.
// It starts the members on free 127.0.0.1 ports and waits for a leader, starts instance 1
// (PROJECTBOARD_ADMIN_PASSWORD unset, so it loads the bundled data and logs a new admin
// password and wall link), waits for its /healthz, starts instances 2 and 3, and then serves
// the proxy on 127.0.0.1:--port. It prints the proxy's URL, the admin login, the wall link
// through the proxy, and every process's PID, address and log file (all logs are in DIR, a
// new temporary directory unless --dir names one; DIR is kept).
//
// A child that dies is reported on standard error, and the demo runs on. Ctrl-C or SIGTERM
// stops the proxy, then the instances, then the members (SIGTERM, then SIGKILL after 15 s),
// and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"projectboard/scripts/internal/harness"
	"projectboard/scripts/internal/rrproxy"
)

const (
	members   = 3
	instances = 3
)

// config is the command line.
type config struct {
	dir        string
	port       int
	bin        string
	etcdmember string
}

func main() {
	var cfg config
	f := flag.NewFlagSet("cluster", flag.ContinueOnError)
	f.StringVar(&cfg.dir, "dir", "", "directory for the data and logs of every process, empty or new (default: a new temporary directory)")
	f.IntVar(&cfg.port, "port", 8080, "the proxy's port on 127.0.0.1 (0: any free port)")
	f.StringVar(&cfg.bin, "bin", "", "the projectboard binary (make build makes bin/projectboard; default: build one into --dir, with the UI only if it was built)")
	f.StringVar(&cfg.etcdmember, "etcdmember", "", "the etcdmember binary (default: build scripts/etcdmember into --dir)")
	if err := f.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if f.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cluster: unexpected arguments %q\n", f.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, stop, cfg); err != nil {
		if ctx.Err() != nil {
			fmt.Println("interrupted while starting; what had started is stopped")
			return
		}
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// demo is the processes a run started.
type demo struct {
	members   []*proc
	instances []*proc
	stopping  atomic.Bool
}

func run(ctx context.Context, restoreSignals func(), cfg config) error {
	// The proxy's port is taken first, so that a port in use fails before anything starts.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("the proxy's port: %w (choose another with --port)", err)
	}
	defer ln.Close()
	dir, err := makeDir(cfg.dir)
	if err != nil {
		return err
	}
	proxyURL := "http://" + ln.Addr().String()
	fmt.Println("data and logs:", dir)
	memberBin, serverBin, err := binaries(ctx, cfg, dir)
	if err != nil {
		return err
	}

	d := &demo{}
	defer d.stop()
	first, err := d.start(ctx, dir, memberBin, serverBin)
	if err != nil {
		return err
	}

	var backends []string
	for _, p := range d.instances {
		backends = append(backends, p.url)
	}
	proxy, err := rrproxy.New(backends, rrproxy.Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go proxy.Run(pctx)
	// No write timeout: a websocket through the proxy lasts as long as the screen.
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)

	d.print(os.Stdout, proxyURL, first, dir)
	<-ctx.Done()
	// From here a second Ctrl-C kills the demo at once (and on Linux its children with it).
	restoreSignals()
	fmt.Println("\nstopping: the proxy, then the instances, then the etcd members (Ctrl-C again kills at once)")
	d.stopping.Store(true)
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx) // websockets through it end as their instances stop
	cancel()               // no more health checks: the instances going down is no news
	d.stop()
	fmt.Println("stopped; the data and logs stay in", dir)
	return nil
}

// makeDir returns the directory for the run: a new temporary one, or dir if it is empty or
// new. An earlier run's directory is refused: its members would look for peers on that run's
// ports.
func makeDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "projectboard-cluster-")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) > 0 {
		return "", fmt.Errorf("--dir %s is not empty (an earlier run?): name an empty or new directory, or leave --dir out", dir)
	}
	return filepath.Abs(dir)
}

// binaries returns the etcdmember and projectboard binaries, building those not given.
func binaries(ctx context.Context, cfg config, dir string) (member, server string, err error) {
	member, server = cfg.etcdmember, cfg.bin
	if member == "" {
		root, err := harness.RepoRoot()
		if err != nil {
			return "", "", err
		}
		fmt.Println("building scripts/etcdmember")
		member = filepath.Join(dir, "etcdmember")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", member, "./scripts/etcdmember")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build etcdmember: %v\n%s", err, out)
		}
	}
	if server == "" {
		root, err := harness.RepoRoot()
		if err != nil {
			return "", "", err
		}
		if _, err := os.Stat(filepath.Join(root, "assets", "dist", "index.html")); err != nil {
			fmt.Fprintln(os.Stderr, "note: the UI is not built (no assets/dist/index.html), so the instances serve the API only; make cluster builds it first")
		}
		fmt.Println("building projectboard")
		if server, err = harness.BuildServer(ctx, dir); err != nil {
			return "", "", err
		}
	}
	for _, b := range []struct {
		path       *string
		flag, make string
	}{{&server, "--bin", "make build"}, {&member, "--etcdmember", "go build -o bin/etcdmember ./scripts/etcdmember"}} {
		if *b.path, err = filepath.Abs(*b.path); err != nil {
			return "", "", err
		}
		if _, err := os.Stat(*b.path); err != nil {
			return "", "", fmt.Errorf("%s: %w (%s builds it; or leave the flag out to have one built)", b.flag, err, b.make)
		}
	}
	return member, server, nil
}

// start starts the members and waits for a leader, then instance 1 — which, first on the
// empty cluster, loads the bundled data and creates the admin account — and then the other
// instances. It returns what instance 1 logged about the first login.
func (d *demo) start(ctx context.Context, dir, memberBin, serverBin string) (firstLogin, error) {
	var peers, peerURLs, endpoints []string
	for i := range members {
		clientPort, err := harness.FreePort()
		if err != nil {
			return firstLogin{}, err
		}
		peerPort, err := harness.FreePort()
		if err != nil {
			return firstLogin{}, err
		}
		name := fmt.Sprintf("m%d", i)
		p := &proc{
			name: "etcd " + name,
			url:  fmt.Sprintf("http://127.0.0.1:%d", clientPort),
			log:  filepath.Join(dir, name+".log"),
			ifDies: "The other two keep the cluster going. With two of three gone, edits are refused (503, after 5 s) " +
				"until one is back, while pages and screens still show the data.",
		}
		p.health = p.url + "/health" // 200 once the member knows a leader
		d.members = append(d.members, p)
		peerURLs = append(peerURLs, fmt.Sprintf("http://127.0.0.1:%d", peerPort))
		peers = append(peers, name+"="+peerURLs[i])
		endpoints = append(endpoints, p.url)
	}
	fmt.Printf("starting %d etcd members\n", members)
	for i, p := range d.members {
		name := fmt.Sprintf("m%d", i)
		err := d.launch(p, []string{memberBin, "--name", name, "--data-dir", filepath.Join(dir, name),
			"--client-url", p.url, "--peer-url", peerURLs[i], "--initial-cluster", strings.Join(peers, ","),
			"--initial-cluster-state", "new"}, os.Environ())
		if err != nil {
			return firstLogin{}, err
		}
	}
	// The members of a new cluster wait for each other: all start, then all are waited for.
	if err := readyAll(ctx, d.members, time.Minute); err != nil {
		return firstLogin{}, err
	}

	for i := range instances {
		port, err := harness.FreePort()
		if err != nil {
			return firstLogin{}, err
		}
		name := fmt.Sprintf("instance%d", i+1)
		p := &proc{
			name:   fmt.Sprintf("instance %d", i+1),
			url:    fmt.Sprintf("http://127.0.0.1:%d", port),
			log:    filepath.Join(dir, name+".log"),
			ifDies: "The proxy sends requests to the other instances; screens that were on it reconnect through the proxy to one of them.",
		}
		p.health = p.url + "/healthz"
		d.instances = append(d.instances, p)
		// The server's own PROJECTBOARD_* settings are left out: instance 1 must make up the
		// admin password it logs. It trusts the proxy (127.0.0.1) for the client's address.
		args := []string{serverBin, "serve", "--addr", strings.TrimPrefix(p.url, "http://"),
			"--db", filepath.Join(dir, name+".db"), "--etcd-endpoints", strings.Join(endpoints, ","),
			"--trusted-proxies", "127.0.0.1"}
		if i == 0 {
			fmt.Println("starting instance 1 (the first start loads the bundled data)")
		} else if i == 1 {
			fmt.Printf("starting instances 2 to %d\n", instances)
		}
		if err := d.launch(p, args, harness.ChildEnv()); err != nil {
			return firstLogin{}, err
		}
		if i == 0 {
			if err := p.waitReady(ctx, 3*time.Minute); err != nil {
				return firstLogin{}, err
			}
		}
	}
	if err := readyAll(ctx, d.instances[1:], 2*time.Minute); err != nil {
		return firstLogin{}, err
	}
	f, err := os.Open(d.instances[0].log)
	if err != nil {
		return firstLogin{}, err
	}
	defer f.Close()
	return readFirstLogin(f), nil
}

// launch starts p and reports on standard error when it dies before the demo stops it.
func (d *demo) launch(p *proc, args []string, env []string) error {
	if err := p.start(args, env); err != nil {
		return err
	}
	go func() {
		<-p.done
		if d.stopping.Load() {
			return
		}
		how := "exit status 0"
		if p.waitErr != nil {
			how = p.waitErr.Error()
		}
		fmt.Fprintf(os.Stderr, "\n%s (pid %d) is gone (%s). %s Its log: %s\n\n", p.name, p.pid(), how, p.ifDies, p.log)
	}()
	return nil
}

// stop stops the instances and then the members; it may be called again. The members stop
// one after another: a leader that stops hands over to a connected peer first, which is quick
// when that peer stays up but takes an election timeout and more when it is closing too.
func (d *demo) stop() {
	d.stopping.Store(true)
	stopAll(d.instances)
	for _, p := range d.members {
		p.stop()
	}
}

// print says where everything is and how to see a failover.
func (d *demo) print(out io.Writer, proxyURL string, first firstLogin, dir string) {
	fmt.Fprintf(out, "\nProjectboard runs as a cluster: %d instances on %d etcd members, behind a round-robin proxy.\n\n", instances, members)
	fmt.Fprintf(out, "  open         %s/\n", proxyURL)
	if first.Password != "" {
		fmt.Fprintf(out, "  log in       %s / %s\n", first.Username, first.Password)
	} else {
		fmt.Fprintf(out, "  log in       instance 1 logged no first login: see %s\n", d.instances[0].log)
	}
	if wall, err := url.Parse(first.WallURL); err == nil && first.WallURL != "" {
		p, _ := url.Parse(proxyURL)
		wall.Scheme, wall.Host = p.Scheme, p.Host
		fmt.Fprintf(out, "  wall screen  %s   (no login needed)\n", wall)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "  PROCESS\tPID\tURL\tLOG")
	fmt.Fprintf(tw, "  proxy\t%d\t%s\t(this process: standard error)\n", os.Getpid(), proxyURL)
	for _, p := range append(d.instances[:len(d.instances):len(d.instances)], d.members...) {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", p.name, p.pid(), p.url, p.log)
	}
	tw.Flush()
	fmt.Fprintf(out, `
See it fail over: open the wall screen, then kill an instance, e.g.

  kill -9 %d

Requests through the proxy go on to the other instances, and the screen reconnects through the
proxy to one of them within seconds. An edit made on any instance reaches every screen. Kill
one etcd member and the cluster goes on; kill two and edits are refused (503) while pages and
screens still show the data. The demo restarts nothing it started.

Data and logs: %s
Ctrl-C stops everything.
`, d.instances[1].pid(), dir)
}
