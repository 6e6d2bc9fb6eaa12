package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"projectboard/scripts/internal/harness"
)

// api talks HTTP to a target: login, tokens, projects, edits, the change log. Every request
// carries the target's own Origin, as a browser would.
type api struct {
	*harness.API
	apiToken     string
	displayToken string
}

func newAPI(base string) *api {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}
	return &api{API: &harness.API{Base: base, HTTP: &http.Client{Transport: tr, Timeout: 120 * time.Second}}}
}

// do is a request that must succeed, with the editor api token once login has made it and
// the admin session before; a 2xx body is decoded into out unless out is nil.
func (a *api) do(ctx context.Context, method, path string, body any, hdr map[string]string, out any) (int, error) {
	return a.Call(ctx, method, path, a.apiToken, hdr, body, out)
}

// login gets a session, then a display token for the screens and an editor api token.
func (a *api) login(ctx context.Context) error {
	if err := a.Login(ctx, adminPassword); err != nil {
		return err
	}
	var err error
	if a.displayToken, err = a.NewToken(ctx, "display", "load", ""); err != nil {
		return err
	}
	a.apiToken, err = a.NewToken(ctx, "api", "load", "editor")
	return err
}

type meta struct {
	Epoch string `json:"epoch"`
	Rev   uint64 `json:"rev"`
}

func (a *api) meta(ctx context.Context) (meta, error) {
	var m meta
	_, err := a.do(ctx, "GET", "/api/meta", nil, nil, &m)
	return m, err
}

// project is what the editor keeps of a project; mu serialises edits of one project so
// that If-Match always holds.
type project struct {
	mu       sync.Mutex
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Progress int    `json:"progress"`
	edits    int    // in the current phase
}

// edit is one PATCH: what was sent, when, and (after resolve) the revision it got.
type edit struct {
	projectID string
	nth       int // this project's nth edit in the phase, from 0
	sent      time.Time
	rtt       time.Duration
	rev       uint64
	err       error
}

// editor drives PATCHes round-robin over the projects, so concurrent edits touch distinct
// projects and none gets a 412.
type editor struct {
	api      *api
	projects []*project
	next     atomic.Int64
}

func newEditor(ctx context.Context, a *api) (*editor, error) {
	var list struct {
		Projects []*project `json:"projects"`
	}
	if _, err := a.do(ctx, "GET", "/api/projects", nil, nil, &list); err != nil {
		return nil, err
	}
	// A completed project's progress must stay 100: edits move the others' between 0 and 99.
	var editable []*project
	for _, p := range list.Projects {
		if p.Progress < 100 {
			editable = append(editable, p)
		}
	}
	if len(editable) == 0 {
		return nil, fmt.Errorf("the target has no projects to edit")
	}
	return &editor{api: a, projects: editable}, nil
}

// newPhase resets the per-project counters used to match edits to revisions.
func (e *editor) newPhase() {
	for _, p := range e.projects {
		p.mu.Lock()
		p.edits = 0
		p.mu.Unlock()
	}
}

// edit PATCHes the next project's progress to a new value, one up (or down from 99).
func (e *editor) edit(ctx context.Context) edit {
	p := e.projects[int(e.next.Add(1)-1)%len(e.projects)]
	p.mu.Lock()
	defer p.mu.Unlock()
	progress := p.Progress + 1
	if progress > 99 {
		progress = p.Progress - 1
	}
	var out project
	ed := edit{projectID: p.ID, nth: p.edits, sent: time.Now()}
	_, err := e.api.do(ctx, "PATCH", "/api/projects/"+p.ID, map[string]int{"progress": progress},
		map[string]string{"If-Match": `"` + strconv.FormatInt(p.Version, 10) + `"`}, &out)
	ed.rtt = time.Since(ed.sent)
	if err != nil {
		ed.err = err
		return ed
	}
	p.Version, p.Progress = out.Version, out.Progress
	p.edits++
	return ed
}

// resolve finds each edit's revision in the change log after base: a project's nth change
// there is its nth edit, because edits of one project are serialised.
func (e *editor) resolve(ctx context.Context, base uint64, edits []edit) error {
	type key struct {
		id string
		n  int
	}
	revs := map[key]uint64{}
	seen := map[string]int{}
	since := base
	for {
		var page struct {
			Changes []struct {
				Rev       uint64 `json:"rev"`
				ProjectID string `json:"projectId"`
			} `json:"changes"`
		}
		if _, err := e.api.do(ctx, "GET", "/api/changes?since="+strconv.FormatUint(since, 10)+"&limit=1000", nil, nil, &page); err != nil {
			return err
		}
		for _, c := range page.Changes {
			revs[key{c.ProjectID, seen[c.ProjectID]}] = c.Rev
			seen[c.ProjectID]++
			since = c.Rev
		}
		if len(page.Changes) < 1000 {
			break
		}
	}
	for i := range edits {
		if edits[i].err != nil {
			continue
		}
		r, ok := revs[key{edits[i].projectID, edits[i].nth}]
		if !ok {
			return fmt.Errorf("edit of %s (#%d) not in the change log", edits[i].projectID, edits[i].nth)
		}
		edits[i].rev = r
	}
	return nil
}

// metrics reads our server's /metrics (admin session): the unlabelled samples by name.
func (a *api) metrics(ctx context.Context) (map[string]float64, error) {
	status, b, err := a.Do(ctx, "GET", "/metrics", "", nil, nil)
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("GET /metrics: %d", status)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			m[name] = v
		}
	}
	return m, nil
}
