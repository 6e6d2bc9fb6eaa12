package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
)

// warmupEdits is how many edits each target gets, unmeasured, before the interleaved rounds.
const warmupEdits = 12

// interleave runs the targets side by side (--interleave): every target is started and its
// clients connected first, then each round gives each target a phase of edits in turn, the
// order rotating from round to round. Every target so meets the machine's load of the same
// minutes, which on a shared machine moves more from one run to the next than the targets
// differ. The figures are over every delivery of every round. It returns how many rounds
// failed.
func interleave(ctx context.Context, o options, dir string, logf func(string, ...any), pl payload, rep *report) int {
	limit, _ := raiseFileLimit()
	if need := uint64(o.clients*len(o.targets) + 256); need > limit {
		rep.Targets = []*result{{Target: o.targets[0], Errors: []string{fmt.Sprintf(
			"--interleave needs %d open files for %d clients of %d targets; the limit is %d", need, o.clients, len(o.targets), limit)}}}
		return 1
	}
	var runners []*runner
	defer func() {
		for _, r := range runners {
			r.teardown()
		}
	}()
	failed := 0
	for _, kind := range o.targets {
		r := &runner{o: o, kind: kind, round: 1, dir: filepath.Join(dir, "interleaved"), logf: logf, pl: pl}
		runners = append(runners, r)
		err := r.setup(ctx)
		if err == nil {
			_, err = r.phase(ctx, "single", warmupEdits, nil, nil)
		}
		if err != nil {
			logf("%s: %v", kind, err)
			r.res.Errors = append(r.res.Errors, err.Error())
			rep.Targets = append(rep.Targets, r.res)
			return 1
		}
	}
	phases := make([][]phaseResult, len(runners))
	for i := 0; i < o.repeat && ctx.Err() == nil; i++ {
		var round []*result
		for j := range runners {
			k := (i + j) % len(runners)
			r := runners[k]
			r.round = i + 1
			p, err := r.phase(ctx, o.mode, r.edits(), nil, nil)
			res := &result{Target: r.kind}
			p.add(res, "")
			if err != nil {
				failed++
				logf("%s round %d: %v", r.kind, i+1, err)
				res.Errors = append(res.Errors, err.Error())
				r.res.Errors = append(r.res.Errors, fmt.Sprintf("round %d: %v", i+1, err))
			}
			phases[k] = append(phases[k], p)
			round = append(round, res)
		}
		rep.Runs = append(rep.Runs, round)
	}
	for k, r := range runners {
		mergePhases(phases[k]).add(r.res, "")
		rss, _ := rssKiB(r.srv.pid())
		r.res.add("server RSS after run (MiB)", float64(rss)/1024)
		if dead, first := r.fleet.deadCount(); dead > 0 {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("%d clients lost their connection (first: %v)", dead, first))
		}
		r.res.ChangeBytes, r.res.SnapshotBytes = r.fleet.meanChangeBytes(), r.fleet.snapshotBytes.Load()
		rep.Targets = append(rep.Targets, r.res)
	}
	slices.SortStableFunc(rep.Targets, func(a, b *result) int { return targetOrder(a.Target) - targetOrder(b.Target) })
	return failed
}

func targetOrder(t string) int { return slices.Index(allTargets(), t) }
