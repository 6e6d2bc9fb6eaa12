package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"projectboard/scripts/internal/harness"
	"projectboard/server/feedwire"
)

// TestMain lets the test binary stand in for the loadgen binary when the runner starts a
// baseline as a child process (`<this binary> bare-server …`).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		if sub := subcommands[os.Args[1]]; sub != nil {
			if err := sub(os.Args[2:]); err != nil {
				os.Stderr.WriteString(os.Args[1] + ": " + err.Error() + "\n")
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"both", []string{"ours", "bare"}},
		{"all", []string{"ours", "bare", "gorilla"}},
		{"gorilla", []string{"gorilla"}},
		{"gorilla,ours", []string{"ours", "gorilla"}},
		{"ours, bare", []string{"ours", "bare"}},
	}
	for _, tt := range tests {
		got, err := parseTargets(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseTargets(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseTargets("ours,nginx"); err == nil {
		t.Error("parseTargets(ours,nginx): no error")
	}
}

func TestPct(t *testing.T) {
	v := make([]int64, 100)
	for i := range v {
		v[i] = int64(i + 1)
	}
	for _, tt := range []struct {
		q    float64
		want int64
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := pct(v, tt.q); got != tt.want {
			t.Errorf("pct(1..100, %v) = %d, want %d", tt.q, got, tt.want)
		}
	}
	if got := pct(nil, 0.5); got != 0 {
		t.Errorf("pct(nil) = %d, want 0", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "1234 (proj board) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 9 0 100 1000000 5000"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseStatCPU = %s, want %s", got, want)
	}
}

func TestRecorder(t *testing.T) {
	rec := newRecorder(10, 2, 3, []bool{true, false, true})
	now := time.Now()
	rec.deliver(11, 0, now)
	rec.deliver(11, 1, now) // not wanted: does not count
	if err := rec.wait(11, 10*time.Millisecond); err == nil {
		t.Fatal("wait returned before every wanted client read rev 11")
	}
	rec.deliver(11, 2, now)
	rec.deliver(11, 2, now) // a replay is not counted twice
	if err := rec.wait(11, time.Second); err != nil {
		t.Fatal(err)
	}
	rec.deliver(13, 0, now)
	if got := rec.stray.Load(); got != 1 {
		t.Errorf("stray = %d, want 1", got)
	}
}

// smoke runs loadgen in this process against the targets asked for (ours and bare unless
// --target says) and checks the JSON report.
func smoke(t *testing.T, bin string, args ...string) *report {
	t.Helper()
	out := t.TempDir() + "/report.json"
	args = append([]string{"--clients", "20", "--edits", "5", "--quiet", "--idle", "100ms", "--wait", "10s",
		"--max-time", "60s", "--json", out, "--bin", bin}, args...)
	var stdout strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, args, &stdout, io.Discard); err != nil {
		t.Fatalf("loadgen %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	target := "both"
	if i := slices.Index(args, "--target"); i >= 0 {
		target = args[i+1]
	}
	targets, err := parseTargets(target)
	if err != nil {
		t.Fatal(err)
	}
	want := len(targets)
	if len(rep.Targets) != want {
		t.Fatalf("got %d targets, want %d", len(rep.Targets), want)
	}
	for _, r := range rep.Targets {
		if len(r.Errors) > 0 {
			t.Errorf("%s: %v", r.Target, r.Errors)
		}
	}
	if want > 1 && len(rep.Ratios) == 0 {
		t.Error("no ratios of ours over the baselines")
	}
	t.Logf("\n%s", stdout.String())
	return &rep
}

func metricOf(t *testing.T, r *result, name string) float64 {
	t.Helper()
	v, ok := r.get(name)
	if !ok {
		t.Fatalf("%s: no metric %q", r.Target, name)
	}
	return v
}

func TestSmoke(t *testing.T) {
	if _, err := raiseFileLimit(); err != nil {
		t.Fatal(err)
	}
	// The bare server is this (race-instrumented) test binary: do not let the race runtime
	// sleep a second at every exit.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	bin := os.Getenv("PROJECTBOARD_BIN")
	if bin == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		if bin, err = harness.BuildServer(ctx, t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("single", func(t *testing.T) {
		rep := smoke(t, bin, "--target", "all")
		for _, r := range rep.Targets {
			if got := metricOf(t, r, "edits committed"); got != 5 {
				t.Errorf("%s: edits committed = %v, want 5", r.Target, got)
			}
			if got := metricOf(t, r, "deliveries missing"); got != 0 {
				t.Errorf("%s: deliveries missing = %v, want 0", r.Target, got)
			}
			if got := metricOf(t, r, "delivery p99 (ms)"); got <= 0 {
				t.Errorf("%s: delivery p99 = %v, want > 0", r.Target, got)
			}
		}
	})
	t.Run("batched and compressed", func(t *testing.T) {
		rep := smoke(t, bin, "--batch", "--deflate", "--mode", "burst", "--editors", "4")
		for _, r := range rep.Targets {
			if got := metricOf(t, r, "deliveries missing"); got != 0 {
				t.Errorf("%s: deliveries missing = %v, want 0", r.Target, got)
			}
		}
	})
	t.Run("burst with slow clients", func(t *testing.T) {
		rep := smoke(t, bin, "--mode", "burst", "--slow", "10", "--editors", "4")
		for _, r := range rep.Targets {
			if r.SlowClients != 2 {
				t.Errorf("%s: %d slow clients, want 2", r.Target, r.SlowClients)
			}
			metricOf(t, r, "healthy p99 with/without slow")
		}
	})
	for _, restart := range []string{"sigterm", "sighup"} {
		t.Run("storm "+restart, func(t *testing.T) {
			args := []string{"--mode", "storm", "--restart", restart, "--target", "all"}
			if restart == "sighup" {
				args = append(args[:len(args)-1], "ours")
			}
			stormSmoke(t, smoke(t, bin, args...))
		})
	}
}

func stormSmoke(t *testing.T, rep *report) {
	t.Helper()
	for _, r := range rep.Targets {
		if got := metricOf(t, r, "clients resumed"); got != 20 {
			t.Errorf("%s: clients resumed = %v, want 20", r.Target, got)
		}
		if got := metricOf(t, r, "snapshots sent on resume"); got != 0 {
			t.Errorf("%s: snapshots on resume = %v, want 0", r.Target, got)
		}
	}
}

// TestJournalCommit: a baseline's commit leaves every message appended after the head, and
// the last revision at the head.
func TestJournalCommit(t *testing.T) {
	path := t.TempDir() + "/j"
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for rev, msg := range []string{"first", "second"} {
		if err := j.commit(uint64(rev+1), []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "\x00\x00\x00\x00\x00\x00\x00\x02firstsecond"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

// A baseline without ours' payload sends a hello and change messages that decode as the
// feed's, each change of the size asked for.
func TestBaselineMessages(t *testing.T) {
	s, err := parseBaseline("bare", []string{"--msg-size", "900", "--rev", "41", "--epoch", "E1"})
	if err != nil {
		t.Fatal(err)
	}
	_, first, ok := s.join("", "")
	if !ok || len(first) != 2 {
		t.Fatalf("join: got %d messages, ok %v", len(first), ok)
	}
	msgs, err := feedwire.Decode(first[0].data)
	if err != nil || msgs[0].Type != feedwire.TypeHello || msgs[0].Epoch != "E1" || msgs[0].Rev != 41 || msgs[0].Build != "bare" {
		t.Errorf("hello: got %s, %v", first[0].data, err)
	}
	b := s.changeMessage(42, s.projects[s.order[0]])
	if len(b) != 900 {
		t.Errorf("change message: got %d bytes, want 900", len(b))
	}
	msgs, err = feedwire.Decode(b)
	if err != nil {
		t.Fatalf("change message: %v: %.200s", err, b)
	}
	m := msgs[0]
	if m.Type != feedwire.TypeChange || m.Rev != 42 || m.Change == nil || m.Change.Rev != 42 || m.Change.ProjectID != s.order[0] {
		t.Errorf("change message: got %+v", m)
	}
	if p, err := m.DecodeProject(); err != nil || p == nil || p.ID != s.order[0] {
		t.Errorf("change message's project: got %v, %v", p, err)
	}
	if typ, rev := feedwire.Head(b); typ != feedwire.TypeChange || rev != 42 {
		t.Errorf("Head: got %q, %d", typ, rev)
	}
}

// A cluster screen checks the feed as a screen's board does: the next revision each time, a
// patch on the version held; and the sequence check finds a screen that read another change.
func TestClusterScreen(t *testing.T) {
	cl := &clusterRun{cache: newDecodeCache(), t0: time.Now()}
	newScreen := func(idx int) *screen {
		return &screen{idx: idx, cl: cl, to: -1, connected: make(chan struct{}), gone: make(chan struct{})}
	}
	change := func(rev, version int, id string) []byte {
		return []byte(`{"type":"change","rev":` + strconv.Itoa(rev) + `,"change":{"rev":` + strconv.Itoa(rev) +
			`,"projectId":"` + id + `"},"projectPatch":{"version":` + strconv.Itoa(version) + `}}`)
	}
	snapshot := []byte(`{"type":"snapshot","rev":2,"projects":[{"id":"A","version":1},{"id":"B","version":5}],"summary":null}`)
	feed := func(s *screen, frames ...[]byte) {
		t.Helper()
		for _, f := range frames {
			if err := s.handle(f, time.Now()); err != nil {
				t.Fatalf("screen %d: %s: %v", s.idx, f, err)
			}
		}
	}
	good, gap, other := newScreen(0), newScreen(1), newScreen(2)
	feed(good, snapshot, change(3, 2, "A"), change(4, 6, "B"), change(5, 3, "A"))
	feed(gap, snapshot, change(3, 2, "A"), change(5, 3, "A"))
	feed(other, snapshot, change(3, 2, "A"), change(4, 9, "B"), change(5, 3, "A"))
	if good.gaps+good.mismatches+good.repeats != 0 || good.missing(5) != 0 {
		t.Errorf("good screen: %d gaps, %d mismatches, %d repeats, %d missing; want none", good.gaps, good.mismatches, good.repeats, good.missing(5))
	}
	if gap.gaps != 1 || gap.missing(5) != 1 {
		t.Errorf("gap screen: %d gaps, %d missing; want 1 and 1", gap.gaps, gap.missing(5))
	}
	if other.mismatches != 1 {
		t.Errorf("other screen: %d patches on another version, want 1", other.mismatches)
	}
	feed(good, change(5, 3, "A"))
	if good.repeats != 1 {
		t.Errorf("a revision read again: %d repeats, want 1", good.repeats)
	}
	revs, differ, first := sequenceCheck([]*screen{good, gap, other}, cl.cache.entries, 3, 5)
	if revs != 3 || differ != 1 || !strings.Contains(first, "rev 4") {
		t.Errorf("sequenceCheck: %d revisions, %d differing, %q; want 3, 1 at rev 4", revs, differ, first)
	}
}

// TestClusterSmoke runs --cluster --kill-instance with a few screens.
func TestClusterSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 etcd members and 3 instances")
	}
	if _, err := raiseFileLimit(); err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("PROJECTBOARD_BIN")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if bin == "" {
		var err error
		if bin, err = harness.BuildServer(ctx, t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir() + "/report.json"
	args := []string{"--cluster", "--kill-instance", "--clients", "30", "--rate", "20", "--duration", "4s",
		"--kill-after", "2s", "--quiet", "--json", out, "--bin", bin}
	var stdout strings.Builder
	if err := run(ctx, args, &stdout, io.Discard); err != nil {
		t.Fatalf("loadgen %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	r := rep.Targets[0]
	for name, want := range map[string]float64{"killed instance's screens": 10, "… not resumed": 0,
		"resumes with a snapshot": 0, "deliveries missing": 0, "screen-revisions differing": 0,
		"whole boards compared (one screen per instance)": 3} {
		if got := metricOf(t, r, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metricOf(t, r, "revisions compared on every screen"); got < 10 {
		t.Errorf("revisions compared = %v, want ≥ 10", got)
	}
	t.Logf("\n%s", stdout.String())
}
