package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// payload is what the baselines send: ours' own change messages, the nth for an edit of
// their nth project, and ours' snapshot, each with the baseline's revision written in — or,
// when ours is not there to be measured, messages padded to a size.
type payload struct {
	changes  [][]byte
	snapshot []byte
	size     int // without ours: every change message's
	snapSize int // without ours: the snapshot's
	file     string
}

// payloads takes, when baselines are to run, the messages ours sends: a server of ours with
// one screen, each project ours' editor edits edited once in the editor's order. Ours' change
// messages differ by project (each carries its project: 8.4 to 9.9 KB with the bundled data);
// a baseline serves as many projects and sends for an edit of its nth project ours' nth
// message, so that the nth edit of a run carries the same bytes everywhere — the same size,
// and with --deflate the same compressed size.
func payloads(ctx context.Context, o options, dir string, logf func(string, ...any)) (payload, error) {
	pl := payload{size: defaultChangeSize, snapSize: defaultSnapshotSize}
	if o.msgSize > 0 {
		pl.size = o.msgSize
	}
	if o.snapSize > 0 {
		pl.snapSize = o.snapSize
	}
	needed := slices.ContainsFunc(o.targets, func(t string) bool { return !isOurs(t) })
	if !needed || o.msgSize > 0 || !slices.Contains(o.targets, "ours") {
		return pl, nil
	}
	p := o
	p.clients, p.idle, p.slow, p.batch, p.deflate = 1, 0, 0, false, false
	p.pprof, p.perf, p.dump = "", "", ""
	p.keepMessages = true
	r := &runner{o: p, kind: "ours", dir: filepath.Join(dir, "payloads"), logf: func(string, ...any) {}}
	defer r.teardown()
	if err := r.setup(ctx); err != nil {
		return pl, err
	}
	n := len(r.ed.projects)
	m, err := r.api.meta(ctx)
	if err != nil {
		return pl, err
	}
	if _, err := r.phase(ctx, "single", n, nil, nil); err != nil {
		return pl, err
	}
	r.fleet.keptMu.Lock()
	defer r.fleet.keptMu.Unlock()
	var sizes []int
	for i := range n {
		b, ok := r.fleet.kept[m.Rev+uint64(i)+1]
		if !ok || bytes.IndexByte(b, '\n') >= 0 {
			return pl, fmt.Errorf("no change message of revision %d", m.Rev+uint64(i)+1)
		}
		pl.changes = append(pl.changes, b)
		sizes = append(sizes, len(b))
	}
	if o.snapSize == 0 && len(r.fleet.keptSnapshot) > 0 && bytes.IndexByte(r.fleet.keptSnapshot, '\n') < 0 {
		pl.snapshot = r.fleet.keptSnapshot
	}
	// The baselines read them from a file: the snapshot (or an empty line), then one change
	// message a line.
	var buf bytes.Buffer
	buf.Write(pl.snapshot)
	for _, c := range pl.changes {
		buf.WriteByte('\n')
		buf.Write(c)
	}
	pl.file = filepath.Join(dir, "payloads.txt")
	if err := os.WriteFile(pl.file, buf.Bytes(), 0o644); err != nil {
		return pl, err
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	logf("ours' change messages: %d projects, %d–%d B, mean %d B; snapshot %d B", n, slices.Min(sizes),
		slices.Max(sizes), total/n, len(pl.snapshot))
	return pl, nil
}

// withRev is msg with the number of its first "rev" replaced by rev, padded with spaces to
// the length it had (JSON allows them): the same bytes as ours', with the baseline's revision.
func withRev(msg []byte, rev uint64) []byte {
	key := []byte(`"rev":`)
	i := bytes.Index(msg, key)
	if i < 0 {
		return msg
	}
	start := i + len(key)
	end := start
	for end < len(msg) && msg[end] >= '0' && msg[end] <= '9' {
		end++
	}
	r := strconv.FormatUint(rev, 10)
	out := make([]byte, 0, len(msg)+len(r))
	out = append(out, msg[:start]...)
	out = append(out, r...)
	for i := len(r); i < end-start; i++ {
		out = append(out, ' ')
	}
	return append(out, msg[end:]...)
}
