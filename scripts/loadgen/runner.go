package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"projectboard/scripts/internal/harness"
)

// runner runs the scenario against one target.
type runner struct {
	o     options
	kind  string
	round int // 1, 2 … of --repeat
	dir   string
	logf  func(string, ...any)
	pl    payload // what the baselines send

	srv       *server
	pprofAddr string // the server's /debug/pprof, with --pprof
	api       *api
	ed        *editor
	fleet     *fleet
	res       *result
}

func (r *runner) run(ctx context.Context) (*result, error) {
	defer r.teardown()
	if err := r.setup(ctx); err != nil {
		return r.res, err
	}
	var err error
	switch {
	case r.o.mode == "storm":
		err = r.storm(ctx)
	case r.o.slow > 0:
		mask := make([]bool, len(r.fleet.clients))
		for i, c := range r.fleet.clients {
			mask[i] = !c.slow
		}
		var without, with phaseResult
		if without, err = r.phase(ctx, r.o.mode, r.edits(), mask, mask); err != nil {
			break
		}
		r.fleet.pause()
		r.logf("%s: %d slow clients stopped reading", r.kind, r.fleet.slowCount())
		if with, err = r.phase(ctx, r.o.mode, r.edits(), mask, mask); err != nil {
			break
		}
		without.add(r.res, "healthy, no slow: ")
		with.add(r.res, "healthy, with slow: ")
		if without.p99 > 0 {
			r.res.add("healthy p99 with/without slow", with.p99/without.p99)
		}
		if without.p50 > 0 {
			r.res.add("healthy p50 with/without slow", with.p50/without.p50)
		}
	default:
		var p phaseResult
		if p, err = r.phase(ctx, r.o.mode, r.edits(), nil, nil); err == nil {
			p.add(r.res, "")
		}
	}
	rss2, _ := rssKiB(r.srv.pid()) // storm restarts the process
	r.res.add("server RSS after run (MiB)", float64(rss2)/1024)
	if dead, first := r.fleet.deadCount(); dead > 0 && r.o.mode != "storm" {
		r.res.Errors = append(r.res.Errors, fmt.Sprintf("%d clients lost their connection (first: %v)", dead, first))
	}
	r.res.ChangeBytes, r.res.SnapshotBytes = r.fleet.meanChangeBytes(), r.fleet.snapshotBytes.Load()
	if err != nil {
		r.res.Errors = append(r.res.Errors, err.Error())
	}
	return r.res, err
}

// setup starts the target, connects the clients and measures what that took; teardown
// undoes it.
func (r *runner) setup(ctx context.Context) error {
	r.res = &result{Target: r.kind}
	dir := filepath.Join(r.dir, r.kind)
	if err := mkdir(dir); err != nil {
		return err
	}
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	var pprofAddr string
	if r.o.pprof != "" {
		pp, err := harness.FreePort()
		if err != nil {
			return err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
	}
	if isOurs(r.kind) {
		bin := r.o.bin
		if r.kind == "ours-b" {
			bin = r.o.binB
		}
		if bin == "" {
			r.logf("building projectboard")
			if bin, err = harness.BuildServer(ctx, dir); err != nil {
				return err
			}
		}
		r.srv = newOurs(r.kind, bin, dir, port, pprofAddr)
	} else {
		if r.srv, err = newBaseline(r.kind, dir, port, r.pl, r.o.deflate, r.o.sync, pprofAddr); err != nil {
			return err
		}
	}
	r.pprofAddr = pprofAddr
	r.logf("%s: starting on %s", r.kind, r.srv.addr)
	if err := r.srv.start(ctx); err != nil {
		return err
	}
	r.api = newAPI(r.srv.baseURL())
	if err := r.api.login(ctx); err != nil {
		return err
	}
	if r.ed, err = newEditor(ctx, r.api); err != nil {
		return err
	}
	if r.fleet, err = newFleet(r.srv.baseURL(), r.api.displayToken, r.o.clients, r.o.perAddr, r.o.slow, r.o.batch, r.o.deflate); err != nil {
		return err
	}
	if r.o.keepMessages {
		r.fleet.kept = map[uint64][]byte{}
	}
	r.res.SlowClients = r.fleet.slowCount()

	// Connect in two halves: the second half's growth is the marginal cost of a screen, free
	// of heap the process had already (ours keeps ~130 MiB resident after argon2 hashing).
	pid := r.srv.pid()
	rss0, _ := rssKiB(pid)
	var heap0 float64
	if isOurs(r.kind) {
		if m, err := r.api.metrics(ctx); err == nil {
			heap0 = m["go_memstats_heap_inuse_bytes"]
		}
	}
	cpu0, _ := cpuTime(pid)
	half := len(r.fleet.clients) / 2
	var perf *perfRecorder
	if r.o.perf != "" && r.o.perfPhase == "connect" {
		if perf, err = startPerf(r.profilePath(r.o.perf), pid); err != nil {
			r.logf("perf: %v", err)
		}
	}
	r.logf("%s: connecting %d clients", r.kind, r.o.clients)
	t0 := time.Now()
	if err := r.fleet.connect(ctx, r.o.connectConc, r.fleet.clients[:half]); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	firstHalf := time.Since(t0)
	sleep(ctx, r.o.idle)
	rssHalf, _ := rssKiB(pid)
	t1 := time.Now()
	if err := r.fleet.connect(ctx, r.o.connectConc, r.fleet.clients[half:]); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	connectDur := firstHalf + time.Since(t1)
	cpu1, _ := cpuTime(pid)
	perf.stop()
	r.logf("%s: %d clients connected in %s", r.kind, r.o.clients, connectDur.Round(time.Millisecond))
	sleep(ctx, r.o.idle)
	rss1, _ := rssKiB(pid)
	r.res.add("connect all clients (s)", connectDur.Seconds())
	r.res.add("server CPU while connecting (s)", (cpu1 - cpu0).Seconds())
	r.res.add("server RSS before connect (MiB)", float64(rss0)/1024)
	r.res.add("server RSS idle after connect (MiB)", float64(rss1)/1024)
	r.res.add("RSS per idle screen (KiB)", float64(rss1-rss0)/float64(r.o.clients))
	if n := len(r.fleet.clients) - half; n > 0 {
		r.res.add("RSS per screen, 2nd half (KiB)", float64(rss1-rssHalf)/float64(n))
	}
	if isOurs(r.kind) { // where the memory is, from the server's own /metrics
		if m, err := r.api.metrics(ctx); err != nil {
			r.logf("metrics: %v", err)
		} else {
			r.res.add("server goroutines, idle", m["go_goroutines"])
			r.res.add("goroutine stacks per screen (KiB)", m["go_memstats_stack_inuse_bytes"]/1024/float64(r.o.clients))
			r.res.add("heap in use per screen (KiB)", (m["go_memstats_heap_inuse_bytes"]-heap0)/1024/float64(r.o.clients))
		}
	}

	return nil
}

func (r *runner) teardown() {
	if r.fleet != nil {
		r.fleet.close()
	}
	if r.srv != nil {
		if err := r.srv.stop(20 * time.Second); err != nil {
			r.logf("%s: %v", r.kind, err)
		}
	}
}

// phaseResult is the outcome of one batch of edits.
type phaseResult struct {
	edits, failed               int
	deliveries, missing         int64
	p50, p90, p99, max          float64 // ms
	perSec                      float64
	serverCPU, selfCPU, elapsed time.Duration
	rttP50, rttP99              float64 // ms
	stray                       int64
	backlogs                    float64 // ours: screens whose socket was full
	pings                       []time.Duration
	// What the percentiles are of (sorted, nanoseconds), and the time from the first edit
	// sent to the last delivery: for merging phases (--interleave).
	lats, rtts []int64
	span       int64
}

// mergePhases is the phases as one: percentiles over all their deliveries, sums otherwise.
func mergePhases(ps []phaseResult) phaseResult {
	var out phaseResult
	for _, p := range ps {
		out.edits += p.edits
		out.failed += p.failed
		out.deliveries += p.deliveries
		out.missing += p.missing
		out.serverCPU += p.serverCPU
		out.selfCPU += p.selfCPU
		out.elapsed += p.elapsed
		out.stray += p.stray
		out.backlogs += p.backlogs
		out.pings = append(out.pings, p.pings...)
		out.lats = append(out.lats, p.lats...)
		out.rtts = append(out.rtts, p.rtts...)
		out.span += p.span
	}
	slices.Sort(out.lats)
	slices.Sort(out.rtts)
	out.percentiles()
	if out.span > 0 {
		out.perSec = float64(out.deliveries) / (float64(out.span) / 1e9)
	}
	return out
}

func (p phaseResult) add(r *result, prefix string) {
	r.add(prefix+"edits committed", float64(p.edits))
	if p.failed > 0 {
		r.add(prefix+"edits failed", float64(p.failed))
	}
	r.add(prefix+"delivery p50 (ms)", p.p50)
	r.add(prefix+"delivery p90 (ms)", p.p90)
	r.add(prefix+"delivery p99 (ms)", p.p99)
	r.add(prefix+"delivery max (ms)", p.max)
	r.addHigher(prefix+"deliveries/s", p.perSec)
	r.add(prefix+"deliveries missing", float64(p.missing))
	r.add(prefix+"PATCH round trip p50 (ms)", p.rttP50)
	r.add(prefix+"PATCH round trip p99 (ms)", p.rttP99)
	r.add(prefix+"server CPU (s)", p.serverCPU.Seconds())
	if p.deliveries > 0 {
		r.add(prefix+"server CPU per 1000 deliveries (ms)", float64(p.serverCPU.Microseconds())/float64(p.deliveries))
	}
	r.add(prefix+"loadgen CPU (s)", p.selfCPU.Seconds())
	r.add(prefix+"pings to each screen", float64(len(p.pings)))
	if p.backlogs > 0 {
		r.add(prefix+"screens backlogged (full socket)", p.backlogs)
	}
}

// dump appends every delivery of the phase to the --dump file as CSV: target, run, the
// edit's revision, the client, its source address's index, milliseconds from the PATCH, the
// PATCH's round trip and when it was sent from the start of the phase, in milliseconds.
func (r *runner) dump(rec *recorder, edits []edit) error {
	f, err := os.OpenFile(r.o.dump, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, e := range edits {
		if e.err != nil || e.rev == 0 {
			continue
		}
		sent := int64(e.sent.Sub(rec.t0))
		for idx, at := range rec.rows[e.rev-rec.base-1] {
			if at != 0 {
				fmt.Fprintf(w, "%s,%d,%d,%d,%d,%.3f,%.3f,%.1f\n", r.kind, r.round, e.rev, idx, idx/r.o.perAddr,
					float64(at-sent)/1e6, float64(e.rtt)/1e6, float64(sent)/1e6)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// phase sends the mode's edits and measures, for each, when every client in stats read it;
// wantMask says which clients must read every edit before the phase ends.
func (r *runner) phase(ctx context.Context, mode string, n int, wantMask, stats []bool) (phaseResult, error) {
	var out phaseResult
	m, err := r.api.meta(ctx)
	if err != nil {
		return out, err
	}
	base := m.Rev
	rec := newRecorder(base, n, len(r.fleet.clients), wantMask)
	r.ed.newPhase()
	r.fleet.rec.Store(rec)
	pid := r.srv.pid()
	var perf *perfRecorder
	if r.o.perf != "" && r.o.perfPhase == "edits" {
		if perf, err = startPerf(r.profilePath(r.o.perf), pid); err != nil {
			r.logf("perf: %v", err)
		}
	}
	var backlogs0 float64
	if isOurs(r.kind) {
		if m, err := r.api.metrics(ctx); err == nil {
			backlogs0 = m["projectboard_screen_backlogs_total"]
		}
	}
	profiles := r.startProfiles(ctx)
	cpu0, _ := cpuTime(pid)
	self0 := selfCPU()
	t0 := time.Now()
	edits := make([]edit, n)
	r.logf("%s: %s: %d edits", r.kind, mode, n)

	var waitErr error
	switch mode {
	case "single":
		for i := 0; i < n && ctx.Err() == nil; i++ {
			edits[i] = r.ed.edit(ctx)
			if edits[i].err != nil {
				continue
			}
			// Nothing else edits, so the ith edit is revision base+i+1 (resolve checks it).
			if err := rec.wait(base+uint64(i)+1, r.o.wait); err != nil {
				waitErr = err
				break
			}
		}
	case "burst", "rate":
		var next atomic.Int64
		var wg sync.WaitGroup
		var tick *time.Ticker
		if mode == "rate" {
			tick = time.NewTicker(time.Duration(float64(time.Second) / r.o.rate))
			defer tick.Stop()
		}
		sem := make(chan struct{}, r.o.editors)
		for i := 0; i < n && ctx.Err() == nil; i++ {
			if tick != nil {
				if i > 0 {
					<-tick.C
				}
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				j := next.Add(1) - 1
				edits[j] = r.ed.edit(ctx)
				<-sem
			}()
		}
		wg.Wait()
	}
	committed := 0
	for _, e := range edits {
		if e.err == nil && !e.sent.IsZero() {
			committed++
		} else if e.err != nil {
			out.failed++
			if out.failed == 1 {
				r.logf("%s: edit failed: %v", r.kind, e.err)
			}
		}
	}
	out.edits = committed
	// Every committed revision must reach every wanted client.
	deadline := time.Now().Add(r.o.wait)
	for i := 1; i <= committed && waitErr == nil; i++ {
		if err := rec.wait(base+uint64(i), max(time.Until(deadline), time.Millisecond)); err != nil {
			waitErr = err
		}
	}
	out.elapsed = time.Since(t0)
	out.pings = r.fleet.pingsBetween(t0, time.Now())
	if len(out.pings) > 0 {
		r.logf("%s: the screens were pinged during the phase, at %v", r.kind, out.pings)
	}
	cpu1, _ := cpuTime(pid)
	out.serverCPU, out.selfCPU = cpu1-cpu0, selfCPU()-self0
	perf.stop()
	profiles.wait()
	r.fleet.rec.Store(nil)
	out.stray = rec.stray.Load()
	if err := r.ed.resolve(ctx, base, edits); err != nil {
		return out, err
	}
	if mode == "single" {
		for i, e := range edits {
			if e.err == nil && !e.sent.IsZero() && e.rev != base+uint64(i)+1 {
				return out, fmt.Errorf("edit %d got rev %d, want %d: is something else editing?", i, e.rev, base+uint64(i)+1)
			}
		}
	}
	out.compute(rec, edits, stats)
	if isOurs(r.kind) {
		if m, err := r.api.metrics(ctx); err == nil {
			out.backlogs = m["projectboard_screen_backlogs_total"] - backlogs0
		}
	}
	if r.o.dump != "" {
		if err := r.dump(rec, edits); err != nil {
			r.logf("dump: %v", err)
		}
	}
	if waitErr != nil && !errors.Is(waitErr, errMissing) {
		return out, waitErr
	}
	if out.missing > 0 {
		return out, fmt.Errorf("%d deliveries missing (%v)", out.missing, waitErr)
	}
	if out.failed > 0 {
		return out, fmt.Errorf("%d of %d edits failed", out.failed, n)
	}
	return out, nil
}

// compute works out the latency percentiles and rates over the clients in stats (nil: all).
func (p *phaseResult) compute(rec *recorder, edits []edit, stats []bool) {
	var lats []int64
	var rtts []int64
	var first, last int64 = -1, 0
	for _, e := range edits {
		if e.err != nil || e.rev == 0 {
			continue
		}
		rtts = append(rtts, int64(e.rtt))
		sent := int64(e.sent.Sub(rec.t0))
		if first < 0 || sent < first {
			first = sent
		}
		row := rec.rows[e.rev-rec.base-1]
		for idx := range row {
			if stats != nil && !stats[idx] {
				continue // not read: a paused client may still write its own cell
			}
			at := row[idx]
			if at == 0 {
				p.missing++
				continue
			}
			p.deliveries++
			lats = append(lats, at-sent)
			last = max(last, at)
		}
	}
	slices.Sort(lats)
	slices.Sort(rtts)
	p.lats, p.rtts = lats, rtts
	p.percentiles()
	if last > first && first >= 0 {
		p.span = last - first
		p.perSec = float64(p.deliveries) / (float64(p.span) / 1e9)
	}
}

// percentiles reads p50 … max of the sorted latencies and round trips.
func (p *phaseResult) percentiles() {
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	p.p50, p.p90, p.p99 = ms(pct(p.lats, 0.50)), ms(pct(p.lats, 0.90)), ms(pct(p.lats, 0.99))
	if len(p.lats) > 0 {
		p.max = ms(p.lats[len(p.lats)-1])
	}
	p.rttP50, p.rttP99 = ms(pct(p.rtts, 0.50)), ms(pct(p.rtts, 0.99))
}

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// storm restarts the server and times every client's reconnect and resume.
func (r *runner) storm(ctx context.Context) error {
	f := r.fleet
	m, err := r.api.meta(ctx)
	if err != nil {
		return err
	}
	var snaps0 int64
	for _, c := range f.clients {
		snaps0 += c.snapshots.Load()
	}
	f.reconnect.Store(true)
	f.resumedAll = make(chan struct{})
	f.resumed.Store(0)
	f.stormGen.Add(1)
	signal := "SIGTERM"
	oldCPU0, _ := cpuTime(r.srv.pid())
	self0 := selfCPU()
	t0 := time.Now()
	if r.o.restart == "sighup" {
		signal = "SIGHUP"
		r.logf("%s: SIGHUP (upgrade in place)", r.kind)
		oldExited := r.srv.exited
		if _, err := r.srv.upgrade(20 * time.Second); err != nil {
			return err
		}
		ready := time.Since(t0)
		r.logf("%s: new process serving after %s", r.kind, ready.Round(time.Millisecond))
		r.res.add("new process serving after SIGHUP (s)", ready.Seconds())
		defer func() {
			select {
			case <-oldExited:
				r.res.add("old process exit after SIGHUP (s)", r.srv.oldExitAt.Sub(t0).Seconds())
				r.res.add("old process CPU after SIGHUP (s)", (r.srv.oldCPU - oldCPU0).Seconds())
			case <-time.After(20 * time.Second):
				r.logf("%s: the old process is still running 20 s after SIGHUP", r.kind)
			}
		}()
	} else {
		r.logf("%s: SIGTERM", r.kind)
		if err := r.srv.stop(20 * time.Second); err != nil {
			return err
		}
		exited := time.Since(t0)
		var extra []string
		if !isOurs(r.kind) {
			// A baseline keeps nothing: tell it where the sequence was.
			extra = []string{"--rev", fmt.Sprint(m.Rev), "--epoch", m.Epoch}
		}
		if err := r.srv.start(ctx, extra...); err != nil {
			return err
		}
		healthy := time.Since(t0)
		r.logf("%s: old process exited after %s, new one healthy after %s", r.kind, exited.Round(time.Millisecond), healthy.Round(time.Millisecond))
		r.res.add("old process exit after SIGTERM (s)", exited.Seconds())
		r.res.add("new process healthy after SIGTERM (s)", healthy.Seconds())
	}
	var waitErr error
	select {
	case <-f.resumedAll:
	case <-time.After(r.o.wait):
		waitErr = fmt.Errorf("only %d of %d clients reconnected within %s", f.resumed.Load(), len(f.clients), r.o.wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	var times []int64
	for _, c := range f.clients {
		if at := c.helloAt.Load(); at > t0.UnixNano() {
			times = append(times, at-t0.UnixNano())
		}
	}
	slices.Sort(times)
	allBack := float64(0)
	if len(times) > 0 {
		allBack = float64(times[len(times)-1]) / 1e9
	}
	r.res.add("all clients resumed after "+signal+" (s)", allBack)
	if cpu, err := cpuTime(r.srv.pid()); err == nil {
		r.res.add("new process CPU until all resumed (s)", cpu.Seconds())
	}
	r.res.add("loadgen CPU until all resumed (s)", (selfCPU() - self0).Seconds())
	r.res.add("client resume p50 (s)", float64(pct(times, 0.5))/1e9)
	r.res.add("client resume p99 (s)", float64(pct(times, 0.99))/1e9)
	r.res.add("clients resumed", float64(len(times)))
	r.res.add("failed reconnect attempts", float64(f.dialFails.Load()))
	r.res.add("epoch changed", float64(f.epochChanged.Load()))
	if waitErr != nil {
		return waitErr
	}
	// After the storm, one edit must reach everyone: the feed really resumed.
	if r.ed, err = newEditor(ctx, r.api); err != nil {
		return err
	}
	p, err := r.phase(ctx, "single", 1, nil, nil)
	if err == nil {
		r.res.add("first edit after storm p99 (ms)", p.p99)
	}
	sleep(ctx, 500*time.Millisecond)
	var snaps int64
	for _, c := range f.clients {
		snaps += c.snapshots.Load()
	}
	r.res.add("snapshots sent on resume", float64(snaps-snaps0))
	return err
}

// edits is how many edits one phase of the mode makes.
func (r *runner) edits() int {
	if r.o.mode == "rate" {
		return int(r.o.rate * r.o.duration.Seconds())
	}
	return r.o.edits
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
