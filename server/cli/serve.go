package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/pprof"

	"projectboard/assets"
	"projectboard/server"
	"projectboard/store"
)

// Config is everything serve takes from flags and the environment.
type Config struct {
	Addr           string
	DB             string
	Seed           string
	AllowedOrigins []string
	TrustedProxies []string
	MetricsAddr    string
	// Pprof also serves Go's profiler (/debug/pprof) on MetricsAddr, which has no login.
	Pprof   bool
	PIDFile string
	// Clock, when set, is the instant the server's clock starts at (--clock); it runs on in
	// real time from there.
	Clock time.Time
	// Etcd, when it has endpoints, runs this process as one instance of a cluster.
	Etcd EtcdConfig
}

// serve runs the server until a signal stops it or a new process (SIGHUP) takes over, in
// the steps below: flags, the upgrader, the database, its data, the server, listening, and
// the shutdown.
func serve(args []string, version string, log *slog.Logger) error {
	cfg, err := serveConfig(args)
	if err != nil {
		return err
	}
	now := startClock(cfg.Clock)

	// The upgrader passes the listening sockets from this process to the one a SIGHUP starts,
	// so no connection is refused during an upgrade (see upgrade).
	upg, err := tableflip.New(tableflip.Options{PIDFile: cfg.PIDFile, UpgradeTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer upg.Stop()
	opts := store.Options{Now: now}
	if len(cfg.Etcd.Endpoints) > 0 {
		l, cli, err := dialEtcd(cfg.Etcd, log)
		if err != nil {
			return err
		}
		defer cli.Close()
		opts.Log, opts.EtcdTimeout, opts.RebaseEvery = l, cfg.Etcd.Timeout, cfg.Etcd.RebaseEvery
	}
	st, err := store.Open(cfg.DB, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	if !cfg.Clock.IsZero() {
		log.Info("the clock starts at --clock", "now", now().Format(time.RFC3339))
	}
	baseURL := localURL(cfg.Addr)
	if err := prepareData(st, cfg.Seed, baseURL, log); err != nil {
		return err
	}
	ui := assets.UI()
	var advertise string
	if st.Clustered() {
		advertise = advertiseURL(cfg.Etcd, cfg.Addr)
	}
	srv := server.New(st, server.Config{Build: buildID(version, ui), UI: ui, AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies, Logger: log, Now: now, AdvertiseURL: advertise})

	errc := make(chan error, 3)
	metrics, err := listen(cfg, srv, upg, errc, log)
	if metrics != nil {
		defer metrics.Shutdown()
	}
	if err != nil {
		return err
	}
	if err := upg.Ready(); err != nil {
		return err
	}
	st.Campaign(advertise) // a candidate for the cluster's writer once it serves (a no-op on a single node)
	log.Info("projectboard is running", "url", baseURL+"/", "db", cfg.DB, "rev", st.Rev(),
		"projects", st.Len(), "version", version, "pid", os.Getpid(), "upgraded", upg.HasParent())

	handedOver, err := waitForStop(st, upg, errc, log)
	if err != nil {
		return err
	}
	shutdown(st, srv, handedOver, log)
	return nil
}

// serveConfig parses serve's flags (and the variables that stand in for them) into a Config.
func serveConfig(args []string) (Config, error) {
	var cfg Config
	var origins, proxies string
	f := newFlagSet("serve")
	f.str(&cfg.Addr, "addr", ":8080", "address to listen on")
	db := dbFlag(f)
	f.str(&cfg.Seed, "seed", "jingyue-2022", "data set loaded into a new, empty database ('none' loads nothing; bundled: "+
		strings.Join(assets.SeedNames(), ", ")+")")
	f.str(&origins, "allowed-origins", "", "comma-separated origins besides the server's own that may make changes")
	f.str(&proxies, "trusted-proxies", "", "comma-separated proxy addresses whose X-Forwarded-* headers are trusted")
	f.str(&cfg.MetricsAddr, "metrics-addr", "", "also serve /metrics without login on this address (e.g. 127.0.0.1:9090)")
	f.BoolVar(&cfg.Pprof, "pprof", false, "also serve Go's profiler, /debug/pprof, on --metrics-addr (no login: keep that address on loopback)")
	f.str(&cfg.PIDFile, "pid-file", "", "write the serving process's PID here (it changes with each SIGHUP upgrade)")
	var endpoints string
	etcdFlags(f, &cfg.Etcd, &endpoints)
	var clock string
	f.str(&clock, "clock", "", "run the board as if it were this RFC 3339 instant, e.g. 2022-11-08T10:00:00+08:00; the clock "+
		"runs on in real time from there (for demos and tests: months, deadlines and warnings follow it; every start begins at it again)")
	if err := f.parse(args); err != nil {
		return cfg, err
	}
	if clock != "" {
		t, err := time.Parse(time.RFC3339, clock)
		if err != nil {
			return cfg, fmt.Errorf("--clock %q is not an RFC 3339 instant such as 2022-11-08T10:00:00+08:00", clock)
		}
		cfg.Clock = t
	}
	if cfg.Pprof && cfg.MetricsAddr == "" {
		return cfg, errors.New("--pprof needs --metrics-addr: the profiler is served only there")
	}
	cfg.DB = *db
	cfg.AllowedOrigins, cfg.TrustedProxies = splitList(origins), splitList(proxies)
	cfg.Etcd.Endpoints = splitList(endpoints)
	return cfg, nil
}

// prepareData loads the bundled data set into a new database, brings an old one's data up
// to date, and makes sure of an admin account (firststart.go).
func prepareData(st *store.Store, seed, baseURL string, log *slog.Logger) error {
	if err := seedIfEmpty(st, seed, log); err != nil {
		return err
	}
	if err := backfillRestartDates(st, seed, log); err != nil {
		return err
	}
	return firstStart(st, baseURL, log)
}

// listen serves the app, and the metrics app when configured, on sockets the upgrader
// holds (inherited from the previous process after a SIGHUP). A server that stops sends its
// error to errc. The metrics app is returned, even with an error, so that the caller shuts
// it down.
func listen(cfg Config, srv *server.Server, upg *tableflip.Upgrader, errc chan<- error, log *slog.Logger) (*fiber.App, error) {
	ln, err := upg.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	go func() { errc <- srv.App().Listener(ln) }()
	if cfg.MetricsAddr == "" {
		return nil, nil
	}
	metrics := srv.MetricsApp()
	if cfg.Pprof {
		metrics.Use(pprof.New())
	}
	mln, err := upg.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, err
	}
	go func() { errc <- metrics.Listener(mln) }()
	log.Info("metrics without login", "url", localURL(cfg.MetricsAddr)+"/metrics")
	return metrics, nil
}

// waitForStop waits for SIGINT or SIGTERM, for a new process (SIGHUP) to take over —
// handedOver — or for a server's error. Each SIGHUP starts an upgrade.
func waitForStop(st *store.Store, upg *tableflip.Upgrader, errc chan error, log *slog.Logger) (handedOver bool, err error) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := upgrade(st, upg, log); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		return false, err
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
		return false, nil
	case <-upg.Exit():
		log.Info("the new process is serving: handing the screens over")
		return true, nil
	}
}

// shutdown ends the requests and screens, then closes the database.
func shutdown(st *store.Store, srv *server.Server, handedOver bool, log *slog.Logger) {
	t0 := time.Now()
	if handedOver {
		// The new process holds the file; edits that waited here fail (never acknowledged),
		// so the requests below can finish.
		st.Close()
	}
	// On a cluster, the other instances forward writes elsewhere before this one stops serving.
	st.Resign()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
	}
	t1 := time.Now()
	// Close commits whatever is still queued before the file closes.
	if err := st.Close(); err != nil {
		log.Error("closing the database", "err", err)
	}
	log.Info("stopped", "requests_and_screens_closed_ms", t1.Sub(t0).Milliseconds(),
		"database_closed_ms", time.Since(t1).Milliseconds())
}

// startClock is the server's clock: time.Now, or, with an instant to start at, one that
// starts there and runs on in real time (monotonic: a change of the machine's clock does not
// move it).
func startClock(at time.Time) func() time.Time {
	if at.IsZero() {
		return time.Now
	}
	t0 := time.Now()
	return func() time.Time { return at.Add(time.Since(t0)) }
}

// localURL is the URL to print for a listen address.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// buildID names this binary and its UI, so screens reload when either changes.
func buildID(version string, ui fs.FS) string {
	index, err := fs.ReadFile(ui, "index.html")
	if err != nil {
		return version + "-noui"
	}
	sum := sha256.Sum256(index)
	return version + "-" + hex.EncodeToString(sum[:4])
}
