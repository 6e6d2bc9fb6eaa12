// Command crashtest kills a real Projectboard server with SIGKILL while editors write to it
// and a wall screen watches its live feed, restarts it on the same port and file, and proves
// after every kill that nothing acknowledged or shown was lost.
//
// What it proves, after each of --cycles kills (the server is dead; the file is opened
// offline with store.Open and read with Check, Replay, Projects and ProjectChanges):
//
//  1. Every PATCH answered 200 is in the change log as the change that made the answered
//     version, with exactly its value, and the project still holds the last acknowledged
//     value of each field unless a later change set that field again. An edit whose request
//     was cut (the server died under it) may or may not be there; if it is, it is complete:
//     exactly its field and value, the version after its If-Match. An edit answered 412, or
//     refused at connect, is never there. Every change in the log by the editors' token is an
//     edit they sent, once. Reads never go back: a GET shows at least the version the editor
//     was acknowledged, also after restarts, and at least the version a 412 reported.
//  2. Revisions run from 1 to the file's rev with no gap or repeat.
//  3. Replaying the log's "fields" over the creates gives exactly the stored projects; each
//     "from" is the value before; each project's version is its number of updates + 1 and
//     equals its last log entry; the per-project index lists exactly its changes.
//  4. bbolt's consistency check passes.
//  5. A websocket screen (display token, Origin set) that runs through the kills, resuming
//     with since and epoch, sees revisions strictly consecutive within each connection and
//     never a lower revision than it was shown; every revision it was shown (each change
//     message, each snapshot) is in the file with the same change and project values: no
//     screen shows what is then lost.
//
// Between kills the two costliest comparisons (screen messages, per-project index) cover
// what is new since the previous check; everything else is checked in full every time. At
// the end, with the editors stopped, it checks that the screen catches up with the restarted
// server, that GET /api/changes and GET /api/projects agree with the file, that the server
// stops cleanly on SIGTERM, and then checks the whole file once more in full.
//
// SIGKILL loses the process, not the kernel's page cache: this proves that the server
// acknowledges and publishes only what it has committed and that its file is consistent
// wherever the process dies. It does not simulate a power cut (unsynced pages lost).
//
// How: it builds the binary (or takes --bin), makes a temporary directory on disk (tmpfs is
// refused; then the repository's data/ is used), starts `projectboard serve` on a free
// 127.0.0.1 port with PROJECTBOARD_ADMIN_PASSWORD set, so the first start loads the 197
// bundled projects (revisions 1–197). It logs in, makes an api token for the editors and a
// display token for the screen, and runs --editors editors that PATCH a pool of twice as many
// projects with If-Match (so they collide: a 412 is answered by a GET and a retry), with
// {"progress":N} or {"note":"eE-S"} and a "comment" naming the edit uniquely, so the change
// it made is found in the log whatever its value. Each cycle edits for a random 50–400 ms,
// kills the server, waits until every request in flight has its outcome and the screen has
// read what the dead server sent, checks the file, and restarts the server (until /healthz
// answers, then checks it serves the file's epoch and revision).
//
// With --cluster it runs the board as it runs scaled out (docs/scale-out.md): three etcd
// members, each its own process (scripts/etcdmember, store/etcdlog/etcdtest.ProcCluster), and
// three `projectboard serve --etcd-endpoints …` instances on free ports, each with its own
// --db file (the first is started alone and loads the data set; the others then load its
// base). Editor i talks to instance i%3 and, while that one does not answer, to the next (as a
// client behind a proxy would), going home when an instance restarts; a screen is homed on
// each instance and, when its instance dies, resumes on another with since and epoch. Each
// cycle edits for a random 200–800 ms, SIGKILLs one of the six processes at random (an
// instance, or an etcd member — noting when it is the leader; never two members at once),
// keeps it dead 200–1000 ms while the editors go on, and restarts it (an instance on its
// file and flags, a member on its data directory). What it proves:
//
//  6. A killed instance's file, opened read-only while it is dead, passes checks 1–5 for what
//     that instance answered: every edit it acknowledged is there (a view may lag the log, so
//     the edits other instances acknowledged may or may not be), and it holds every revision
//     it showed a screen.
//  7. After each restart, with the editors paused, every instance serves the same epoch,
//     revision, projects and change log (GET /api/meta, /api/projects, /api/changes); the log
//     runs 1..rev and holds every edit acknowledged by any instance with its value, no
//     refused or never-sent one, and each project holds the last acknowledged value of each
//     field unless a later change set it again. A 503 (etcd without a leader for longer than
//     --etcd-timeout) is an unknown outcome.
//  8. Every screen's sequence of (rev, change) is the same as every other screen's wherever
//     both were shown a revision, and the log's; a screen that resumes on an instance that
//     has its revision gets the changes after it, never a snapshot. (An instance that has not
//     yet applied the screen's revision answers with a snapshot of its own, older, revision:
//     counted, not a violation.)
//
// The instances cut the log every --rebase-every entries (300; a real board: 50,000): a new
// base is made from the writer's view and the entries before the previous base are deleted
// from etcd, so the kills also land while a base is made, and an instance that was dead
// across two of them starts from a base instead of the entries (store/rebase.go).
//  9. After an etcd member's kill, writes succeed again: the time from the kill to the first
//     acknowledged edit sent after it, on any instance and on every instance, is reported
//     (the bar for a leader kill is 3 s).
//  10. At the end the instances stop on SIGTERM and each file, opened read-only, passes checks
//     1–5 in full with everything acknowledged and shown, and the three files hold the same
//     log and projects as the instances served.
//
// Usage, from the repository root:
//
//	go run ./scripts/crashtest [flags]
//
// Flags:
//
//	--cycles N     kill cycles (default 50, the full run; 3 is the short form for make test)
//	--editors N    concurrent editors (default 8)
//	--seed N       random seed for kill moments and edits (default: from the clock; printed)
//	--bin PATH     the projectboard binary to test (default: go build one into the temp dir)
//	--keep         keep the temporary directory (pb.db, server.log); it is also kept on failure
//	--timeout D    give up, failing, after this long (default 10m)
//	--cluster      three instances on three etcd members, killing either (see above);
//	               the full run is --cycles 24 (make crashtest-cluster), the short form
//	               --cycles 4 (make crashtest-cluster-short); --keep keeps instance-N.db,
//	               instance-N.log and etcd/ with each member's data and log
//	--first-start-kills N
//	               before the cycles, kill N servers at a random moment of their first start
//	               on new files (while they load the data set), restart each once, and check
//	               that it holds all 197 projects (default 0: this fails today, see the seed
//	               loading bug reported with this tool)
//
// It prints one line per cycle on stderr and a summary at the end; it exits 0 when every
// check passed and 1 with the violations otherwise (2 for bad flags). It always kills its
// server on the way out, also on failure and Ctrl-C (and the kernel kills it if crashtest
// itself is killed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"projectboard/scripts/internal/harness"
	"projectboard/store"
)

// config is what the flags give.
type config struct {
	cycles  int
	editors int
	seed    uint64
	bin     string
	keep    bool
	timeout time.Duration

	firstStartKills int
	cluster         bool
	rebaseEvery     uint64
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg config
	fs := flag.NewFlagSet("crashtest", flag.ContinueOnError)
	fs.IntVar(&cfg.cycles, "cycles", 50, "kill cycles (50 is the full run)")
	fs.IntVar(&cfg.editors, "editors", 8, "concurrent editors")
	fs.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: from the clock)")
	fs.StringVar(&cfg.bin, "bin", "", "projectboard binary (default: build one)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.IntVar(&cfg.firstStartKills, "first-start-kills", 0, "also kill this many first starts (loading the data set) and check the restart completes them")
	fs.BoolVar(&cfg.cluster, "cluster", false, "run 3 instances on 3 etcd members and kill instances and members")
	fs.Uint64Var(&cfg.rebaseEvery, "rebase-every", 300, "with --cluster: the instances' --etcd-rebase-every, small so that the log is cut and pruned many times under the kills")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.cycles < 1 || cfg.cycles > 10_000 || cfg.editors < 1 || cfg.editors > 256 || cfg.firstStartKills < 0 || cfg.firstStartKills > 1000 {
		fmt.Fprintln(os.Stderr, "crashtest: --cycles must be 1–10000, --editors 1–256 and --first-start-kills 0–1000")
		return 2
	}
	if cfg.cluster && cfg.firstStartKills > 0 {
		fmt.Fprintln(os.Stderr, "crashtest: --first-start-kills is for one server, not --cluster")
		return 2
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	t := &test{cfg: cfg, start: time.Now(), rng: rand.New(rand.NewPCG(cfg.seed, 0x63726173)), findings: &findings{}}
	run, cleanup, summary := t.run, t.cleanup, t.printSummary
	if cfg.cluster {
		run, cleanup, summary = t.runCluster, t.cleanupCluster, t.printClusterSummary
	}
	err := run(ctx)
	if err != nil && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("gave up after --timeout %v (%w)", cfg.timeout, err)
		} else {
			err = fmt.Errorf("interrupted (%w)", err)
		}
	}
	cleanup(err != nil)
	summary(err)
	if err != nil {
		return 1
	}
	return 0
}

// test is one crash-test run.
type test struct {
	cfg   config
	start time.Time
	rng   *rand.Rand

	dir    string
	srv    *serverProc
	client *http.Client // the editors' client; api uses it too
	api    *harness.API // the admin session
	base   string       // http://127.0.0.1:PORT
	epoch  string

	editorToken string
	projectIDs  []string // the bundled projects
	editableIDs []string // those the editors change: not completed

	ledger   *ledger
	gate     *gate
	sub      *subscriber
	findings *findings   // violations seen while running, by editors and the screen
	cl       *clusterRun // --cluster: the etcd members, the instances, their screens

	killed      int
	checks      int
	bboltFailed int
	// screenAtCheck is the last revision the screen had been shown at the previous check.
	screenAtCheck uint64
	last          checkResult
	apiChanges    int
	online        struct {
		changes  []json.RawMessage
		projects json.RawMessage
		rev      uint64
	}
}

func (t *test) run(ctx context.Context) error {
	if err := t.setup(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "crashtest: seed %d, %d cycles, %d editors, dir %s\n", t.cfg.seed, t.cfg.cycles, t.cfg.editors, t.dir)

	editorCtx, stopEditors := context.WithCancel(ctx)
	defer stopEditors()
	editorsDone := t.startEditors(editorCtx)
	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	subDone := make(chan struct{})
	go func() { defer close(subDone); t.sub.run(subCtx) }()

	for cycle := 1; cycle <= t.cfg.cycles; cycle++ {
		if err := t.cycle(ctx, cycle); err != nil {
			return fmt.Errorf("cycle %d: %w", cycle, err)
		}
	}

	// Quiesce: editors stop; the server stays up for the online checks.
	t.gate.close()
	stopEditors()
	<-editorsDone
	if err := t.finalOnline(ctx); err != nil {
		return fmt.Errorf("after the last restart: %w", err)
	}
	stopSub()
	<-subDone
	if v := t.findings.list(); len(v) > 0 {
		return violationError(v)
	}
	if err := t.srv.stopGracefully(15 * time.Second); err != nil {
		return err
	}
	if err := t.checkOffline(ctx, true); err != nil {
		return fmt.Errorf("after SIGTERM: %w", err)
	}
	return t.compareAPI()
}

// finalOnline waits for the screen to catch up with the restarted server and reads the whole
// change log and the projects through the API, to compare them with the file once it stops.
func (t *test) finalOnline(ctx context.Context) error {
	var meta struct {
		Rev uint64 `json:"rev"`
	}
	if err := t.getJSON(ctx, "/api/meta", &meta); err != nil {
		return err
	}
	if meta.Rev != t.last.rev {
		return fmt.Errorf("the server is at rev %d with the editors stopped; the file was at %d", meta.Rev, t.last.rev)
	}
	if err := t.sub.waitCaughtUp(ctx, meta.Rev, 10*time.Second); err != nil {
		return err
	}
	t.online.changes = nil
	for since := uint64(0); ; {
		var page struct {
			Changes []json.RawMessage `json:"changes"`
		}
		if err := t.getJSON(ctx, fmt.Sprintf("/api/changes?since=%d&limit=1000", since), &page); err != nil {
			return err
		}
		if len(page.Changes) == 0 {
			break
		}
		t.online.changes = append(t.online.changes, page.Changes...)
		since += uint64(len(page.Changes))
	}
	var list struct {
		Rev      uint64          `json:"rev"`
		Projects json.RawMessage `json:"projects"`
	}
	if err := t.getJSON(ctx, "/api/projects", &list); err != nil {
		return err
	}
	t.online.projects, t.online.rev = list.Projects, list.Rev
	return nil
}

// compareAPI checks that what the API served before the stop is what the file holds.
func (t *test) compareAPI() error {
	st, err := store.Open(t.srv.dbPath, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	changes, err := st.Changes(0, math.MaxInt32)
	if err != nil {
		return err
	}
	projects, rev := st.Projects()
	var v violationError
	if len(changes) != len(t.online.changes) {
		v = append(v, fmt.Sprintf("GET /api/changes served %d changes, the file holds %d", len(t.online.changes), len(changes)))
	}
	for i := range min(len(changes), len(t.online.changes)) {
		var c store.Change
		if err := json.Unmarshal(t.online.changes[i], &c); err != nil {
			return err
		}
		if a, b := mustJSON(c), mustJSON(changes[i]); a != b {
			v = append(v, fmt.Sprintf("GET /api/changes served\n    %s\n  the file holds\n    %s", a, b))
		}
	}
	var served []store.Project
	if err := json.Unmarshal(t.online.projects, &served); err != nil {
		return err
	}
	if t.online.rev != rev || mustJSON(served) != mustJSON(projects) {
		v = append(v, fmt.Sprintf("GET /api/projects served rev %d and %d projects that differ from the file's (rev %d)", t.online.rev, len(served), rev))
	}
	t.apiChanges = len(t.online.changes)
	if len(v) > 0 {
		return v
	}
	return nil
}

// cycle edits for a random moment, kills the server, checks the file and restarts.
func (t *test) cycle(ctx context.Context, n int) error {
	t.gate.open()
	if err := t.sub.waitConnected(ctx, 10*time.Second); err != nil {
		return err
	}
	before := t.ledger.counts()
	edit := time.Duration(50+t.rng.IntN(351)) * time.Millisecond
	select {
	case <-time.After(edit):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := t.srv.kill(); err != nil {
		return err
	}
	t.killed++
	// Requests in flight now fail; wait until each has its outcome, then keep editors out.
	t.gate.close()
	if err := t.gate.waitIdle(ctx, 15*time.Second); err != nil {
		return err
	}
	if err := t.sub.waitDisconnected(ctx, 10*time.Second); err != nil {
		return err
	}
	if v := t.findings.list(); len(v) > 0 {
		return violationError(v)
	}
	checkStart := time.Now()
	if err := t.checkOffline(ctx, false); err != nil {
		return err
	}
	checkTook := time.Since(checkStart)
	restartStart := time.Now()
	if err := t.restart(ctx); err != nil {
		return err
	}
	after := t.ledger.counts()
	fmt.Fprintf(os.Stderr, "cycle %2d/%d: edited %3dms, rev %6d, +%d acked, +%d unknown, +%d 412s, screen at %d; check %dms, restart %dms\n",
		n, t.cfg.cycles, edit.Milliseconds(), t.last.rev, after.acked-before.acked, after.unknown-before.unknown,
		after.refused412-before.refused412, t.sub.lastRev(), checkTook.Milliseconds(), time.Since(restartStart).Milliseconds())
	return nil
}

// checkOffline opens the dead server's file and runs every check on it; full or limited
// to what is new since the previous check for the two costliest parts (see scope).
func (t *test) checkOffline(ctx context.Context, full bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sc := scope{shownAfter: t.screenAtCheck, indexAfter: t.last.rev}
	if full {
		sc = scope{}
	}
	screenAt := t.sub.lastRev()
	res, err := checkFile(t.srv.dbPath, t.ledger.snapshot(), t.sub.shownLog(), "token:"+editorTokenName, sc)
	t.checks++
	if err != nil {
		return err
	}
	for _, v := range res.violations {
		if strings.HasPrefix(v, "bbolt consistency check") {
			t.bboltFailed++
			break
		}
	}
	t.last, t.screenAtCheck = res, screenAt
	if len(res.violations) > 0 {
		return violationError(res.violations)
	}
	return nil
}

// restart starts the server on the same port and file and checks it loaded what the file holds.
func (t *test) restart(ctx context.Context) error {
	t.client.Transport.(*http.Transport).CloseIdleConnections()
	if err := t.srv.start(ctx); err != nil {
		return err
	}
	var meta struct {
		Epoch string `json:"epoch"`
		Rev   uint64 `json:"rev"`
	}
	if err := t.getJSON(ctx, "/api/meta", &meta); err != nil {
		return fmt.Errorf("after restart: %w", err)
	}
	if meta.Epoch != t.epoch || meta.Rev != t.last.rev {
		return fmt.Errorf("after restart the server reports epoch %s rev %d; the file holds epoch %s rev %d",
			meta.Epoch, meta.Rev, t.epoch, t.last.rev)
	}
	return nil
}

// cleanup kills the server and removes the temporary directory unless it should be kept.
func (t *test) cleanup(failed bool) {
	if t.srv != nil {
		_ = t.srv.kill()
		t.srv.closeLog()
	}
	if t.dir == "" {
		return
	}
	if t.cfg.keep || failed {
		fmt.Fprintf(os.Stderr, "crashtest: kept %s (database pb.db, server log server.log)\n", t.dir)
		return
	}
	_ = os.RemoveAll(t.dir)
}

// findings collects violations seen while the test runs.
type findings struct {
	mu sync.Mutex
	v  []string
}

func (f *findings) add(s string) {
	f.mu.Lock()
	if len(f.v) < 1000 {
		f.v = append(f.v, s)
	}
	f.mu.Unlock()
}

func (f *findings) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.v...)
}

// violationError lists violations, at most 20 of them.
type violationError []string

func (v violationError) Error() string {
	const show = 20
	var b strings.Builder
	fmt.Fprintf(&b, "%d violation(s):", len(v))
	for i, s := range v {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more", len(v)-show)
			break
		}
		b.WriteString("\n  - " + s)
	}
	return b.String()
}

func (t *test) printSummary(err error) {
	c := t.ledger.countsOrZero()
	r := t.last
	w := os.Stdout
	if err != nil {
		w = os.Stderr
	}
	result := "PASS"
	if err != nil {
		result = "FAIL"
	}
	check := fmt.Sprintf("passed in all %d checks of the file", t.checks)
	if t.bboltFailed > 0 {
		check = fmt.Sprintf("FAILED in %d of %d checks of the file", t.bboltFailed, t.checks)
	}
	fmt.Fprintf(w, "\ncrashtest %s  (seed %d)\n", result, t.cfg.seed)
	fmt.Fprintf(w, "  kill cycles (SIGKILL)           %d of %d\n", t.killed, t.cfg.cycles)
	fmt.Fprintf(w, "  acknowledged edits checked      %d (progress %d, note %d)\n", r.ackedChecked, c.ackedProgress, c.ackedNote)
	fmt.Fprintf(w, "  acknowledged edits lost         %d\n", r.ackedLost)
	fmt.Fprintf(w, "  unknown-outcome edits           %d, of which %d landed\n", c.unknown, r.unknownLanded)
	fmt.Fprintf(w, "  refused at connect (never sent) %d, none may land\n", c.notSent)
	fmt.Fprintf(w, "  412 version mismatches          %d\n", c.refused412)
	fmt.Fprintf(w, "  subscriber revisions checked    %d (%d changes, %d snapshots; %d connections)\n",
		r.shownChecked, r.shownChanges, r.shownSnapshots, t.sub.connectionsOrZero())
	if t.checks > 0 {
		fmt.Fprintf(w, "  change log                      revisions 1–%d contiguous; %d compared via GET /api/changes\n", r.rev, t.apiChanges)
	} else {
		fmt.Fprintf(w, "  change log                      not checked\n")
	}
	fmt.Fprintf(w, "  bbolt consistency check         %s\n", check)
	fmt.Fprintf(w, "  wall time                       %s\n", time.Since(t.start).Round(10*time.Millisecond))
	if err != nil {
		fmt.Fprintf(w, "\ncrashtest: FAIL: %v\n", err)
		if t.srv != nil {
			fmt.Fprintf(w, "server log: %s\n", filepath.Join(t.dir, "server.log"))
		}
	}
}
