package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// ack is an edit the server answered 200: it promised the note is stored at version.
type ack struct {
	project string
	note    string
	version uint64
	ifMatch uint64
}

// ledger is what the editors were told, for the final check against the change log.
type ledger struct {
	mu        sync.Mutex
	acks      []ack
	rejected  map[string]bool // notes answered 412: they must not be in the log
	uncertain map[string]bool // notes without an answer (transport error, 5xx): either way is fine
	sent      int
	conflicts int // 412
	other     map[int]int
	faults    []string
}

func newLedger() *ledger {
	return &ledger{rejected: map[string]bool{}, uncertain: map[string]bool{}, other: map[int]int{}}
}

func (l *ledger) fault(msg string) {
	l.mu.Lock()
	l.faults = append(l.faults, msg)
	l.mu.Unlock()
}

// editors race on a few shared projects, each from the version it last read.
type editors struct {
	api     *api
	token   string
	ids     []string
	initial map[string]uint64 // version of each id when editing starts
	minRate float64
	maxRate float64
	ledger  *ledger
	wg      sync.WaitGroup
}

// start runs n editors until stop is closed. Requests are made with ctx, which outlives
// stop, so an edit in flight at the end gets its answer and the ledger stays exact.
func (e *editors) start(ctx context.Context, stop <-chan struct{}, n int) {
	for i := range n {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.run(ctx, stop, i)
		}()
	}
}

func (e *editors) run(ctx context.Context, stop <-chan struct{}, who int) {
	rate := e.minRate + rand.Float64()*(e.maxRate-e.minRate)
	interval := time.Duration(float64(time.Second) / rate)
	versions := make(map[string]uint64, len(e.initial))
	for id, v := range e.initial {
		versions[id] = v
	}
	seq := 0
	next := time.Now()
	for {
		next = next.Add(interval)
		if now := time.Now(); next.Before(now) {
			next = now // behind: do not burst to catch up
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-stop:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		id := e.ids[rand.N(len(e.ids))]
		// On 412 the editor takes the current version from the answer and, half the time,
		// tries again at once, as a person who sees "changed meanwhile" might.
		for try := 0; try < 2; try++ {
			seq++
			note := "e" + strconv.Itoa(who) + "-" + strconv.Itoa(seq)
			v, retry := e.edit(ctx, id, versions[id], note)
			if v != 0 {
				versions[id] = v
			}
			if !retry || rand.N(2) == 0 {
				break
			}
		}
	}
}

// edit sends one PATCH and records its answer. It returns the version the editor should
// now hold (0: unchanged) and whether the answer was a 412.
func (e *editors) edit(ctx context.Context, id string, version uint64, note string) (uint64, bool) {
	l := e.ledger
	hdr := map[string]string{"If-Match": `"` + strconv.FormatUint(version, 10) + `"`}
	status, body, err := e.api.Do(ctx, "PATCH", "/api/projects/"+id, e.token, hdr, map[string]string{"note": note})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	switch {
	case err != nil || status >= 500:
		l.uncertain[note] = true
		l.other[status]++
		return 0, false
	case status == 200:
		var p projectHead
		if err := json.Unmarshal(body, &p); err != nil {
			l.uncertain[note] = true
			l.faults = append(l.faults, fmt.Sprintf("PATCH %s: 200 with a body that is not a project: %.200s", id, body))
			return 0, false
		}
		if p.ID != id || p.Note != note || p.Version != version+1 {
			l.faults = append(l.faults, fmt.Sprintf("PATCH %s If-Match %d note %s: 200 with id %s version %d note %q",
				id, version, note, p.ID, p.Version, p.Note))
		}
		l.acks = append(l.acks, ack{project: id, note: note, version: p.Version, ifMatch: version})
		return p.Version, false
	case status == 412:
		l.conflicts++
		l.rejected[note] = true
		var r struct {
			Current projectHead `json:"current"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Current.ID != id || r.Current.Version == 0 {
			l.faults = append(l.faults, fmt.Sprintf("PATCH %s: 412 without the current project: %.200s", id, body))
			return 0, true
		}
		if r.Current.Version <= version {
			// Versions only grow and the editor learnt its own from the server.
			l.faults = append(l.faults, fmt.Sprintf("PATCH %s If-Match %d: 412 with current version %d", id, version, r.Current.Version))
		}
		return r.Current.Version, true
	default:
		// 4xx other than 412: the edit was refused, so it must not be stored either.
		l.rejected[note] = true
		l.other[status]++
		l.faults = append(l.faults, fmt.Sprintf("PATCH %s: unexpected %d %.200s", id, status, body))
		return 0, false
	}
}
