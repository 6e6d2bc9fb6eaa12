package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
)

// payload is what the baselines send: a change message of changes[i % len] bytes for an edit
// of their ith project, and a snapshot of snapshot bytes.
type payload struct {
	changes  []int
	snapshot int
}

// payloads measures, when baselines are to run and no size is given, the messages ours
// sends: a server of ours with one screen, each project ours' editor edits edited once in the
// editor's order. Ours' change messages differ by project (each carries its project: 8.4 to
// 9.6 KB with the bundled data); a baseline serves as many projects and pads an edit of its
// ith to the size of ours' ith, so that the nth edit of a run weighs the same everywhere.
func payloads(ctx context.Context, o options, dir string, logf func(string, ...any)) (payload, error) {
	pl := payload{changes: []int{defaultChangeSize}, snapshot: defaultSnapshotSize}
	if o.msgSize > 0 {
		pl.changes = []int{o.msgSize}
	}
	if o.snapSize > 0 {
		pl.snapshot = o.snapSize
	}
	needed := slices.ContainsFunc(o.targets, func(t string) bool { return !isOurs(t) })
	if !needed || (o.msgSize > 0 && o.snapSize > 0) || !slices.Contains(o.targets, "ours") {
		return pl, nil
	}
	p := o
	p.clients, p.idle, p.slow, p.batch, p.deflate = 1, 0, 0, false, false
	p.pprof, p.perf, p.dump = "", "", ""
	r := &runner{o: p, kind: "ours", dir: filepath.Join(dir, "payloads"), logf: func(string, ...any) {}}
	defer r.teardown()
	if err := r.setup(ctx); err != nil {
		return pl, err
	}
	n := len(r.ed.projects)
	r.fleet.sizes = map[uint64]int{}
	m, err := r.api.meta(ctx)
	if err != nil {
		return pl, err
	}
	if _, err := r.phase(ctx, "single", n, nil, nil); err != nil {
		return pl, err
	}
	r.fleet.sizeMu.Lock()
	defer r.fleet.sizeMu.Unlock()
	changes := make([]int, n)
	total := 0
	for i := range changes {
		size, ok := r.fleet.sizes[m.Rev+uint64(i)+1]
		if !ok {
			return pl, fmt.Errorf("no change message of revision %d", m.Rev+uint64(i)+1)
		}
		changes[i] = size
		total += size
	}
	if o.msgSize == 0 {
		pl.changes = changes
	}
	if o.snapSize == 0 {
		pl.snapshot = int(r.fleet.snapshotBytes.Load())
	}
	logf("ours' change messages: %d projects, %d–%d B, mean %d B; snapshot %d B", n, slices.Min(changes),
		slices.Max(changes), total/n, pl.snapshot)
	return pl, nil
}
