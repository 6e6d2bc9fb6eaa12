// Command soak runs the real projectboard server for a while under wall screens that keep
// their own state and editors that race on a few projects, then checks that nothing went
// wrong on the way: every screen equals the database, every edit answered 200 is in the
// change log at the version the 200 claimed and under no later write, 412s happened, and
// the server's goroutines and memory come back down once the screens are gone.
//
//	go run ./scripts/soak                                            # 10 min, 300 screens, 20 editors
//	go run ./scripts/soak --duration 20s --screens 30 --editors 5    # a quick check of the tool
//
// It builds the server (or takes --bin), starts it on a fresh database in a temporary
// directory on disk with --metrics-addr, and talks only to 127.0.0.1. It exits 1 on FAIL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"projectboard/scripts/internal/harness"
)

const (
	screenTokenName = "soak-screens"
	editorTokenName = "soak-editors" // every change the editors make is "by" token:soak-editors
	seedProjects    = 197            // the bundled data set: revisions 1–197
	mib             = 1 << 20
)

type config struct {
	bin            string
	dir            string
	keep           bool
	duration       time.Duration
	screens        int
	stuck          int
	editors        int
	projects       int
	minRate        float64
	maxRate        float64
	cutEvery       time.Duration
	cutShare       float64
	goroutineSlack int
	rssFactor      float64
	rssSlackMiB    float64
	settle         time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, cfg, os.Stderr)
	stop()
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if rep == nil || !rep.passed() {
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	f := flag.NewFlagSet("soak", flag.ContinueOnError)
	f.SetOutput(stderr)
	f.StringVar(&c.bin, "bin", "", "projectboard binary (default: go build from the repository root)")
	f.StringVar(&c.dir, "dir", "", "directory for the run's database and server log (default: a new one under $TMPDIR, on disk)")
	f.BoolVar(&c.keep, "keep", false, "keep the run's directory after a PASS (it is always kept after a FAIL)")
	f.DurationVar(&c.duration, "duration", 10*time.Minute, "how long the editors edit")
	f.IntVar(&c.screens, "screens", 300, "websocket screens that keep their own state")
	f.IntVar(&c.stuck, "stuck", 3, "extra screens that connect and never read")
	f.IntVar(&c.editors, "editors", 20, "editors, each at a random rate between --min-rate and --max-rate")
	f.IntVar(&c.projects, "projects", 10, "size of the shared set of projects the editors race on")
	f.Float64Var(&c.minRate, "min-rate", 1, "slowest editor, edits/s")
	f.Float64Var(&c.maxRate, "max-rate", 10, "fastest editor, edits/s")
	f.DurationVar(&c.cutEvery, "cut-every", time.Minute, "how often a share of the screens lose their connection abruptly (at most a third of --duration)")
	f.Float64Var(&c.cutShare, "cut-share", 0.10, "share of the screens cut each time")
	f.IntVar(&c.goroutineSlack, "goroutine-slack", 10, "goroutines allowed above the starting level at the end")
	f.Float64Var(&c.rssFactor, "rss-factor", 1.5, "RSS allowed at the end: start × this + --rss-slack-mib")
	f.Float64Var(&c.rssSlackMiB, "rss-slack-mib", 20, "see --rss-factor")
	f.DurationVar(&c.settle, "settle", 60*time.Second, "longest wait, after the screens are gone, for goroutines and RSS to come back")
	if err := f.Parse(args); err != nil {
		return c, err
	}
	if f.NArg() > 0 {
		fmt.Fprintf(stderr, "soak: unexpected arguments %q\n", f.Args())
		return c, errors.New("usage")
	}
	switch {
	case c.duration <= 0, c.screens < 1, c.stuck < 0, c.editors < 1, c.projects < 1, c.projects > seedProjects,
		c.minRate <= 0, c.maxRate < c.minRate, c.cutShare < 0, c.cutShare > 1, c.cutEvery <= 0:
		fmt.Fprintln(stderr, "soak: a flag is out of range")
		return c, errors.New("usage")
	}
	// A short run still cuts screens a few times.
	c.cutEvery = max(min(c.cutEvery, (c.duration/3).Round(time.Second)), time.Second)
	return c, nil
}

// run is the whole soak. It returns the report whenever the run got as far as editing;
// the error is for a run that could not be carried out.
func run(ctx context.Context, cfg config, logw io.Writer) (*report, error) {
	began := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(logw, "%s soak: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	dir := cfg.dir
	if dir == "" {
		base := os.TempDir()
		if harness.OnTmpfs(base) {
			return nil, fmt.Errorf("%s is a tmpfs: pass --dir on a disk", base)
		}
		var err error
		if dir, err = os.MkdirTemp(base, "soak-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	rep := &report{cfg: cfg, dir: dir}
	defer func() {
		if rep.passed() && !cfg.keep && cfg.dir == "" {
			os.RemoveAll(dir)
		}
	}()

	bin := cfg.bin
	if bin == "" {
		logf("building projectboard")
		var err error
		if bin, err = harness.BuildServer(ctx, dir); err != nil {
			return nil, err
		}
	} else if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	srv, err := startServer(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := srv.stop(15 * time.Second); err != nil {
			rep.fail("%v", err)
		}
	}()
	logf("server on %s, metrics on %s, directory %s", srv.addr, srv.metricsAddr, dir)

	admin := newAPI(srv.addr, 4)
	display, editorToken, err := admin.tokens(ctx)
	if err != nil {
		return nil, err
	}
	startProjects, startRev, err := admin.projects(ctx)
	if err != nil {
		return nil, err
	}
	if startRev < seedProjects || len(startProjects) != seedProjects {
		return nil, fmt.Errorf("a new database has %d projects at rev %d; want %d", len(startProjects), startRev, seedProjects)
	}
	admin.HTTP.CloseIdleConnections()
	sleep(ctx, 2*time.Second)
	s0, err := scrape(ctx, srv.metricsAddr)
	if err != nil {
		return nil, err
	}
	rep.start, rep.peak = s0, s0
	logf("start: %0.f goroutines, RSS %.1f MiB", s0.goroutines, s0.rss/mib)

	// Screens: connect, and wait until every healthy one holds a snapshot.
	screenCtx, stopScreens := context.WithCancel(ctx)
	defer stopScreens()
	fl := newFleet(srv.addr, display, cfg.screens)
	fl.start(screenCtx)
	stuck := make([]*stuckScreen, cfg.stuck)
	for i := range stuck {
		conn, _, err := fl.client.Dial(ctx, 0, "")
		stuck[i] = &stuckScreen{dialErr: err}
		if err == nil {
			stuck[i].conn = conn.WS
		}
	}
	defer func() {
		for _, s := range stuck {
			if s.conn != nil {
				s.conn.Close()
			}
		}
	}()
	if !waitFor(ctx, 2*time.Minute, func() bool { return fl.ready(startRev) == cfg.screens }) {
		return rep, fmt.Errorf("only %d of %d screens got a snapshot within 2 minutes", fl.ready(startRev), cfg.screens)
	}
	logf("%d screens connected (+%d that never read)", cfg.screens, cfg.stuck)

	// Editors on the first --projects ids, and the cuts, for --duration.
	ids := make([]string, 0, cfg.projects)
	initial := map[string]uint64{}
	start := map[string]projectHead{}
	for _, id := range sortedKeys(startProjects)[:cfg.projects] {
		var h projectHead
		if err := json.Unmarshal(startProjects[id], &h); err != nil {
			return nil, err
		}
		ids = append(ids, id)
		initial[id], start[id] = h.Version, h
	}
	editAPI := newAPI(srv.addr, cfg.editors+4)
	ed := &editors{api: editAPI, token: editorToken, ids: ids, initial: initial,
		minRate: cfg.minRate, maxRate: cfg.maxRate, ledger: newLedger()}
	stopEditing := make(chan struct{})
	editStart := time.Now()
	ed.start(ctx, stopEditing, cfg.editors)
	logf("%d editors on %v for %v; cutting %.0f%% of the screens every %v", cfg.editors, ids, cfg.duration, cfg.cutShare*100, cfg.cutEvery.Round(time.Second))

	deadline := time.After(cfg.duration)
	cutTick := time.NewTicker(cfg.cutEvery)
	sampleTick := time.NewTicker(2 * time.Second)
	reportTick := time.NewTicker(time.Minute)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case <-cutTick.C:
			rep.cuts += fl.cutRandom(cfg.cutShare)
		case <-sampleTick.C:
			if s, err := scrape(ctx, srv.metricsAddr); err == nil {
				rep.observe(s)
			}
			if !srv.running() {
				break loop
			}
		case <-reportTick.C:
			ed.ledger.mu.Lock()
			sent, acked, conflicts := ed.ledger.sent, len(ed.ledger.acks), ed.ledger.conflicts
			ed.ledger.mu.Unlock()
			logf("%v: %d edits sent, %d ok, %d 412; %.0f goroutines, RSS %.1f MiB, %d screens open",
				time.Since(editStart).Round(time.Second), sent, acked, conflicts, rep.last.goroutines, rep.last.rss/mib, int(rep.last.screens))
		}
	}
	cutTick.Stop()
	sampleTick.Stop()
	reportTick.Stop()
	close(stopEditing)
	ed.wg.Wait()
	rep.editing = time.Since(editStart)
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	if !srv.running() {
		return rep, fmt.Errorf("the server exited during the run (%v); see %s", srv.err, srv.logPath)
	}
	logf("editors stopped after %v", rep.editing.Round(time.Second))
	sleep(ctx, time.Second)

	// (1) every healthy screen equals a fresh snapshot.
	want, rev, err := admin.projects(ctx)
	if err != nil {
		return rep, err
	}
	if !waitFor(ctx, 2*time.Minute, func() bool { return fl.ready(rev) == cfg.screens }) {
		rep.fail("only %d of %d screens reached rev %d within 2 minutes of the last edit", fl.ready(rev), cfg.screens, rev)
	}
	if s, err := scrape(ctx, srv.metricsAddr); err == nil {
		rep.observe(s)
	}
	stopScreens()
	fl.wg.Wait()
	rep.checkScreens(fl, want, rev)

	// (2) every 200 is in the change log, at its version, under no later write.
	log, err := admin.changes(ctx, startRev)
	if err != nil {
		return rep, err
	}
	final := map[string]projectHead{}
	for _, id := range ids {
		var h projectHead
		if err := json.Unmarshal(want[id], &h); err != nil {
			return rep, err
		}
		final[id] = h
	}
	l := ed.ledger
	rep.ledger = checkLedger(start, startRev, log, l.acks, l.rejected, l.uncertain, "token:"+editorTokenName, final)
	rep.sent, rep.acked, rep.conflicts, rep.otherStatus = l.sent, len(l.acks), l.conflicts, l.other
	rep.editFaults = l.faults
	// (3) 412s happened.
	if l.conflicts == 0 {
		rep.fail("no edit got 412: the editors did not race")
	}

	// The stuck screens: what the server did with them.
	for i, s := range stuck {
		msgs, how := s.outcome(5 * time.Second)
		rep.stuck = append(rep.stuck, fmt.Sprintf("stuck screen %d: %d messages readable, then %s", i+1, msgs, how))
	}

	// (4) goroutines and RSS come back once the screens are gone.
	editAPI.HTTP.CloseIdleConnections()
	admin.HTTP.CloseIdleConnections()
	rep.settle(ctx, srv.metricsAddr, cfg)
	rep.total = time.Since(began)
	return rep, nil
}

// waitFor polls cond every 100 ms until it holds or within passes.
func waitFor(ctx context.Context, within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return true
}
