package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"projectboard/scripts/internal/harness"
)

// api talks HTTP to the server under test: the shared JSON client (every request carries
// the server's own Origin, as the browser UI's do) and the calls soak makes with it.
type api struct {
	*harness.API
}

func newAPI(addr string, conns int) *api {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DisableCompression: true}
	return &api{&harness.API{Base: "http://" + addr, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}}
}

// tokens logs in as admin and makes the display token the screens use and the editor api
// token the editors use.
func (a *api) tokens(ctx context.Context) (display, editor string, err error) {
	if err := a.Login(ctx, adminPassword); err != nil {
		return "", "", err
	}
	if display, err = a.NewToken(ctx, "display", screenTokenName, ""); err != nil {
		return "", "", err
	}
	if editor, err = a.NewToken(ctx, "api", editorTokenName, "editor"); err != nil {
		return "", "", err
	}
	if display == "" || editor == "" {
		return "", "", fmt.Errorf("POST /api/tokens answered without a token")
	}
	return display, editor, nil
}

// projectList is GET /api/projects with each project kept as the server's JSON.
type projectList struct {
	Rev      uint64            `json:"rev"`
	Projects []json.RawMessage `json:"projects"`
}

// projects returns the current projects by id, as JSON, and the revision.
func (a *api) projects(ctx context.Context) (map[string]json.RawMessage, uint64, error) {
	var l projectList
	if _, err := a.Call(ctx, "GET", "/api/projects", "", nil, nil, &l); err != nil {
		return nil, 0, err
	}
	m := make(map[string]json.RawMessage, len(l.Projects))
	for _, p := range l.Projects {
		var h projectHead
		if err := json.Unmarshal(p, &h); err != nil || h.ID == "" {
			return nil, 0, fmt.Errorf("GET /api/projects: a project without an id: %.200s", p)
		}
		m[h.ID] = p
	}
	return m, l.Rev, nil
}

// changes pages through GET /api/changes from since to the end.
func (a *api) changes(ctx context.Context, since uint64) ([]logChange, error) {
	const page = 1000
	var all []logChange
	for {
		var r struct {
			Changes []logChange `json:"changes"`
		}
		if _, err := a.Call(ctx, "GET", fmt.Sprintf("/api/changes?since=%d&limit=%d", since, page), "", nil, nil, &r); err != nil {
			return nil, err
		}
		all = append(all, r.Changes...)
		if len(r.Changes) < page {
			return all, nil
		}
		since = r.Changes[len(r.Changes)-1].Rev
	}
}

// projectHead is the part of a project soak reads.
type projectHead struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	Note    string `json:"note"`
}
