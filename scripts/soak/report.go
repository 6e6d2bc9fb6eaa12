package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// report is what a run found, printed at the end.
type report struct {
	cfg     config
	dir     string
	editing time.Duration
	total   time.Duration

	start, peak, last, end sample
	settledAfter           time.Duration
	screensClosed          bool

	cuts                                                 int // connections soak cut
	connects, replays, snapshots, gaps, drops4008, other int
	dialErrors                                           int
	screensChecked                                       int
	screenFaults                                         []string
	stuck                                                []string

	sent, acked, conflicts int
	otherStatus            map[int]int
	editFaults             []string
	ledger                 ledgerResult

	failures []string
}

func (r *report) fail(format string, a ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, a...))
}

func (r *report) passed() bool {
	return len(r.failures) == 0 && len(r.screenFaults) == 0 && len(r.editFaults) == 0 && len(r.ledger.mismatches) == 0
}

func (r *report) mismatches() int {
	return len(r.screenFaults) + len(r.editFaults) + len(r.ledger.mismatches)
}

func (r *report) observe(s sample) {
	r.last = s
	r.peak.goroutines = max(r.peak.goroutines, s.goroutines)
	r.peak.rss = max(r.peak.rss, s.rss)
	r.peak.screens = max(r.peak.screens, s.screens)
}

// checkScreens compares every healthy screen with the database at rev and sums the
// screens' counters.
func (r *report) checkScreens(f *fleet, want map[string]json.RawMessage, rev uint64) {
	decoded := make(map[string]any, len(want))
	for id, p := range want {
		var v any
		if err := decodeExact(p, &v); err != nil {
			r.fail("GET /api/projects: %s: %v", id, err)
			return
		}
		decoded[id] = v
	}
	for _, s := range f.screens {
		s.mu.Lock()
		r.connects += s.connects
		r.replays += s.replays
		r.snapshots += s.snapshots
		r.gaps += s.gaps
		r.drops4008 += s.drops4008
		r.other += s.unplanned
		r.dialErrors += s.dialErrors
		for _, msg := range s.faults {
			r.screenFaults = append(r.screenFaults, fmt.Sprintf("screen %d: %s", s.id, msg))
		}
		switch {
		case !s.state.Held():
			r.screenFaults = append(r.screenFaults, fmt.Sprintf("screen %d: no state at the end", s.id))
		case s.state.Rev != rev:
			r.screenFaults = append(r.screenFaults, fmt.Sprintf("screen %d: at rev %d, the database at %d", s.id, s.state.Rev, rev))
		default:
			diffs := compareState(s.state.Projects, want, decoded)
			for i, d := range diffs {
				if i == 3 {
					r.screenFaults = append(r.screenFaults, fmt.Sprintf("screen %d: … %d more", s.id, len(diffs)-3))
					break
				}
				r.screenFaults = append(r.screenFaults, fmt.Sprintf("screen %d: %s", s.id, d))
			}
			if len(diffs) == 0 {
				r.screensChecked++
			}
		}
		s.mu.Unlock()
	}
}

// settle waits for the server to report no open screens, then at least 5 s, and then up to
// cfg.settle for goroutines and RSS to come back within the tolerance; it keeps the last
// sample.
//
// Why these bounds: each open screen costs the server a goroutine (it reads; the hub's shards
// write, and a screen whose socket is full gets a writer too), so start+10 catches a leak of
// ten screens while leaving room for the runtime's and fasthttp's own (workers that idle out
// after 10 s, a scavenger). RSS is
// allowed start×1.5+20 MiB because Go keeps freed heap mapped for minutes (the scavenger
// returns it slowly) and the heap goal is twice the live heap, so after a peak RSS stays
// high without any leak; a real leak of per-screen state (queues, snapshot buffers, socket
// buffers) across the run's thousands of reconnects is far above it.
func (r *report) settle(ctx context.Context, metricsAddr string, cfg config) {
	began := time.Now()
	r.screensClosed = waitFor(ctx, 30*time.Second, func() bool {
		s, err := scrape(ctx, metricsAddr)
		return err == nil && s.screens == 0
	})
	if !r.screensClosed {
		r.fail("the server still counts open screens 30 s after every client closed")
	}
	sleep(ctx, 5*time.Second)
	for {
		s, err := scrape(ctx, metricsAddr)
		if err != nil {
			r.fail("metrics at the end: %v", err)
			return
		}
		r.end, r.settledAfter = s, time.Since(began)
		if r.withinTolerance() || time.Since(began) > cfg.settle || ctx.Err() != nil {
			break
		}
		sleep(ctx, 2*time.Second)
	}
	if r.end.goroutines > r.goroutineLimit() {
		r.fail("goroutines %.0f at the end, over the limit %.0f (start %.0f)", r.end.goroutines, r.goroutineLimit(), r.start.goroutines)
	}
	if r.end.rss > r.rssLimit() {
		r.fail("RSS %.1f MiB at the end, over the limit %.1f MiB (start %.1f MiB)", r.end.rss/mib, r.rssLimit()/mib, r.start.rss/mib)
	}
}

func (r *report) goroutineLimit() float64 { return r.start.goroutines + float64(r.cfg.goroutineSlack) }
func (r *report) rssLimit() float64 {
	return r.start.rss*r.cfg.rssFactor + r.cfg.rssSlackMiB*mib
}
func (r *report) withinTolerance() bool {
	return r.end.goroutines <= r.goroutineLimit() && r.end.rss <= r.rssLimit()
}

func (r *report) print(w io.Writer) {
	verdict := "PASS"
	if !r.passed() {
		verdict = "FAIL"
	}
	pf := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	pf("")
	pf("soak %s", verdict)
	pf("  duration            %v of editing (%v in all)", r.editing.Round(time.Second), r.total.Round(time.Second))
	pf("  screens             %d keeping state (%d equal to the database at the end), %d that never read",
		r.cfg.screens, r.screensChecked, r.cfg.stuck)
	pf("  reconnects          %d (cut by soak %d, closed 4008 %d, gaps %d, other %d); resumed with since %d, snapshots %d, dial errors %d",
		max(r.connects-r.cfg.screens, 0), r.cuts, r.drops4008, r.gaps, r.other, r.replays, r.snapshots, r.dialErrors)
	pf("  screens dropped 4008 %d seen by healthy screens; server counter %.0f (stuck screens included)", r.drops4008, r.end.drops)
	for _, s := range r.stuck {
		pf("  %s", s)
	}
	pf("  edits               sent %d, 200 %d, 412 %d, other %s", r.sent, r.acked, r.conflicts, statusList(r.otherStatus))
	pf("  acknowledged edits  %d checked against %d changes in the log (%d stored without an answer)",
		r.ledger.checked, r.ledger.logChanges, r.ledger.uncertain)
	pf("  mismatches          %d", r.mismatches())
	pf("  goroutines          start %.0f, peak %.0f, end %.0f (limit %.0f)", r.start.goroutines, r.peak.goroutines, r.end.goroutines, r.goroutineLimit())
	pf("  RSS                 start %.1f MiB, peak %.1f MiB, end %.1f MiB (limit %.1f MiB), end measured %v after the screens closed",
		r.start.rss/mib, r.peak.rss/mib, r.end.rss/mib, r.rssLimit()/mib, r.settledAfter.Round(time.Second))
	if !r.passed() {
		pf("  directory           %s (database and server.log kept)", r.dir)
	}
	all := append(append(append(append([]string{}, r.failures...), r.ledger.mismatches...), r.editFaults...), r.screenFaults...)
	for i, f := range all {
		if i == 20 {
			pf("  … and %d more", len(all)-20)
			break
		}
		pf("  - %s", f)
	}
	pf("soak %s", verdict)
}

func statusList(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", name, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
