// Command loadgen measures Projectboard's live feed under many wall screens, against bare
// websocket broadcast servers run the same way, and prints them side by side.
//
//	go run ./scripts/loadgen --clients 1000 --mode single
//	go run ./scripts/loadgen --clients 10000 --mode single --target all --repeat 3
//	go run ./scripts/loadgen --clients 10000 --mode rate --rate 10 --duration 60s
//	go run ./scripts/loadgen --clients 10000 --mode storm
//	go run ./scripts/loadgen --clients 10000 --slow 1
//	go run ./scripts/loadgen --cluster --clients 3000 --kill-instance
//
// It starts each target itself (ours: the projectboard binary on a fresh database in a
// temporary directory; bare: this binary's hidden `bare-server` subcommand, fasthttp and
// fasthttp/websocket; gorilla: its `gorilla-server` subcommand, net/http and
// gorilla/websocket), opens the websocket clients from 127.0.0.2, 127.0.0.3 … and drives
// edits over HTTP. Latency is from sending a PATCH to each client reading the change with
// that revision.
//
// --cluster runs ours as three instances on a three-member etcd cluster instead, with the
// screens spread over them (cluster.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"projectboard/scripts/internal/harness"
)

// Sizes of a real change message (project + change + summary) and snapshot of the bundled
// data, measured from projectboard; the baselines use them only when ours is not there to be
// measured (payloads).
const (
	defaultChangeSize   = 8500
	defaultSnapshotSize = 188000
)

// baselines are the bare servers ours is compared with, in the order of the table.
var baselines = []string{"bare", "gorilla"}

// ourTargets are ours and, with --bin-b, a second build of ours to compare with it.
var ourTargets = []string{"ours", "ours-b"}

func isOurs(kind string) bool { return slices.Contains(ourTargets, kind) }

// allTargets is every target in the order of the table.
func allTargets() []string { return append(slices.Clone(ourTargets), baselines...) }

type options struct {
	target       string
	targets      []string // ours first, then the baselines asked for
	bin, binB    string
	mode         string
	restart      string
	clients      int
	edits        int
	rate         float64
	duration     time.Duration
	slow         float64
	batch        bool
	deflate      bool
	sync         bool
	perAddr      int
	connectConc  int
	wait         time.Duration
	maxTime      time.Duration
	jsonPath     string
	msgSize      int
	snapSize     int
	perf         string
	perfPhase    string
	pprof        string
	dump         string
	trace        bool
	interleave   bool
	keepMessages bool // the first client keeps every message it reads (payloads)
	pprofSecs    int
	keep         bool
	quiet        bool
	idle         time.Duration
	editors      int
	repeat       int

	// --cluster (cluster.go)
	cluster      bool
	killInstance bool
	killAfter    time.Duration
	etcdMember   string
	args         []string // as given, for the report
}

func main() {
	if len(os.Args) > 1 {
		if sub := subcommands[os.Args[1]]; sub != nil {
			if err := sub(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
				os.Exit(1)
			}
			return
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// subcommands are the baseline servers, which the runner starts as this binary.
var subcommands = map[string]func([]string) error{"bare-server": bareMain, "gorilla-server": gorillaMain}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	f := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	f.SetOutput(stderr)
	f.StringVar(&o.target, "target", "both", "ours, bare (fasthttp), gorilla (net/http + gorilla/websocket), ours-b (--bin-b), both (ours and bare), all (ours and the baselines), or a comma-separated list: the same scenario against each in turn")
	f.StringVar(&o.bin, "bin", "", "projectboard binary (default: go build it from the module root)")
	f.StringVar(&o.binB, "bin-b", "", "a second projectboard binary, target ours-b: two builds of ours side by side")
	f.StringVar(&o.mode, "mode", "single", "single, rate, burst or storm")
	f.IntVar(&o.clients, "clients", 1000, "websocket clients")
	f.IntVar(&o.edits, "edits", 50, "edits (single, burst)")
	f.Float64Var(&o.rate, "rate", 10, "edits per second (rate)")
	f.DurationVar(&o.duration, "duration", 60*time.Second, "how long to edit (rate)")
	f.StringVar(&o.restart, "restart", "sigterm", "storm: sigterm (stop, then start anew) or sighup (ours only: upgrade in place, the new process takes over the socket)")
	f.BoolVar(&o.deflate, "deflate", false, "clients offer permessage-deflate, as browsers do (the tool then inflates every message); the baselines then take it too and compress each message once (PreparedMessage), so that the payloads stay equal")
	f.BoolVar(&o.sync, "sync", true, "the baselines commit each edit as ours does before broadcasting it: the message appended to a file beside ours' database and fdatasync'd, then the revision at its head and fdatasync'd (bbolt's two); false: they keep edits in memory only, and ours alone waits for the disk")
	f.BoolVar(&o.batch, "batch", false, "clients ask for batch=1: the server may put what is queued for a client into one frame (a JSON array); the bare baseline ignores it")
	f.Float64Var(&o.slow, "slow", 0, "percent of clients that stop reading; the scenario runs without them first, then with them")
	f.IntVar(&o.perAddr, "per-addr", 1000, "clients per loopback source address (127.0.0.2 …)")
	f.IntVar(&o.connectConc, "connect-conc", 64, "dials in flight while connecting")
	f.DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for every client to read one edit")
	f.DurationVar(&o.maxTime, "max-time", 15*time.Minute, "stop everything after this long")
	f.StringVar(&o.jsonPath, "json", "", "also write the results as JSON to this file")
	f.IntVar(&o.msgSize, "msg-size", 0, "baselines: bytes per change message (0: each project's as ours sends it, measured before the runs)")
	f.IntVar(&o.snapSize, "snap-size", 0, "baselines: bytes of the snapshot (0: as ours sends it, measured before the runs)")
	f.StringVar(&o.perf, "perf", "", "record `perf record -g` of each server during the measured phase into this file (suffixed with the target and run)")
	f.StringVar(&o.pprof, "pprof", "", "write Go CPU profiles of each server and of loadgen itself during the measured phase into this directory (ours needs a binary with --pprof)")
	f.StringVar(&o.dump, "dump", "", "append every delivery's latency to this CSV file (target, run, rev, client, address, ms, the PATCH's round trip ms, sent ms after the phase began)")
	f.BoolVar(&o.trace, "trace", false, "with --pprof: Go execution traces instead of CPU profiles")
	f.IntVar(&o.pprofSecs, "pprof-seconds", 10, "length of each --pprof profile, from the start of the measured phase")
	f.StringVar(&o.perfPhase, "perf-phase", "edits", "what --perf records: edits or connect")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, server logs)")
	f.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	f.DurationVar(&o.idle, "idle", time.Second, "idle time after connecting before reading RSS")
	f.IntVar(&o.editors, "editors", 32, "concurrent editors (burst, rate)")
	f.IntVar(&o.repeat, "repeat", 1, "run the scenario this many times, alternating targets; the table shows medians")
	f.BoolVar(&o.interleave, "interleave", false, "start every target and connect all their clients first, then give each a phase of edits in turn, --repeat rounds (single, burst, rate; needs clients × targets open files)")
	f.BoolVar(&o.cluster, "cluster", false, "ours as 3 instances on a 3-member etcd cluster (each its own process), the screens spread evenly over them, edits at --rate (0: one editor, back to back) sent to the instances in turn for --duration; --clients defaults to 3000 and --duration to 30s here")
	f.BoolVar(&o.killInstance, "kill-instance", false, "--cluster: SIGKILL instance 0 after --kill-after; its screens resume on the other two in turn (as a round-robin proxy sends them), and every screen's sequence is compared")
	f.DurationVar(&o.killAfter, "kill-after", 10*time.Second, "--cluster --kill-instance: edits before the kill")
	f.StringVar(&o.etcdMember, "etcdmember", "", "--cluster: the etcdmember binary (default: go build ./scripts/etcdmember)")
	if err := f.Parse(args); err != nil {
		return o, err
	}
	o.args = args
	if o.cluster {
		return o, clusterOptions(f, &o)
	}
	if o.killInstance {
		return o, errors.New("--kill-instance needs --cluster")
	}
	var err error
	if o.targets, err = parseTargets(o.target); err != nil {
		return o, err
	}
	if slices.Contains(o.targets, "ours-b") != (o.binB != "") {
		return o, errors.New("--bin-b and the target ours-b go together")
	}
	switch o.mode {
	case "single", "rate", "burst", "storm":
	default:
		return o, fmt.Errorf("--mode must be single, rate, burst or storm, not %q", o.mode)
	}
	if o.clients < 1 || o.edits < 1 || o.perAddr < 1 || o.connectConc < 1 || o.editors < 1 || o.repeat < 1 {
		return o, errors.New("--clients, --edits, --per-addr, --connect-conc, --editors and --repeat must be positive")
	}
	if o.slow < 0 || o.slow >= 100 {
		return o, errors.New("--slow must be in [0, 100)")
	}
	switch {
	case o.restart != "sigterm" && o.restart != "sighup":
		return o, fmt.Errorf("--restart must be sigterm or sighup, not %q", o.restart)
	case o.restart == "sighup" && (o.mode != "storm" || !slices.Equal(o.targets, []string{"ours"})):
		return o, errors.New("--restart sighup needs --mode storm --target ours (the bare baseline has no in-place upgrade)")
	}
	if o.mode == "storm" && o.slow > 0 {
		return o, errors.New("--slow does not combine with storm")
	}
	if o.mode == "rate" && (o.rate <= 0 || o.duration <= 0) {
		return o, errors.New("--rate and --duration must be positive")
	}
	if o.interleave && (o.mode == "storm" || o.slow > 0) {
		return o, errors.New("--interleave takes single, burst or rate, without --slow")
	}
	if o.pprofSecs < 1 {
		return o, errors.New("--pprof-seconds must be positive")
	}
	return o, nil
}

// parseTargets turns --target into the targets to run, ours first.
func parseTargets(s string) ([]string, error) {
	switch s {
	case "both":
		return []string{"ours", "bare"}, nil
	case "all":
		return append([]string{"ours"}, baselines...), nil
	}
	asked := map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(allTargets(), t) {
			return nil, fmt.Errorf("--target: %q is not ours, ours-b, bare, gorilla, both or all", t)
		}
		asked[t] = true
	}
	var out []string
	for _, t := range allTargets() {
		if asked[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// report is one invocation's results.
type report struct {
	Mode     string        `json:"mode"`
	Clients  int           `json:"clients"`
	Slow     int           `json:"slowClients"`
	Edits    int           `json:"edits"`
	Rate     float64       `json:"rate,omitempty"`
	Duration string        `json:"duration,omitempty"`
	Started  time.Time     `json:"started"`
	Repeat   int           `json:"repeat"`
	Targets  []*result     `json:"targets"` // medians over the runs
	Runs     [][]*result   `json:"runs"`    // every run, in order
	Ratios   []ratioMetric `json:"ratios,omitempty"`
	// Interleaved: the targets ran side by side, a phase each in turn (--interleave); the
	// table shows all rounds' deliveries together, not medians.
	Interleaved bool `json:"interleaved,omitempty"`
	// Cluster describes a --cluster run: rate, duration, the kill, the load average.
	Cluster string `json:"cluster,omitempty"`
	// Command is the command line, printed above the table.
	Command string `json:"command,omitempty"`
}

// ratioMetric is ours (or ours-b) over one baseline.
type ratioMetric struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Baseline string  `json:"baseline"`
	Ratio    float64 `json:"ratio"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.maxTime)
	defer cancel()
	if o.cluster {
		return runCluster(ctx, o, stdout, stderr)
	}
	logf, err := prepare(o, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	rep := &report{Mode: o.mode, Clients: o.clients, Edits: o.edits, Started: time.Now()}
	if o.mode == "rate" {
		rep.Rate, rep.Duration, rep.Edits = o.rate, o.duration.String(), int(o.rate*o.duration.Seconds())
	}
	kinds := o.targets
	if o.pprof != "" {
		if err := os.MkdirAll(o.pprof, 0o755); err != nil {
			return err
		}
	}
	if o.bin == "" && kinds[0] == "ours" {
		logf("building projectboard")
		if o.bin, err = harness.BuildServer(ctx, dir); err != nil {
			return err
		}
	}
	rep.Repeat = o.repeat
	pl, err := payloads(ctx, o, dir, logf)
	if err != nil {
		return fmt.Errorf("measuring our messages for the baselines: %w", err)
	}
	var failed int
	if o.interleave {
		rep.Interleaved = true
		failed = interleave(ctx, o, dir, logf, pl, rep)
	} else {
		failed = alternate(ctx, o, dir, logf, stderr, pl, rep)
	}
	rep.Ratios = ratios(rep.Targets)
	if err := writeReport(stdout, o, rep); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs had errors (see above)", failed, o.repeat*len(o.targets))
	}
	return ctx.Err()
}

// alternate runs the scenario against each target in turn, o.repeat times; the table shows
// the medians over the runs. It returns how many runs failed.
func alternate(ctx context.Context, o options, dir string, logf func(string, ...any), stderr io.Writer, pl payload, rep *report) int {
	kinds := o.targets
	runs := map[string][]*result{}
	failed := 0
	for i := 0; i < o.repeat && ctx.Err() == nil; i++ {
		var round []*result
		// The rounds rotate the order, so that no target always runs first or last.
		order := append(slices.Clone(kinds[i%len(kinds):]), kinds[:i%len(kinds)]...)
		for _, kind := range order {
			r := &runner{o: o, kind: kind, round: i + 1, dir: filepath.Join(dir, fmt.Sprintf("run%d", i)), logf: logf, pl: pl}
			res, err := r.run(ctx)
			if res == nil {
				res = &result{Target: kind}
			}
			if err != nil {
				failed++
				logf("%s run %d: %v", kind, i+1, err)
				if len(res.Errors) == 0 {
					res.Errors = append(res.Errors, err.Error())
				}
			}
			round = append(round, res)
			runs[kind] = append(runs[kind], res)
			if o.repeat > 1 && !o.quiet {
				// Each run as it ends, so an interrupted series still shows something.
				fmt.Fprintf(stderr, "--- %s, run %d of %d\n", kind, i+1, o.repeat)
				printReport(stderr, &report{Mode: rep.Mode, Clients: rep.Clients, Edits: rep.Edits, Rate: rep.Rate,
					Duration: rep.Duration, Slow: res.SlowClients, Targets: []*result{res}})
			}
			rep.Slow = max(rep.Slow, res.SlowClients)
		}
		rep.Runs = append(rep.Runs, round)
	}
	for _, kind := range kinds {
		rep.Targets = append(rep.Targets, medianResult(kind, runs[kind]))
	}
	return failed
}

// medianResult is, metric by metric, the median over the runs of one target.
func medianResult(kind string, runs []*result) *result {
	out := &result{Target: kind}
	var names []string
	seen := map[string]bool{}
	higher := map[string]bool{}
	for i, r := range runs {
		out.SlowClients = max(out.SlowClients, r.SlowClients)
		out.ChangeBytes = max(out.ChangeBytes, r.ChangeBytes)
		out.SnapshotBytes = max(out.SnapshotBytes, r.SnapshotBytes)
		for _, e := range r.Errors {
			out.Errors = append(out.Errors, fmt.Sprintf("run %d: %s", i+1, e))
		}
		for _, m := range r.Metrics {
			if !seen[m.Name] {
				seen[m.Name] = true
				names = append(names, m.Name)
				higher[m.Name] = m.Higher
			}
		}
	}
	for _, n := range names {
		var vs []float64
		for _, r := range runs {
			if v, ok := r.get(n); ok {
				vs = append(vs, v)
			}
		}
		slices.Sort(vs)
		med := vs[len(vs)/2]
		if len(vs)%2 == 0 {
			med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
		}
		out.Metrics = append(out.Metrics, metric{Name: n, Value: med, Higher: higher[n]})
	}
	return out
}

// result is one target's figures, as an ordered list of metrics for the table.
type result struct {
	Target        string   `json:"target"`
	SlowClients   int      `json:"slowClients"`
	ChangeBytes   int64    `json:"changeMessageBytes"`
	SnapshotBytes int64    `json:"snapshotBytes"`
	Metrics       []metric `json:"metrics"`
	Errors        []string `json:"errors,omitempty"`
}

type metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Higher says whether a larger value is better (for reading the ratio).
	Higher bool `json:"higherIsBetter,omitempty"`
}

func (r *result) add(name string, v float64) {
	r.Metrics = append(r.Metrics, metric{Name: name, Value: v})
}
func (r *result) addHigher(name string, v float64) {
	r.Metrics = append(r.Metrics, metric{Name: name, Value: v, Higher: true})
}

func (r *result) get(name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// ratios are ours (and ours-b) over each baseline, metric by metric.
func ratios(targets []*result) []ratioMetric {
	var out []ratioMetric
	for _, t := range targets {
		if !isOurs(t.Target) {
			continue
		}
		for _, base := range targets {
			if !slices.Contains(baselines, base.Target) {
				continue
			}
			for _, m := range t.Metrics {
				if b, ok := base.get(m.Name); ok && b != 0 {
					out = append(out, ratioMetric{Name: m.Name, Target: t.Target, Baseline: base.Target, Ratio: m.Value / b})
				}
			}
		}
	}
	return out
}

// printReport prints a column per target and, if ours ran, ours over each baseline.
func printReport(w io.Writer, rep *report) {
	title := fmt.Sprintf("mode %s, %d clients", rep.Mode, rep.Clients)
	if rep.Slow > 0 {
		title += fmt.Sprintf(" (%d slow)", rep.Slow)
	}
	switch rep.Mode {
	case "rate":
		title += fmt.Sprintf(", %.4g edits/s for %s", rep.Rate, rep.Duration)
	case "single", "burst":
		title += fmt.Sprintf(", %d edits", rep.Edits)
	case "cluster":
		title += ", " + rep.Cluster
	}
	switch {
	case rep.Interleaved:
		title += fmt.Sprintf("; %d rounds, the targets side by side taking turns, every delivery of every round counted", rep.Repeat)
	case rep.Repeat > 1:
		title += fmt.Sprintf("; medians of %d runs per target, alternating", rep.Repeat)
	}
	if rep.Command != "" {
		fmt.Fprintln(w, rep.Command)
	}
	fmt.Fprintln(w, title)
	byTarget := map[string]*result{}
	var names []string
	seen := map[string]bool{}
	for _, t := range rep.Targets {
		byTarget[t.Target] = t
		for _, m := range t.Metrics {
			if !seen[m.Name] {
				seen[m.Name] = true
				names = append(names, m.Name)
			}
		}
	}
	// Columns: ours (always, as the table's reader expects it first), ours-b if it ran, the
	// baselines that ran, then ours (and ours-b) over each of them, and ours-b over ours.
	cols := []string{"ours"}
	type ratioCol struct{ num, den string }
	var rcols []ratioCol
	for _, t := range allTargets()[1:] {
		if byTarget[t] != nil {
			cols = append(cols, t)
		}
	}
	for _, o := range ourTargets {
		for _, b := range baselines {
			if byTarget[b] != nil && (o == "ours" || byTarget[o] != nil) {
				rcols = append(rcols, ratioCol{o, b})
			}
		}
	}
	if byTarget["ours-b"] != nil && byTarget["ours"] != nil {
		rcols = append(rcols, ratioCol{"ours-b", "ours"})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "metric\t")
	for _, c := range cols {
		fmt.Fprint(tw, c+"\t")
	}
	for _, rc := range rcols {
		fmt.Fprint(tw, rc.num+"/"+rc.den+"\t")
	}
	fmt.Fprintln(tw)
	for _, n := range names {
		value := func(target string) (float64, bool) {
			if t := byTarget[target]; t != nil {
				return t.get(n)
			}
			return 0, false
		}
		fmt.Fprint(tw, n+"\t")
		for _, c := range cols {
			if v, ok := value(c); ok {
				fmt.Fprint(tw, formatValue(v)+"\t")
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		for _, rc := range rcols {
			nv, nok := value(rc.num)
			if dv, dok := value(rc.den); nok && dok && dv != 0 {
				fmt.Fprintf(tw, "%.2f\t", nv/dv)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, t := range rep.Targets {
		if t.ChangeBytes > 0 || t.SnapshotBytes > 0 {
			fmt.Fprintf(w, "%s: change message %d B, snapshot %d B\n", t.Target, t.ChangeBytes, t.SnapshotBytes)
		}
		for _, e := range t.Errors {
			fmt.Fprintf(w, "%s: ERROR %s\n", t.Target, e)
		}
	}
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)) && (v >= 100 || v <= -100 || v == 0):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// perfRecorder runs `perf record` against a process until stopped.
type perfRecorder struct{ cmd *exec.Cmd }

func startPerf(path string, pid int) (*perfRecorder, error) {
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", fmt.Sprint(pid), "-o", path)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond) // let it attach
	return &perfRecorder{cmd: cmd}, nil
}

func (p *perfRecorder) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// prepare raises the file limit for the screens' sockets and returns the progress logger
// (timestamped lines on stderr, none with --quiet).
func prepare(o options, stderr io.Writer) (func(format string, a ...any), error) {
	if _, err := raiseFileLimit(); err != nil {
		return nil, fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	return func(format string, a ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
		}
	}, nil
}

// writeReport prints the report's table, and writes it as JSON to --json when given.
func writeReport(stdout io.Writer, o options, rep *report) error {
	printReport(stdout, rep)
	if o.jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(o.jsonPath, append(b, '\n'), 0o644)
}
