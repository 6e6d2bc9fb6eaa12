package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/scripts/internal/harness"
	"projectboard/server/feedwire"
	"projectboard/store/etcdlog/etcdtest"
)

// The cluster mode (--cluster): ours as three instances on a three-member etcd cluster, each
// member and instance a process of its own, as scripts/crashtest --cluster starts them. The
// screens are spread evenly over the instances and each reads its snapshot first; then the
// editor sends edits to the instances in turn, and every screen's delivery latency is
// measured as in the single-server modes, per instance and overall. With --kill-instance,
// instance 0 is SIGKILLed after --kill-after while the edits go on (to the survivors from
// then on); each of its screens resumes, with since and epoch, on a survivor — the next in
// turn, as a round-robin proxy would send it — and the time from the kill to its hello and
// to holding the hello's revision is measured. At the end every screen's sequence of
// (revision, project, version) is compared with every other's.

// clusterInstances is how many instances (and etcd members) the mode runs.
const clusterInstances = 3

// resumeBar is the bar for a killed instance's screens.
const resumeBar = 3 * time.Second

// clusterFlags are the flags the cluster mode reads; any other given is refused.
var clusterFlags = []string{"cluster", "kill-instance", "kill-after", "etcdmember", "bin", "clients", "rate",
	"duration", "editors", "per-addr", "connect-conc", "wait", "max-time", "json", "keep", "quiet"}

// clusterOptions checks the flags of --cluster and sets its defaults.
func clusterOptions(f *flag.FlagSet, o *options) error {
	set := map[string]bool{}
	var foreign []string
	f.Visit(func(fl *flag.Flag) {
		set[fl.Name] = true
		if !slices.Contains(clusterFlags, fl.Name) {
			foreign = append(foreign, "--"+fl.Name)
		}
	})
	if len(foreign) > 0 {
		return fmt.Errorf("--cluster does not take %s", strings.Join(foreign, ", "))
	}
	if !set["clients"] {
		o.clients = 3000
	}
	if !set["duration"] {
		o.duration = 30 * time.Second
	}
	switch {
	case o.clients < clusterInstances:
		return fmt.Errorf("--cluster needs at least %d clients", clusterInstances)
	case o.rate < 0 || o.duration <= 0 || o.editors < 1 || o.perAddr < 1 || o.connectConc < 1:
		return errors.New("--rate must not be negative; --duration, --editors, --per-addr and --connect-conc must be positive")
	case o.killInstance && (o.killAfter <= 0 || o.killAfter >= o.duration):
		return errors.New("--kill-after must be positive and shorter than --duration")
	}
	return nil
}

// clusterRun is one run of the cluster mode.
type clusterRun struct {
	o    options
	dir  string
	logf func(string, ...any)

	etcd         *etcdtest.ProcCluster
	inst         []*server
	apis         []*api
	dead         [clusterInstances]atomic.Bool
	displayToken string
	epoch        string

	dialers []*websocket.Dialer
	screens []*screen
	cache   *decodeCache
	t0      time.Time // the screens' and the editor's times are from here
	closing atomic.Bool

	rr        atomic.Uint64 // the survivors' turn for a screen that moves
	dialFails atomic.Int64
}

// nextSurvivor is the next running instance in turn.
func (cl *clusterRun) nextSurvivor() int {
	var alive []int
	for i := range cl.inst {
		if !cl.dead[i].Load() {
			alive = append(alive, i)
		}
	}
	return alive[int(cl.rr.Add(1)-1)%len(alive)]
}

// runCluster is run for --cluster.
func runCluster(ctx context.Context, o options, stdout, stderr io.Writer) error {
	logf, err := prepare(o, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loadgen-cluster-")
	if err != nil {
		return err
	}
	cl := &clusterRun{o: o, dir: dir, logf: logf, cache: newDecodeCache()}
	rep := &report{Mode: "cluster", Clients: o.clients, Started: time.Now(), Repeat: 1, Rate: o.rate,
		Duration: o.duration.String(), Command: commandLine(o.args)}
	res := &result{Target: "ours"}
	err = cl.run(ctx, res, rep)
	cl.teardown()
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	if o.keep || len(res.Errors) > 0 {
		logf("kept %s (instance-N/instance-N.log, etcd/)", dir)
	} else {
		os.RemoveAll(dir)
	}
	rep.Targets, rep.Runs = []*result{res}, [][]*result{{res}}
	if err := writeReport(stdout, o, rep); err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("%d errors (see above)", len(res.Errors))
	}
	return nil
}

// commandLine is the command as it can be typed again.
func commandLine(args []string) string {
	out := []string{"go run ./scripts/loadgen"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t\"'$\\") {
			a = strconv.Quote(a)
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

func (cl *clusterRun) run(ctx context.Context, res *result, rep *report) error {
	o := cl.o
	load0 := loadAverage()
	if err := cl.start(ctx); err != nil {
		return err
	}
	if err := cl.connect(ctx, res); err != nil {
		return err
	}
	ed, err := newClusterEditor(ctx, cl)
	if err != nil {
		return err
	}

	// Edits for --duration; the kill after --kill-after.
	self0 := selfCPU()
	editCtx, stopEdits := context.WithTimeout(ctx, o.duration)
	defer stopEdits()
	editsDone := make(chan struct{})
	edits0 := time.Now()
	go func() { ed.run(editCtx); close(editsDone) }()
	var killAt time.Time
	var loadKill string
	if o.killInstance {
		sleep(editCtx, o.killAfter)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		loadKill = loadAverage()
		cl.logf("SIGKILL instance 0 (%d screens on it)", cl.homeCount(0))
		killAt = time.Now()
		cl.dead[0].Store(true)
		if err := cl.inst[0].kill(); err != nil {
			return err
		}
		cl.waitResumed(ctx, killAt)
	}
	<-editsDone
	editsTook := time.Since(edits0)
	cl.logf("edits stopped: %d acknowledged", len(ed.acked))

	head, err := cl.sameHead(ctx)
	if err != nil {
		return err
	}
	cl.logf("every running instance at rev %d; waiting for every screen", head)
	caught := cl.waitScreens(ctx, head, o.wait)
	selfCPUUsed := selfCPU() - self0
	instCPU := map[int]time.Duration{}
	for i, s := range cl.inst {
		if !cl.dead[i].Load() {
			instCPU[i], _ = cpuTime(s.pid())
		}
	}
	cl.closing.Store(true)
	for _, s := range cl.screens {
		s.close()
	}
	for _, s := range cl.screens {
		select {
		case <-s.gone:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("screen %d's reader did not stop", s.idx)
		}
	}
	loadEnd := loadAverage()

	desc := fmt.Sprintf("%d instances on %d etcd members", clusterInstances, clusterInstances)
	if o.rate > 0 {
		desc += fmt.Sprintf(", %.4g edits/s for %s", o.rate, o.duration)
	} else {
		desc += fmt.Sprintf(", one editor back to back for %s", o.duration)
	}
	if o.killInstance {
		desc += fmt.Sprintf(", instance 0 SIGKILLed after %s", o.killAfter)
	}
	desc += "; load average " + load0
	if loadKill != "" {
		desc += " at the start, " + loadKill + " at the kill, " + loadEnd + " at the end"
	} else {
		desc += " at the start, " + loadEnd + " at the end"
	}
	rep.Cluster = desc
	rep.Edits = len(ed.acked)
	cl.results(res, ed, head, caught, killAt, editsTook)
	res.add("loadgen CPU (s)", selfCPUUsed.Seconds())
	for i := range cl.inst {
		if d, ok := instCPU[i]; ok {
			res.add(fmt.Sprintf("instance %d CPU in all (s)", i), d.Seconds())
		}
	}
	return nil
}

// start starts the etcd members and the instances: the first alone, as it loads the bundled
// data and makes the admin account, then the others; and logs in on the first.
func (cl *clusterRun) start(ctx context.Context) error {
	o := cl.o
	bin := o.bin
	var err error
	if bin == "" {
		cl.logf("building projectboard")
		if bin, err = harness.BuildServer(ctx, cl.dir); err != nil {
			return err
		}
	}
	member := o.etcdMember
	if member == "" {
		cl.logf("building etcdmember")
		if member, err = etcdtest.BuildMember(cl.dir); err != nil {
			return err
		}
	}
	etcdDir := filepath.Join(cl.dir, "etcd")
	if err := mkdir(etcdDir); err != nil {
		return err
	}
	cl.logf("starting %d etcd members", clusterInstances)
	if cl.etcd, err = etcdtest.StartProcs(etcdDir, etcdtest.ProcOptions{Binary: member, Members: clusterInstances}); err != nil {
		return err
	}
	endpoints := strings.Join(cl.etcd.Endpoints(), ",")
	for i := range clusterInstances {
		dir := filepath.Join(cl.dir, fmt.Sprintf("instance-%d", i))
		if err := mkdir(dir); err != nil {
			return err
		}
		port, err := harness.FreePort()
		if err != nil {
			return err
		}
		s := newOurs(fmt.Sprintf("instance-%d", i), bin, dir, port, "")
		s.args = append(s.args, "--etcd-endpoints", endpoints, "--etcd-prefix", "/loadgen/")
		cl.logf("starting instance %d on %s", i, s.addr)
		if err := s.start(ctx); err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
		cl.inst = append(cl.inst, s)
		cl.apis = append(cl.apis, newAPI(s.baseURL()))
	}
	first := cl.apis[0]
	if err := first.login(ctx); err != nil {
		return err
	}
	cl.displayToken = first.displayToken
	for i, a := range cl.apis {
		// A session and tokens made on one instance are good on all.
		a.Cookie, a.apiToken, a.displayToken = first.Cookie, first.apiToken, first.displayToken
		m, err := a.meta(ctx)
		if err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
		if cl.epoch != "" && m.Epoch != cl.epoch {
			return fmt.Errorf("instance %d has epoch %s, instance 0 %s", i, m.Epoch, cl.epoch)
		}
		cl.epoch = m.Epoch
	}
	return nil
}

// connect opens the screens, screen i on instance i mod 3, and waits until each has read its
// hello and snapshot.
func (cl *clusterRun) connect(ctx context.Context, res *result) error {
	o := cl.o
	var err error
	if cl.dialers, err = newDialers(o.clients, o.perAddr); err != nil {
		return err
	}
	for i := range o.clients {
		s := &screen{idx: i, home: i % clusterInstances, cl: cl, to: -1,
			connected: make(chan struct{}), gone: make(chan struct{})}
		if i < clusterInstances {
			s.full = &feedwire.State{}
		}
		cl.screens = append(cl.screens, s)
	}
	cl.t0 = time.Now()
	cl.logf("connecting %d screens, %d on each instance", o.clients, o.clients/clusterInstances)
	sem := make(chan struct{}, o.connectConc)
	errc := make(chan error, 1)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	var wg sync.WaitGroup
	for _, s := range cl.screens {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for attempt := range 5 {
				if err = s.dial(ctx, s.home); err == nil {
					break
				}
				time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
			}
			if err != nil {
				report(fmt.Errorf("screen %d: %w", s.idx, err))
				close(s.gone)
				return
			}
			go s.read()
			select {
			case <-s.connected:
			case <-s.gone:
				report(fmt.Errorf("screen %d: %v", s.idx, s.dead))
			case <-ctx.Done():
			}
		}()
	}
	wg.Wait()
	took := time.Since(cl.t0)
	select {
	case err := <-errc:
		return err
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	cl.logf("%d screens connected in %s", o.clients, took.Round(time.Millisecond))
	res.add("screens per instance", float64(o.clients/clusterInstances))
	res.add("connect all screens (s)", took.Seconds())
	return nil
}

// homeCount is how many screens connected to instance i first.
func (cl *clusterRun) homeCount(i int) int {
	n := 0
	for _, s := range cl.screens {
		if s.home == i {
			n++
		}
	}
	return n
}

// waitResumed waits until every screen of the killed instance holds its new instance's
// head, or --wait has passed.
func (cl *clusterRun) waitResumed(ctx context.Context, killAt time.Time) {
	deadline := killAt.Add(cl.o.wait)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		n := 0
		for _, s := range cl.screens {
			if s.home == 0 && s.caughtAt.Load() == 0 {
				n++
			}
		}
		if n == 0 {
			cl.logf("every screen of instance 0 resumed and caught up after %s", time.Since(killAt).Round(time.Millisecond))
			return
		}
		sleep(ctx, 10*time.Millisecond)
	}
	cl.logf("not every screen of instance 0 resumed within %s", cl.o.wait)
}

// sameHead waits until the running instances report the same revision and returns it.
func (cl *clusterRun) sameHead(ctx context.Context) (uint64, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var revs []uint64
		for i, a := range cl.apis {
			if cl.dead[i].Load() {
				continue
			}
			m, err := a.meta(ctx)
			if err != nil {
				return 0, fmt.Errorf("instance %d: %w", i, err)
			}
			revs = append(revs, m.Rev)
		}
		if slices.Min(revs) == slices.Max(revs) {
			return revs[0], nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the instances report revisions %v after 20 s", revs)
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// waitScreens waits until every screen holds rev head, or limit; it returns how many do.
func (cl *clusterRun) waitScreens(ctx context.Context, head uint64, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		n := 0
		for _, s := range cl.screens {
			if s.lastRev.Load() >= head {
				n++
			}
		}
		if n == len(cl.screens) || time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		sleep(ctx, 10*time.Millisecond)
	}
}

func (cl *clusterRun) teardown() {
	cl.closing.Store(true)
	for _, s := range cl.screens {
		s.close()
	}
	for i, s := range cl.inst {
		if cl.dead[i].Load() {
			continue
		}
		if err := s.stop(20 * time.Second); err != nil {
			cl.logf("instance %d: %v", i, err)
		}
	}
	if cl.etcd != nil {
		cl.etcd.Close()
	}
}

// loadAverage is /proc/loadavg's three figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// ackedEdit is an edit an instance answered 200: the project's new version, when it was
// sent (after t0) and its round trip.
type ackedEdit struct {
	projectID string
	version   uint64
	sent, rtt time.Duration
	inst      int
}

// clusterEditor sends PATCHes of the projects' progress in turn, each to the next running
// instance. An edit without an answer (its instance was killed) may or may not have
// committed: the project is read again before its next edit.
type clusterEditor struct {
	cl       *clusterRun
	projects []*project
	unsure   sync.Map // *project → true: read it again before editing
	next     atomic.Int64
	nextInst atomic.Uint64

	mu                 sync.Mutex
	acked              []ackedEdit
	failed, refused412 int
	firstErr           string
}

func newClusterEditor(ctx context.Context, cl *clusterRun) (*clusterEditor, error) {
	e, err := newEditor(ctx, cl.apis[0])
	if err != nil {
		return nil, err
	}
	return &clusterEditor{cl: cl, projects: e.projects}, nil
}

// run edits until ctx ends: at --rate edits/s with up to --editors in flight, or with
// --rate 0 one edit after the other.
func (e *clusterEditor) run(ctx context.Context) {
	o := e.cl.o
	if o.rate == 0 {
		for ctx.Err() == nil {
			e.edit(ctx)
		}
		return
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	sem := make(chan struct{}, o.editors)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An edit sent is waited for even when the edits' time is up.
			e.edit(context.WithoutCancel(ctx))
			<-sem
		}()
	}
}

// instance is the next running instance in turn.
func (e *clusterEditor) instance() int {
	for {
		i := int(e.nextInst.Add(1)-1) % clusterInstances
		if !e.cl.dead[i].Load() {
			return i
		}
	}
}

func (e *clusterEditor) edit(ctx context.Context) {
	cl := e.cl
	p := e.projects[int(e.next.Add(1)-1)%len(e.projects)]
	p.mu.Lock()
	defer p.mu.Unlock()
	i := e.instance()
	a := cl.apis[i]
	if _, ok := e.unsure.Load(p); ok {
		var cur project
		if _, err := a.do(ctx, "GET", "/api/projects/"+p.ID, nil, nil, &cur); err != nil {
			e.failure(0, fmt.Errorf("instance %d: %w", i, err))
			return
		}
		p.Version, p.Progress = cur.Version, cur.Progress
		e.unsure.Delete(p)
	}
	progress := p.Progress + 1
	if progress > 99 {
		progress = p.Progress - 1
	}
	var out project
	sent := time.Now()
	status, err := a.do(ctx, "PATCH", "/api/projects/"+p.ID, map[string]int{"progress": progress},
		map[string]string{"If-Match": `"` + strconv.FormatInt(p.Version, 10) + `"`}, &out)
	rtt := time.Since(sent)
	if err != nil {
		e.unsure.Store(p, true)
		e.failure(status, fmt.Errorf("instance %d: %w", i, err))
		return
	}
	p.Version, p.Progress = out.Version, out.Progress
	e.mu.Lock()
	e.acked = append(e.acked, ackedEdit{projectID: p.ID, version: uint64(out.Version), sent: sent.Sub(cl.t0), rtt: rtt, inst: i})
	e.mu.Unlock()
}

func (e *clusterEditor) failure(status int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if status == 412 {
		e.refused412++
		return
	}
	e.failed++
	if e.firstErr == "" {
		e.firstErr = err.Error()
	}
}

// results works out the figures and the checks' findings.
func (cl *clusterRun) results(res *result, ed *clusterEditor, head uint64, caught int, killAt time.Time, editsTook time.Duration) {
	ed.mu.Lock()
	defer ed.mu.Unlock()
	fail := func(format string, a ...any) { res.Errors = append(res.Errors, fmt.Sprintf(format, a...)) }
	res.add("edits acknowledged", float64(len(ed.acked)))
	res.add("edits/s acknowledged", float64(len(ed.acked))/editsTook.Seconds())
	res.add("edits of unknown outcome (no answer, 503)", float64(ed.failed))
	res.add("edits refused 412 (after one of unknown outcome)", float64(ed.refused412))
	if ed.firstErr != "" {
		cl.logf("first edit of unknown outcome: %s", ed.firstErr)
	}
	var rtts []int64
	for _, a := range ed.acked {
		rtts = append(rtts, int64(a.rtt))
	}
	slices.Sort(rtts)
	res.add("PATCH round trip p50 (ms)", float64(pct(rtts, 0.5))/1e6)
	res.add("PATCH round trip p99 (ms)", float64(pct(rtts, 0.99))/1e6)

	// Each acknowledged edit's revision, from what the screens read.
	type pv struct {
		id string
		v  uint64
	}
	revOf := map[pv]uint64{}
	for _, en := range cl.cache.entries {
		revOf[pv{en.projectID, en.version}] = en.rev
	}
	var all, live []int64
	perInst := make([][]int64, clusterInstances)
	notRead := 0
	for _, a := range ed.acked {
		rev, ok := revOf[pv{a.projectID, a.version}]
		if !ok {
			notRead++
			continue
		}
		for _, s := range cl.screens {
			if rev <= s.base || rev-s.base > uint64(len(s.ids)) || s.ids[rev-s.base-1] < 0 {
				continue // counted as missing below
			}
			lat := s.at[rev-s.base-1] - int64(a.sent)
			inst := s.home
			replayed := false
			if s.moved && rev > s.since {
				inst = s.to
				replayed = rev <= s.helloRev
			}
			all = append(all, lat)
			if !replayed {
				live = append(live, lat)
			}
			if inst >= 0 {
				perInst[inst] = append(perInst[inst], lat)
			}
		}
	}
	if notRead > 0 {
		fail("%d acknowledged edits were read by no screen", notRead)
	}
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	for _, l := range append([][]int64{all, live}, perInst...) {
		slices.Sort(l)
	}
	res.add("deliveries", float64(len(all)))
	res.add("delivery p50 (ms)", ms(pct(all, 0.5)))
	res.add("delivery p90 (ms)", ms(pct(all, 0.9)))
	res.add("delivery p99 (ms)", ms(pct(all, 0.99)))
	if len(all) > 0 {
		res.add("delivery max (ms)", ms(all[len(all)-1]))
	}
	if len(live) < len(all) {
		res.add("delivery p99 without resume replays (ms)", ms(pct(live, 0.99)))
	}
	for i, l := range perInst {
		res.add(fmt.Sprintf("instance %d: deliveries", i), float64(len(l)))
		res.add(fmt.Sprintf("instance %d: delivery p50 (ms)", i), ms(pct(l, 0.5)))
		res.add(fmt.Sprintf("instance %d: delivery p99 (ms)", i), ms(pct(l, 0.99)))
	}

	// Missing deliveries and the sequences.
	var missing, gaps, repeats, mismatches, snapshots, reconnects, deadScreens int
	from := uint64(0)
	for _, s := range cl.screens {
		missing += s.missing(head)
		gaps += s.gaps
		repeats += s.repeats
		mismatches += s.mismatches
		snapshots += s.snapshots
		if !s.moved {
			reconnects += s.reconnects
		}
		if s.dead != nil {
			deadScreens++
			if deadScreens == 1 {
				fail("screen %d stopped: %v", s.idx, s.dead)
			}
		}
		from = max(from, s.base+1)
	}
	res.add("screens holding the head at the end", float64(caught))
	res.add("deliveries missing", float64(missing))
	revs, differ, first := sequenceCheck(cl.screens, cl.cache.entries, from, head)
	res.add("revisions compared on every screen", float64(revs))
	res.add("screen-revisions differing", float64(differ))
	res.add("gaps", float64(gaps))
	res.add("revisions read twice", float64(repeats))
	res.add("patches on another version", float64(mismatches))
	res.add("snapshots after the first", float64(snapshots))
	res.add("reconnects not caused by the kill", float64(reconnects))
	if caught < len(cl.screens) {
		fail("%d of %d screens do not hold rev %d %s after the edits", len(cl.screens)-caught, len(cl.screens), head, cl.o.wait)
	}
	if missing > 0 {
		fail("%d deliveries missing", missing)
	}
	if differ > 0 {
		fail("the screens' sequences differ at %d screen-revisions; first: %s", differ, first)
	}
	if gaps+repeats+mismatches+snapshots > 0 {
		fail("%d gaps, %d revisions read twice, %d patches on another version, %d snapshots after the first", gaps, repeats, mismatches, snapshots)
	}
	for _, s := range cl.screens {
		for _, e := range s.errs {
			cl.logf("screen %d: %s", s.idx, e)
		}
	}
	cl.wholeBoards(res, fail)

	if killAt.IsZero() {
		return
	}
	var hello, caughtUp []int64
	var notResumed, slow, resumeSnaps int
	movedTo := make([]int, clusterInstances)
	for _, s := range cl.screens {
		if s.home != 0 {
			continue
		}
		h, c := s.helloAt.Load(), s.caughtAt.Load()
		if !s.moved || h == 0 || c == 0 {
			notResumed++
			continue
		}
		hello = append(hello, h-killAt.UnixNano())
		caughtUp = append(caughtUp, c-killAt.UnixNano())
		if time.Duration(c-killAt.UnixNano()) > resumeBar {
			slow++
		}
		if s.resumeSnap {
			resumeSnaps++
		}
		if s.to >= 0 {
			movedTo[s.to]++
		}
	}
	slices.Sort(hello)
	slices.Sort(caughtUp)
	sec := func(v int64) float64 { return float64(v) / 1e9 }
	res.add("killed instance's screens", float64(cl.homeCount(0)))
	res.add("… resumed on instance 1", float64(movedTo[1]))
	res.add("… resumed on instance 2", float64(movedTo[2]))
	res.add("… not resumed", float64(notResumed))
	res.add("kill → hello p50 (s)", sec(pct(hello, 0.5)))
	res.add("kill → hello p99 (s)", sec(pct(hello, 0.99)))
	if len(hello) > 0 {
		res.add("kill → hello max (s)", sec(hello[len(hello)-1]))
	}
	res.add("kill → caught up p50 (s)", sec(pct(caughtUp, 0.5)))
	res.add("kill → caught up p99 (s)", sec(pct(caughtUp, 0.99)))
	if len(caughtUp) > 0 {
		res.add("kill → caught up max (s)", sec(caughtUp[len(caughtUp)-1]))
	}
	res.add("caught up later than 3 s", float64(slow))
	res.add("resumes with a snapshot", float64(resumeSnaps))
	res.add("failed reconnect attempts", float64(cl.dialFails.Load()))
	firstAfter := int64(-1)
	for _, a := range ed.acked {
		if d := int64(a.sent) - int64(killAt.Sub(cl.t0)); d >= 0 && (firstAfter < 0 || int64(a.sent+a.rtt)-int64(killAt.Sub(cl.t0)) < firstAfter) {
			firstAfter = int64(a.sent+a.rtt) - int64(killAt.Sub(cl.t0))
		}
	}
	if firstAfter >= 0 {
		res.add("kill → first edit sent after it acknowledged (s)", sec(firstAfter))
	}
	if notResumed > 0 {
		fail("%d of the killed instance's screens did not resume and catch up within %s", notResumed, cl.o.wait)
	}
	if slow > 0 {
		fail("%d screens caught up later than %s after the kill (bar)", slow, resumeBar)
	}
	if resumeSnaps > 0 {
		fail("%d screens got a snapshot on their resume", resumeSnaps)
	}
}

// wholeBoards compares the boards of the screens that applied every message whole: the
// same projects and summary at the end, wherever they read them.
func (cl *clusterRun) wholeBoards(res *result, fail func(string, ...any)) {
	var ref string
	refIdx, compared := -1, 0
	for _, s := range cl.screens {
		if s.full == nil {
			continue
		}
		if s.fullFailed {
			fail("screen %d's whole-board check failed: %v", s.idx, s.errs)
			continue
		}
		b, err := canonicalBoard(s.full)
		if err != nil {
			fail("screen %d: %v", s.idx, err)
			continue
		}
		compared++
		if refIdx < 0 {
			ref, refIdx = b, s.idx
		} else if b != ref {
			fail("screens %d and %d hold different boards at the end (rev %d and %d)", refIdx, s.idx, cl.screens[refIdx].full.Rev, s.full.Rev)
		}
	}
	res.add("whole boards compared (one screen per instance)", float64(compared))
}

// canonicalBoard is a State's projects and summary as JSON with sorted keys, so that a
// project patched on one screen and sent whole to another compare equal.
func canonicalBoard(st *feedwire.State) (string, error) {
	board := map[string]any{"rev": st.Rev}
	projects := map[string]any{}
	for id, raw := range st.Projects {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", err
		}
		projects[id] = v
	}
	board["projects"] = projects
	if len(st.Summary) > 0 {
		var v any
		if err := json.Unmarshal(st.Summary, &v); err != nil {
			return "", err
		}
		board["summary"] = v
	}
	b, err := json.Marshal(board)
	return string(b), err
}
