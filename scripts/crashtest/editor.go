package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"syscall"
	"time"

	"projectboard/store"
)

// outcome is what an edit's sender knows about it.
type outcome int

const (
	pending outcome = iota
	acked           // answered 200: must be in the file
	refused         // answered 412: must not be in the file
	notSent         // the connection was refused: nothing reached a server, must not be in the file
	unknown         // the request or its answer was cut: may or may not be in the file
)

func (o outcome) String() string {
	return [...]string{"pending", "acknowledged", "refused with 412", "never sent", "unknown"}[o]
}

// attempt is one PATCH an editor sent. Its id goes in the body's "comment", so the change it
// made (if any) is found in the log whatever its value.
type attempt struct {
	id      string // "e<editor>-<seq>"
	project string
	field   string // "progress" or "note"
	value   any    // as JSON decodes it: float64 for progress, string for note
	ifMatch uint64
	outcome outcome
	version uint64 // the version answered with a 200
	why     string // what cut an unknown outcome

	instance int       // the instance it was sent to (cluster mode; 0 on one server)
	sentAt   time.Time // when the request was sent
	doneAt   time.Time // when its outcome was known
}

// ledger records every attempt.
type ledger struct {
	mu       sync.Mutex
	attempts []*attempt
}

func newLedger() *ledger { return &ledger{} }

func (l *ledger) add(a *attempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
}

func (l *ledger) settle(a *attempt, o outcome, version uint64, why string) {
	l.mu.Lock()
	a.outcome, a.version, a.why, a.doneAt = o, version, why, time.Now()
	l.mu.Unlock()
}

// snapshot copies every attempt for a check.
func (l *ledger) snapshot() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]attempt, len(l.attempts))
	for i, a := range l.attempts {
		out[i] = *a
	}
	return out
}

type ledgerCounts struct {
	acked, ackedProgress, ackedNote, refused412, notSent, unknown int
	unavailable                                                   int // unknown because answered 503 (cluster mode)
}

func (l *ledger) counts() ledgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c ledgerCounts
	for _, a := range l.attempts {
		switch a.outcome {
		case acked:
			c.acked++
			if a.field == "progress" {
				c.ackedProgress++
			} else {
				c.ackedNote++
			}
		case refused:
			c.refused412++
		case notSent:
			c.notSent++
		case unknown:
			c.unknown++
			if a.why == "status 503" {
				c.unavailable++
			}
		}
	}
	return c
}

// firstAckSentAfter is how long after t the first edit sent after t to instance was
// acknowledged (any instance: -1); false while there is none.
func (l *ledger) firstAckSentAfter(t time.Time, instance int) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, a := range l.attempts {
		if a.outcome == acked && !a.sentAt.Before(t) && (instance < 0 || a.instance == instance) &&
			(first.IsZero() || a.doneAt.Before(first)) {
			first = a.doneAt
		}
	}
	return first.Sub(t), !first.IsZero()
}

func (l *ledger) countsOrZero() ledgerCounts {
	if l == nil {
		return ledgerCounts{}
	}
	return l.counts()
}

// gate lets editors send requests only while the server is meant to be up, and tells when
// every request in flight has its outcome.
type gate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	isOpen   bool
	inFlight int
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// enter waits until the gate is open and counts the caller in; false when ctx ended.
func (g *gate) enter(ctx context.Context) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.isOpen {
		if ctx.Err() != nil {
			return false
		}
		g.cond.Wait()
	}
	g.inFlight++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) open() {
	g.mu.Lock()
	g.isOpen = true
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) close() {
	g.mu.Lock()
	g.isOpen = false
	g.mu.Unlock()
	g.cond.Broadcast()
}

// wake lets waiters see a cancelled context. Taking the lock means no waiter is between its
// check of the context and its Wait.
func (g *gate) wake() {
	g.mu.Lock()
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitIdle waits until no request is in flight.
func (g *gate) waitIdle(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		g.mu.Lock()
		n := g.inFlight
		g.mu.Unlock()
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d editor request(s) still in flight %v after the kill", n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// startEditors runs the editors until ctx ends; the returned channel closes when all stopped.
func (t *test) startEditors(ctx context.Context) <-chan struct{} {
	// A small pool of projects makes editors collide, so 412s happen on purpose.
	pool := make([]string, 0, 2*t.cfg.editors)
	for _, i := range t.rng.Perm(len(t.editableIDs))[:min(len(t.editableIDs), 2*t.cfg.editors)] {
		pool = append(pool, t.editableIDs[i])
	}
	var wg sync.WaitGroup
	for i := 1; i <= t.cfg.editors; i++ {
		e := &editor{id: i, t: t, pool: pool, cache: map[string]store.Project{}, acked: map[string]uint64{},
			ackedBy: map[string]int{}, rng: rand.New(rand.NewPCG(t.cfg.seed, uint64(i)))}
		if t.cl != nil {
			e.home = i % len(t.cl.inst)
			e.at, e.gen = e.home, t.cl.gen.Load()
		}
		wg.Add(1)
		go func() { defer wg.Done(); e.run(ctx) }()
	}
	done := make(chan struct{})
	go func() { <-ctx.Done(); t.gate.wake() }()
	go func() { wg.Wait(); close(done) }()
	return done
}

// editor is one concurrent editor.
type editor struct {
	id    int
	t     *test
	pool  []string
	rng   *rand.Rand
	seq   int
	cache map[string]store.Project // the last version of each project this editor read
	acked map[string]uint64        // the highest version this editor was answered 200 with
	retry string                   // the project to edit again after a 412
	tries int

	// Cluster mode: the editor talks to instance home, and while that one is down to the
	// next that answers (at), as a client behind a proxy; when an instance restarts (gen
	// moves) it goes home again.
	home, at int
	gen      uint64
	ackedBy  map[string]int // the instance that answered acked[id]
}

// base is the URL of the server the editor talks to now.
func (e *editor) base() string {
	if e.t.cl == nil {
		return e.t.base
	}
	if g := e.t.cl.gen.Load(); g != e.gen {
		e.gen, e.at = g, e.home
	}
	return "http://" + e.t.cl.inst[e.at].addr
}

// moveOn makes a cluster editor whose server did not answer try the next one.
func (e *editor) moveOn() {
	if e.t.cl != nil {
		e.at = (e.at + 1) % len(e.t.cl.inst)
	}
}

func (e *editor) run(ctx context.Context) {
	for ctx.Err() == nil {
		if !e.t.gate.enter(ctx) {
			return
		}
		backoff := e.step(ctx)
		e.t.gate.leave()
		if backoff {
			time.Sleep(time.Duration(5+e.rng.IntN(15)) * time.Millisecond)
		}
	}
}

// step makes one edit, reading the project first when its version is not known. It returns
// true when the server did not answer, so the editor should wait a little.
func (e *editor) step(ctx context.Context) bool {
	id := e.pool[e.rng.IntN(len(e.pool))]
	if e.retry != "" {
		id, e.retry = e.retry, ""
	}
	cur, ok := e.cache[id]
	if !ok {
		p, err := e.get(ctx, id)
		if err != nil {
			return true
		}
		cur = p
		e.cache[id] = p
	}
	e.seq++
	base := e.base()
	a := &attempt{id: fmt.Sprintf("e%d-%d", e.id, e.seq), project: id, ifMatch: cur.Version, instance: e.at}
	body := map[string]any{"comment": a.id}
	if e.rng.IntN(2) == 0 {
		// A value different from the one read, so an accepted edit always makes a change.
		n := e.rng.IntN(100)
		if n >= cur.Progress {
			n++
		}
		a.field, a.value = "progress", float64(n)
		body["progress"] = n
	} else {
		a.field, a.value = "note", a.id
		body["note"] = a.id
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "PATCH", base+"/api/projects/"+id, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", fmt.Sprintf(`"%d"`, a.ifMatch))
	req.Header.Set("Authorization", "Bearer "+e.t.editorToken)
	a.sentAt = time.Now()
	e.t.ledger.add(a)
	res, err := e.t.client.Do(req)
	if err != nil {
		delete(e.cache, id)
		e.moveOn()
		if errors.Is(err, syscall.ECONNREFUSED) {
			e.t.ledger.settle(a, notSent, 0, err.Error())
		} else {
			e.t.ledger.settle(a, unknown, 0, err.Error())
		}
		return true
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		delete(e.cache, id)
		e.t.ledger.settle(a, unknown, 0, fmt.Sprintf("status %d, body cut: %v", res.StatusCode, err))
		return true
	}
	switch res.StatusCode {
	case http.StatusOK:
		var p store.Project
		if err := json.Unmarshal(raw, &p); err != nil {
			delete(e.cache, id)
			e.t.ledger.settle(a, unknown, 0, fmt.Sprintf("status 200, bad body: %v", err))
			return true
		}
		e.t.ledger.settle(a, acked, p.Version, "")
		e.cache[id], e.acked[id], e.ackedBy[id], e.tries = p, p.Version, a.instance, 0
		if v := fieldValue(&p, a.field); p.Version != a.ifMatch+1 || v != a.value || res.Header.Get("ETag") != fmt.Sprintf(`"%d"`, p.Version) {
			e.t.findings.add(fmt.Sprintf("edit %s: PATCH %s If-Match %d {%s:%v} answered 200 with version %d, ETag %s, %s %v",
				a.id, id, a.ifMatch, a.field, a.value, p.Version, res.Header.Get("ETag"), a.field, v))
		}
	case http.StatusPreconditionFailed:
		// Someone else changed it: read it again and retry (a few times) with its version.
		e.t.ledger.settle(a, refused, 0, "")
		delete(e.cache, id)
		var body struct {
			Current *store.Project `json:"current"`
		}
		if json.Unmarshal(raw, &body) != nil || body.Current == nil || body.Current.Version == a.ifMatch {
			e.t.findings.add(fmt.Sprintf("edit %s: PATCH %s If-Match %d answered 412 with current %.300s", a.id, id, a.ifMatch, raw))
			break
		}
		p, err := e.get(ctx, id)
		if err != nil {
			return true
		}
		// Across instances a read may lag (each view applies the log on its own): only the
		// instance that answered the 412 must show at least that version.
		if p.Version < body.Current.Version && e.at == a.instance {
			e.t.findings.add(fmt.Sprintf("GET %s answered version %d after a 412 said it was at %d", id, p.Version, body.Current.Version))
		}
		e.cache[id] = p
		if e.tries++; e.tries <= 3 {
			e.retry = id
		} else {
			e.tries = 0
		}
	case http.StatusServiceUnavailable:
		delete(e.cache, id)
		e.t.ledger.settle(a, unknown, 0, "status 503")
		if e.t.cl == nil {
			e.t.findings.add(fmt.Sprintf("edit %s: PATCH %s answered 503: %s", a.id, id, bytes.TrimSpace(raw)))
		}
		// On a cluster: etcd had no leader for longer than the instance waits (--etcd-timeout);
		// the entry may have committed all the same.
		return true
	default:
		// Nothing else is expected from these requests; the outcome is unknown and it is a finding.
		delete(e.cache, id)
		e.t.ledger.settle(a, unknown, 0, fmt.Sprintf("status %d", res.StatusCode))
		e.t.findings.add(fmt.Sprintf("edit %s: PATCH %s answered %d: %s", a.id, id, res.StatusCode, bytes.TrimSpace(raw)))
	}
	return false
}

func (e *editor) get(ctx context.Context, id string) (store.Project, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base()+"/api/projects/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+e.t.editorToken)
	res, err := e.t.client.Do(req)
	if err != nil {
		e.moveOn()
		return store.Project{}, err
	}
	defer res.Body.Close()
	var p store.Project
	if res.StatusCode != http.StatusOK {
		e.t.findings.add(fmt.Sprintf("GET %s answered %d", id, res.StatusCode))
		return p, fmt.Errorf("GET %s: %d", id, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		return p, err
	}
	// An acknowledged edit is durable: no read, also after a restart, may show an older version
	// (on a cluster: no read from the instance that acknowledged it; another may lag).
	if p.Version < e.acked[id] && e.t.cl != nil && e.at != e.ackedBy[id] {
		e.t.cl.staleReads.Add(1)
	} else if p.Version < e.acked[id] {
		e.t.findings.add(fmt.Sprintf("GET %s answered version %d, but editor %d had been answered 200 with version %d",
			id, p.Version, e.id, e.acked[id]))
	}
	return p, nil
}

// fieldValue is a project's field as JSON decodes it, for the fields the editors change.
func fieldValue(p *store.Project, field string) any {
	switch field {
	case "progress":
		return float64(p.Progress)
	case "note":
		return p.Note
	}
	return nil
}
