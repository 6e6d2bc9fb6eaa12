package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"projectboard/scripts/internal/harness"
	"projectboard/store"
	"projectboard/store/etcdlog/etcdtest"
)

// instances is how many projectboard instances the cluster mode runs on the etcd cluster.
const instances = 3

// clusterRun is what --cluster adds to a test: three etcd members and three instances on
// them, the screens (one homed on each instance), and what was measured and checked.
type clusterRun struct {
	etcd *etcdtest.ProcCluster
	inst []*serverProc
	apis []*harness.API // the admin session, one client per instance
	subs []*subscriber
	// gen moves when an instance restarts: editors then go back to their own instance.
	gen atomic.Uint64
	// staleReads counts GETs on another instance than the one that acknowledged the
	// editor's edit that showed an older version (allowed: each view applies on its own).
	staleReads atomic.Int64

	killedInstances, killedMembers, killedLeaders int
	// After a member kill: the first acknowledged edit sent after it, on any instance and
	// on the slowest instance (the first on each, the longest of those).
	resumeLeader, resumeFollower       []time.Duration
	resumeLeaderAll, resumeFollowerAll []time.Duration
	deadFiles                          int // killed instances' files checked while dead
	bboltFailed                        int

	// What the online checks have compared so far: the change log as every instance serves
	// it (identical on all), up to checkedRev.
	changes    []store.Change
	checkedRev uint64
	overlap    int // revisions shown to more than one screen, compared between them
	shownVsLog int // revisions shown to a screen, compared with the served log
	online     onlineResult
	files      int // instances' files checked at the end
}

// runCluster is run for --cluster.
func (t *test) runCluster(ctx context.Context) error {
	if err := t.setupCluster(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "crashtest: cluster, seed %d, %d cycles, %d editors, dir %s\n", t.cfg.seed, t.cfg.cycles, t.cfg.editors, t.dir)

	editorCtx, stopEditors := context.WithCancel(ctx)
	defer stopEditors()
	editorsDone := t.startEditors(editorCtx)
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	subsDone := make(chan struct{}, len(t.cl.subs))
	for _, s := range t.cl.subs {
		go func() { s.run(subCtx); subsDone <- struct{}{} }()
	}
	for cycle := 1; cycle <= t.cfg.cycles; cycle++ {
		if err := t.clusterCycle(ctx, cycle); err != nil {
			return fmt.Errorf("cycle %d: %w", cycle, err)
		}
	}
	t.gate.close()
	stopEditors()
	<-editorsDone
	if err := t.checkOnline(ctx); err != nil {
		return fmt.Errorf("with the editors stopped: %w", err)
	}
	stopSubs()
	for range t.cl.subs {
		<-subsDone
	}
	if v := t.findings.list(); len(v) > 0 {
		return violationError(v)
	}
	for i, p := range t.cl.inst {
		if err := p.stopGracefully(20 * time.Second); err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
	}
	return t.checkFiles()
}

// setupCluster starts the etcd members and the instances (the first alone, as it loads the
// data set and makes the admin account), and makes the tokens on the first.
func (t *test) setupCluster(ctx context.Context) error {
	bin, err := t.makeDir(ctx)
	if err != nil {
		return err
	}
	member, err := etcdtest.BuildMember(t.dir)
	if err != nil {
		return err
	}
	cl := &clusterRun{}
	t.cl = cl
	etcdDir := filepath.Join(t.dir, "etcd")
	if err := os.Mkdir(etcdDir, 0o750); err != nil {
		return err
	}
	if cl.etcd, err = etcdtest.StartProcs(etcdDir, etcdtest.ProcOptions{Binary: member}); err != nil {
		return err
	}
	var endpoints []string
	for _, p := range cl.etcd.Procs() {
		endpoints = append(endpoints, p.ClientURL)
	}
	// The editors' client waits longer than an instance keeps trying without an etcd leader
	// (--etcd-timeout, 5 s), so that the instance, not the client, gives a write up.
	t.client = &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2*t.cfg.editors + 4, DisableCompression: true}}
	t.ledger = newLedger()
	t.gate = newGate()
	var addrs []string
	for i := range instances {
		port, err := harness.FreePort()
		if err != nil {
			return err
		}
		logf, err := os.Create(filepath.Join(t.dir, fmt.Sprintf("instance-%d.log", i)))
		if err != nil {
			return err
		}
		p := &serverProc{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port), log: logf,
			dbPath: filepath.Join(t.dir, fmt.Sprintf("instance-%d.db", i)),
			args: []string{"--etcd-endpoints", strings.Join(endpoints, ","), "--etcd-prefix", "/crashtest/",
				"--etcd-rebase-every", strconv.FormatUint(t.cfg.rebaseEvery, 10)}}
		cl.inst = append(cl.inst, p)
		cl.apis = append(cl.apis, &harness.API{Base: "http://" + p.addr, HTTP: t.client})
		addrs = append(addrs, p.addr)
		if err := p.start(ctx); err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
	}
	t.srv, t.base, t.api = cl.inst[0], cl.apis[0].Base, cl.apis[0]
	if err := t.api.Login(ctx, adminPassword); err != nil {
		return err
	}
	for _, a := range cl.apis {
		a.Cookie = t.api.Cookie // a session made on one instance is good on all
	}
	if t.editorToken, err = t.api.NewToken(ctx, "api", editorTokenName, "editor"); err != nil {
		return fmt.Errorf("api token: %w", err)
	}
	displayToken, err := t.api.NewToken(ctx, "display", "crash-screen", "")
	if err != nil {
		return fmt.Errorf("display token: %w", err)
	}
	for i, a := range cl.apis {
		var meta struct {
			Epoch string `json:"epoch"`
			Rev   uint64 `json:"rev"`
		}
		if _, err := a.Call(ctx, "GET", "/api/meta", "", nil, nil, &meta); err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
		if meta.Epoch == "" || (t.epoch != "" && meta.Epoch != t.epoch) {
			return fmt.Errorf("instance %d reports epoch %q, instance 0 %q", i, meta.Epoch, t.epoch)
		}
		t.epoch = meta.Epoch
	}
	if err := t.listProjects(ctx, "a new cluster"); err != nil {
		return err
	}
	for i := range instances {
		cl.subs = append(cl.subs, newSubscriber(addrs, i, fmt.Sprintf("screen %d", i), displayToken, t.epoch, t.findings))
	}
	t.sub = cl.subs[0]
	return nil
}

// clusterCycle edits for a random moment, SIGKILLs one of the six processes, keeps it dead
// a moment while the editors go on (measuring when writes succeed again after a member
// kill), checks a killed instance's file, restarts the process and checks all instances.
func (t *test) clusterCycle(ctx context.Context, n int) error {
	cl := t.cl
	t.gate.open()
	for _, s := range cl.subs {
		if err := s.waitConnected(ctx, 20*time.Second); err != nil {
			return err
		}
	}
	before := t.ledger.counts()
	edit := time.Duration(200+t.rng.IntN(601)) * time.Millisecond
	if err := sleep(ctx, edit); err != nil {
		return err
	}
	victim := t.rng.IntN(2 * instances) // 0–2 an instance, 3–5 an etcd member
	var what string
	var resumed, resumedAll time.Duration
	var checkTook time.Duration
	if victim < instances {
		i := victim
		what = fmt.Sprintf("instance %d", i)
		if err := cl.inst[i].kill(); err != nil {
			return err
		}
		cl.killedInstances++
		t.killed++
		if err := sleep(ctx, time.Duration(200+t.rng.IntN(801))*time.Millisecond); err != nil {
			return err
		}
		checkStart := time.Now()
		if err := t.checkDeadFile(i); err != nil {
			return fmt.Errorf("instance %d killed: %w", i, err)
		}
		checkTook = time.Since(checkStart)
		if err := cl.inst[i].start(ctx); err != nil {
			return fmt.Errorf("instance %d restart: %w", i, err)
		}
		cl.gen.Add(1)
		// A view is rebuilt from the cluster only when it cannot be opened (a power cut may
		// tear it); a killed process loses nothing of it, so it must be used as it is.
		if aside, _ := filepath.Glob(cl.inst[i].dbPath + ".broken-*"); len(aside) > 0 {
			return fmt.Errorf("instance %d restarted after SIGKILL moved its view aside (%s) and rebuilt it; see %s",
				i, strings.Join(aside, ", "), cl.inst[i].log.Name())
		}
	} else {
		m := victim - instances
		leader := cl.etcd.Leader()
		what = fmt.Sprintf("etcd member %d", m)
		switch leader {
		case m:
			what += " (leader)"
		case -1:
			what += " (leader unknown: the members did not agree within a second)"
		}
		killAt := time.Now()
		cl.etcd.Kill(m)
		cl.killedMembers++
		t.killed++
		// Until every instance has acknowledged an edit sent after the kill.
		var homes []int
		for e := 1; e <= t.cfg.editors; e++ {
			homes = append(homes, e%instances)
		}
		var ok bool
		for deadline := killAt.Add(30 * time.Second); ; {
			resumed, ok = t.ledger.firstAckSentAfter(killAt, -1)
			resumedAll = 0
			for i := range instances {
				if !slices.Contains(homes, i) {
					continue // no editor of its own: none to wait for
				}
				d, iok := t.ledger.firstAckSentAfter(killAt, i)
				ok = ok && iok
				resumedAll = max(resumedAll, d)
			}
			if ok || time.Now().After(deadline) {
				break
			}
			if err := sleep(ctx, 10*time.Millisecond); err != nil {
				return err
			}
		}
		if !ok {
			return fmt.Errorf("30 s after %s was killed, not every instance has acknowledged an edit sent after the kill", what)
		}
		switch leader {
		case m:
			cl.killedLeaders++
			cl.resumeLeader, cl.resumeLeaderAll = append(cl.resumeLeader, resumed), append(cl.resumeLeaderAll, resumedAll)
		case -1: // in neither figure
		default:
			cl.resumeFollower, cl.resumeFollowerAll = append(cl.resumeFollower, resumed), append(cl.resumeFollowerAll, resumedAll)
		}
		if err := sleep(ctx, time.Duration(200+t.rng.IntN(801))*time.Millisecond); err != nil {
			return err
		}
		if err := cl.etcd.Restart(m); err != nil {
			return err
		}
		if _, err := cl.etcd.WaitLeader(30 * time.Second); err != nil {
			return err
		}
	}
	// Keep the editors out, let every request in flight end, and check all instances.
	t.gate.close()
	if err := t.gate.waitIdle(ctx, 30*time.Second); err != nil {
		return err
	}
	if v := t.findings.list(); len(v) > 0 {
		return violationError(v)
	}
	onlineStart := time.Now()
	if err := t.checkOnline(ctx); err != nil {
		return err
	}
	after := t.ledger.counts()
	resumedText := ""
	if victim >= instances {
		resumedText = fmt.Sprintf(", writes again after %dms (on every instance %dms)", resumed.Milliseconds(), resumedAll.Milliseconds())
	}
	fmt.Fprintf(os.Stderr, "cycle %2d/%d: edited %3dms, killed %s%s; rev %6d, +%d acked, +%d unknown (%d 503), +%d 412s; dead file %dms, online check %dms\n",
		n, t.cfg.cycles, edit.Milliseconds(), what, resumedText, cl.checkedRev, after.acked-before.acked, after.unknown-before.unknown,
		after.unavailable-before.unavailable, after.refused412-before.refused412, checkTook.Milliseconds(), time.Since(onlineStart).Milliseconds())
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkDeadFile opens killed instance i's file read-only and checks it as the single-server
// mode checks its file, for what that instance answered: a view may lag the log, so the
// edits other instances acknowledged count as "may or may not be there"; every edit this
// instance acknowledged, and every revision it showed a screen, must be there.
func (t *test) checkDeadFile(i int) error {
	cl := t.cl
	st, err := store.Open(cl.inst[i].dbPath, store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open its file: %w", err)
	}
	defer st.Close()
	attempts := t.ledger.snapshot()
	for k := range attempts {
		if a := &attempts[k]; a.outcome == acked && a.instance != i {
			a.outcome = unknown
		}
	}
	shown, err := t.mergedShown()
	if err != nil {
		return err
	}
	rev := st.Rev()
	for r := range shown.changes {
		if r > rev {
			delete(shown.changes, r)
		}
	}
	for r := range shown.snapshots {
		if r > rev {
			delete(shown.snapshots, r)
		}
	}
	res := checkStore(st, attempts, shown, "token:"+editorTokenName, scope{shownAfter: cl.checkedRev, indexAfter: cl.checkedRev})
	cl.deadFiles++
	for _, s := range cl.subs {
		if up := s.shownUpTo(i); up > rev {
			res.violate("%s was shown rev %d by instance %d, whose file ends at rev %d: shown, then lost", s.name, up, i, rev)
		}
	}
	if slices.ContainsFunc(res.violations, func(v string) bool { return strings.HasPrefix(v, "bbolt consistency check") }) {
		cl.bboltFailed++
	}
	if len(res.violations) > 0 {
		return violationError(res.violations)
	}
	return nil
}

// mergedShown is what all screens were shown, after checking they agree wherever they
// overlap: the same change, with the same project, at every revision two screens were shown.
func (t *test) mergedShown() (shownLog, error) {
	logs := make([]shownLog, len(t.cl.subs))
	for i, s := range t.cl.subs {
		logs[i] = s.shownLog()
	}
	merged, overlap, v := mergeShown(logs)
	t.cl.overlap = overlap
	if len(v) > 0 {
		return merged, violationError(v)
	}
	return merged, nil
}

// mergeShown merges screens' logs; it counts the revisions shown to more than one screen
// and lists where two screens were shown different things.
func mergeShown(logs []shownLog) (shownLog, int, []string) {
	merged := shownLog{changes: map[uint64]shownChange{}, snapshots: map[uint64][]byte{}}
	from := map[uint64]int{}
	overlap := 0
	var v []string
	for i, l := range logs {
		for rev, c := range l.changes {
			old, ok := merged.changes[rev]
			if !ok {
				merged.changes[rev], from[rev] = c, i
				continue
			}
			overlap++
			if string(old.change) != string(c.change) || (old.patch == c.patch && string(old.project) != string(c.project)) {
				v = append(v, fmt.Sprintf("screens %d and %d were shown rev %d differently:\n    %s %s\n    %s %s",
					from[rev], i, rev, old.change, old.project, c.change, c.project))
			}
			if old.patch && !c.patch {
				merged.changes[rev] = c // keep the whole project, which the file check compares fully
			}
		}
		for rev, b := range l.snapshots {
			if old, ok := merged.snapshots[rev]; ok && string(old) != string(b) {
				v = append(v, fmt.Sprintf("screens were shown two different snapshots at rev %d", rev))
			}
			merged.snapshots[rev] = b
		}
	}
	return merged, overlap, v
}

// onlineResult is what the last online check found.
type onlineResult struct {
	rev          uint64
	ackedChecked int
	ackedLost    int
}

// checkOnline waits until every instance serves the same revision and every screen has
// caught up with it, then checks that the instances serve the same change log and projects,
// that the log runs 1..rev, holds every acknowledged edit with its value (and no refused
// one), and that the screens were shown what the log holds.
func (t *test) checkOnline(ctx context.Context) error {
	cl := t.cl
	rev, err := t.waitSameRev(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	for _, s := range cl.subs {
		if err := s.waitCaughtUp(ctx, rev, 30*time.Second); err != nil {
			return err
		}
	}
	var v violationError
	// The changes since the last check, from each instance: the same on all.
	var fresh []store.Change
	for i, a := range cl.apis {
		got, err := fetchChanges(ctx, a, cl.checkedRev)
		if err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
		if i == 0 {
			fresh = got
			continue
		}
		if mustJSON(got) != mustJSON(fresh) {
			v = append(v, fmt.Sprintf("instance %d serves %d changes after rev %d that differ from instance 0's %d: %s",
				i, len(got), cl.checkedRev, len(fresh), firstDiff(got, fresh)))
		}
	}
	changes := append(slices.Clip(cl.changes), fresh...)
	var projects []store.Project
	for i, a := range cl.apis {
		var list struct {
			Rev      uint64          `json:"rev"`
			Projects []store.Project `json:"projects"`
		}
		if _, err := a.Call(ctx, "GET", "/api/projects", "", nil, nil, &list); err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
		if list.Rev != rev {
			v = append(v, fmt.Sprintf("instance %d serves its projects at rev %d, want %d", i, list.Rev, rev))
		}
		if i == 0 {
			projects = list.Projects
		} else if mustJSON(list.Projects) != mustJSON(projects) {
			v = append(v, fmt.Sprintf("instance %d serves projects that differ from instance 0's at rev %d", i, rev))
		}
	}
	res := checkChanges(changes, projects, t.ledger.snapshot(), "token:"+editorTokenName)
	v = append(v, res.violations...)
	if uint64(len(changes)) != rev {
		v = append(v, fmt.Sprintf("the instances are at rev %d but serve %d changes", rev, len(changes)))
	}
	// The screens agree with each other and with the log.
	shown, err := t.mergedShown()
	if err != nil {
		v = append(v, err.(violationError)...)
	}
	for r, c := range shown.changes {
		if r <= cl.checkedRev {
			continue
		}
		if r > uint64(len(changes)) {
			v = append(v, fmt.Sprintf("a screen was shown rev %d, but the instances serve up to %d", r, len(changes)))
			continue
		}
		if want := mustJSON(changes[r-1]); string(c.change) != want {
			v = append(v, fmt.Sprintf("a screen was shown rev %d as\n    %s\n  the instances serve\n    %s", r, c.change, want))
			continue
		}
		cl.shownVsLog++
	}
	v = append(v, t.findings.list()...)
	if len(v) > 0 {
		return v
	}
	cl.changes, cl.checkedRev = changes, rev
	cl.online = onlineResult{rev: rev, ackedChecked: res.ackedChecked, ackedLost: res.ackedLost}
	return nil
}

// waitSameRev polls every instance's /api/meta until all report the same epoch and revision.
func (t *test) waitSameRev(ctx context.Context, limit time.Duration) (uint64, error) {
	deadline := time.Now().Add(limit)
	for {
		revs := make([]uint64, len(t.cl.apis))
		same := true
		for i, a := range t.cl.apis {
			var meta struct {
				Epoch string `json:"epoch"`
				Rev   uint64 `json:"rev"`
			}
			if _, err := a.Call(ctx, "GET", "/api/meta", "", nil, nil, &meta); err != nil {
				return 0, fmt.Errorf("instance %d: %w", i, err)
			}
			if meta.Epoch != t.epoch {
				return 0, fmt.Errorf("instance %d reports epoch %s, the cluster's is %s", i, meta.Epoch, t.epoch)
			}
			revs[i] = meta.Rev
			same = same && meta.Rev == revs[0]
		}
		if same {
			if revs[0] < t.cl.checkedRev {
				return 0, fmt.Errorf("the instances are at rev %d, below the %d checked before", revs[0], t.cl.checkedRev)
			}
			return revs[0], nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the instances are at revs %v %v after the editors stopped", revs, limit)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// fetchChanges reads GET /api/changes after since, page by page.
func fetchChanges(ctx context.Context, a *harness.API, since uint64) ([]store.Change, error) {
	var out []store.Change
	for {
		var page struct {
			Changes []store.Change `json:"changes"`
		}
		if _, err := a.Call(ctx, "GET", fmt.Sprintf("/api/changes?since=%d&limit=1000", since), "", nil, nil, &page); err != nil {
			return nil, err
		}
		if len(page.Changes) == 0 {
			return out, nil
		}
		out = append(out, page.Changes...)
		since += uint64(len(page.Changes))
	}
}

// firstDiff describes the first change where a and b differ.
func firstDiff(a, b []store.Change) string {
	for i := range min(len(a), len(b)) {
		if x, y := mustJSON(a[i]), mustJSON(b[i]); x != y {
			return fmt.Sprintf("\n    %s\n  against\n    %s", x, y)
		}
	}
	return "one is a prefix of the other"
}

// checkChanges checks a change log as the instances serve it against what the editors were
// told: revisions 1..len; every acknowledged edit there once, with its field and value, by
// the editors; no refused or never-sent edit; every editors' change an edit that was sent;
// and each project holds the last acknowledged value of each field unless a later change set
// that field again. (Versions are not in a change: the files' check at the end covers them.)
func checkChanges(changes []store.Change, projects []store.Project, attempts []attempt, editorName string) checkResult {
	var r checkResult
	for i := range changes {
		if changes[i].Rev != uint64(i+1) {
			r.violate("change log position %d holds rev %d, want %d (gap or repeat)", i+1, changes[i].Rev, i+1)
			break
		}
	}
	byComment := map[string]*store.Change{}
	for i := range changes {
		c := &changes[i]
		if c.By == editorName && c.Kind == store.ChangeUpdate {
			if prev := byComment[c.Comment]; prev != nil {
				r.violate("edit %q is in the log twice: revs %d and %d", c.Comment, prev.Rev, c.Rev)
			}
			byComment[c.Comment] = c
		}
	}
	sent := map[string]*attempt{}
	lastAck := map[string]*store.Change{} // "project/field" → the acknowledged edit's change of the highest rev
	lastAt := map[string]*attempt{}
	for i := range attempts {
		a := &attempts[i]
		sent[a.id] = a
		c := byComment[a.id]
		switch a.outcome {
		case acked:
			r.ackedChecked++
			if c == nil {
				r.ackedLost++
				r.violate("LOST: edit %s (PATCH %s If-Match %d {%s: %v}, instance %d) was answered 200 with version %d but is not in the log",
					a.id, a.project, a.ifMatch, a.field, a.value, a.instance, a.version)
				continue
			}
			k := a.project + "/" + a.field
			if l := lastAck[k]; l == nil || c.Rev > l.Rev {
				lastAck[k], lastAt[k] = c, a
			}
		case refused, notSent:
			if c != nil {
				r.violate("edit %s (%s) is in the log at rev %d", a.id, a.outcome, c.Rev)
			}
		case unknown, pending:
			if c != nil {
				r.unknownLanded++
				if a.why == "status 503" {
					r.unavailableLanded++
				}
			}
		}
	}
	for id, c := range byComment {
		a := sent[id]
		if a == nil {
			r.violate("rev %d by the editors has comment %q, which no editor sent", c.Rev, id)
			continue
		}
		fc, ok := c.Fields[a.field]
		if c.ProjectID != a.project || !ok || fc.To != a.value {
			r.violate("rev %d is not edit %s (PATCH %s {%s: %v}): it changed %s %s", c.Rev, a.id, a.project, a.field, a.value,
				c.ProjectID, mustJSON(c.Fields))
		}
	}
	byID := map[string]*store.Project{}
	for i := range projects {
		byID[projects[i].ID] = &projects[i]
	}
	for k, c := range lastAck {
		a := lastAt[k]
		p := byID[a.project]
		if p == nil {
			continue
		}
		overwritten := false
		for _, later := range changes {
			if _, ok := later.Fields[a.field]; ok && later.ProjectID == a.project && later.Rev > c.Rev {
				overwritten = true
				break
			}
		}
		if got := fieldValue(p, a.field); !overwritten && got != a.value {
			r.violate("%s is %v, but the last acknowledged edit %s set it to %v and no later change touched it", k, got, a.id, a.value)
		}
	}
	return r
}

// checkFiles opens every stopped instance's file read-only, runs the whole file check on each
// with everything acknowledged and shown, and checks the three files hold the same log and
// projects as the instances served.
func (t *test) checkFiles() error {
	cl := t.cl
	shown, err := t.mergedShown()
	if err != nil {
		return err
	}
	attempts := t.ledger.snapshot()
	var v violationError
	var first struct {
		changes, projects string
		rev               uint64
	}
	for i, p := range cl.inst {
		st, err := store.Open(p.dbPath, store.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("instance %d's file: %w", i, err)
		}
		res := checkStore(st, attempts, shown, "token:"+editorTokenName, scope{})
		changes, err := st.Changes(0, math.MaxInt32)
		projects, rev := st.Projects()
		epoch := st.Epoch()
		st.Close()
		if err != nil {
			return fmt.Errorf("instance %d's file: %w", i, err)
		}
		t.checks++
		cl.files++
		for _, s := range res.violations {
			v = append(v, fmt.Sprintf("instance %d's file: %s", i, s))
			if strings.HasPrefix(s, "bbolt consistency check") {
				cl.bboltFailed++
			}
		}
		if epoch != t.epoch {
			v = append(v, fmt.Sprintf("instance %d's file has epoch %s, the cluster's is %s", i, epoch, t.epoch))
		}
		cj, pj := mustJSON(changes), mustJSON(projects)
		if i == 0 {
			first.changes, first.projects, first.rev = cj, pj, rev
			t.last = res
			if cj != mustJSON(cl.changes) {
				v = append(v, fmt.Sprintf("instance 0's file holds %d changes that differ from the %d the instances served: %s",
					len(changes), len(cl.changes), firstDiff(changes, cl.changes)))
			}
		} else if cj != first.changes || pj != first.projects || rev != first.rev {
			v = append(v, fmt.Sprintf("instance %d's file (rev %d) differs from instance 0's (rev %d)", i, rev, first.rev))
		}
	}
	if len(v) > 0 {
		return v
	}
	return nil
}

// cleanupCluster kills what is still running and removes the directory unless kept.
func (t *test) cleanupCluster(failed bool) {
	cl := t.cl
	if cl != nil {
		for _, p := range cl.inst {
			_ = p.kill()
			p.closeLog()
		}
		if cl.etcd != nil {
			cl.etcd.Close()
		}
	}
	if t.dir == "" {
		return
	}
	if t.cfg.keep || failed {
		fmt.Fprintf(os.Stderr, "crashtest: kept %s (instance-N.db and instance-N.log, etcd/ with each member's data and log)\n", t.dir)
		return
	}
	_ = os.RemoveAll(t.dir)
}

func (t *test) printClusterSummary(err error) {
	cl := t.cl
	if cl == nil {
		cl = &clusterRun{}
	}
	c := t.ledger.countsOrZero()
	w := os.Stdout
	result := "PASS"
	if err != nil {
		w, result = os.Stderr, "FAIL"
	}
	var rc resumeCounts
	for _, s := range cl.subs {
		r := s.resumeCounts()
		rc.total += r.total
		rc.moved += r.moved
		rc.replayed += r.replayed
		rc.snapshot += r.snapshot
		rc.behind += r.behind
	}
	fmt.Fprintf(w, "\ncrashtest --cluster %s  (seed %d)\n", result, t.cfg.seed)
	fmt.Fprintf(w, "  kill cycles (SIGKILL)             %d of %d: %d instances, %d etcd members of which %d leaders\n",
		t.killed, t.cfg.cycles, cl.killedInstances, cl.killedMembers, cl.killedLeaders)
	fmt.Fprintf(w, "  writes again after a leader kill  on one instance %s; on every instance %s (bar: 3 s)\n",
		durations(cl.resumeLeader), durations(cl.resumeLeaderAll))
	fmt.Fprintf(w, "  … after a follower kill           on one instance %s; on every instance %s\n",
		durations(cl.resumeFollower), durations(cl.resumeFollowerAll))
	fmt.Fprintf(w, "  acknowledged edits checked        %d (progress %d, note %d): in the log every instance serves after every cycle, in each of the %d files at the end\n",
		cl.online.ackedChecked, c.ackedProgress, c.ackedNote, cl.files)
	fmt.Fprintf(w, "  acknowledged edits lost           %d\n", cl.online.ackedLost+t.last.ackedLost)
	fmt.Fprintf(w, "  unknown-outcome edits             %d, of which %d landed; answered 503: %d, of which %d landed\n",
		c.unknown, t.last.unknownLanded, c.unavailable, t.last.unavailableLanded)
	fmt.Fprintf(w, "  refused at connect (never sent)   %d, none may land\n", c.notSent)
	fmt.Fprintf(w, "  412 version mismatches            %d\n", c.refused412)
	fmt.Fprintf(w, "  reads older than an ack elsewhere %d (a GET on another instance than the one that answered 200)\n", cl.staleReads.Load())
	fmt.Fprintf(w, "  killed instances' files checked   %d, while dead\n", cl.deadFiles)
	fmt.Fprintf(w, "  screens' resumes                  %d (%d on another instance): %d without a snapshot, %d with one; %d on an instance behind the screen\n",
		rc.total, rc.moved, rc.replayed, rc.snapshot, rc.behind)
	fmt.Fprintf(w, "  screens' sequences                identical: %d revisions also shown to another screen compared; %d revisions compared with the served log, %d with the files\n",
		cl.overlap, cl.shownVsLog, t.last.shownChecked)
	if cl.files > 0 {
		fmt.Fprintf(w, "  change log                        revisions 1–%d contiguous, the same on the %d instances and in their %d files\n", cl.checkedRev, instances, cl.files)
	} else {
		fmt.Fprintf(w, "  change log                        not checked in the files\n")
	}
	bbolt := fmt.Sprintf("passed in all %d files checked", cl.deadFiles+cl.files)
	if cl.bboltFailed > 0 {
		bbolt = fmt.Sprintf("FAILED in %d of %d files checked", cl.bboltFailed, cl.deadFiles+cl.files)
	}
	fmt.Fprintf(w, "  bbolt consistency check           %s\n", bbolt)
	fmt.Fprintf(w, "  wall time                         %s\n", time.Since(t.start).Round(10*time.Millisecond))
	if err != nil {
		fmt.Fprintf(w, "\ncrashtest: FAIL: %v\n", err)
		if t.dir != "" {
			fmt.Fprintf(w, "instance logs: %s\n", filepath.Join(t.dir, "instance-*.log"))
		}
	}
}

// durations is "median M, max X (n kills)" or "none".
func durations(d []time.Duration) string {
	if len(d) == 0 {
		return "no such kill"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("median %.2f s, max %.2f s (%d kills)", med.Seconds(), s[len(s)-1].Seconds(), len(s))
}
