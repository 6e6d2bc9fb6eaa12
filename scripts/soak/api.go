package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// api talks HTTP to the server under test. Every request carries the server's own Origin,
// as the browser UI's do.
type api struct {
	base   string // http://127.0.0.1:PORT, also the Origin
	http   *http.Client
	cookie string // the admin session, "pb_session=…"
}

func newAPI(addr string, conns int) *api {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DisableCompression: true}
	return &api{base: "http://" + addr, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request and returns the status and body whatever the status. bearer, if set,
// replaces the admin session.
func (a *api) do(ctx context.Context, method, path, bearer string, hdr map[string]string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Origin", a.base)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else if a.cookie != "" {
		req.Header.Set("Cookie", a.cookie)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, err
	}
	if method == "POST" && path == "/api/session" {
		for _, c := range res.Cookies() {
			if c.Name == "pb_session" {
				a.cookie = c.Name + "=" + c.Value
			}
		}
	}
	return res.StatusCode, b, nil
}

// call is do for requests that must succeed with a 2xx; it decodes the body into out.
func (a *api) call(ctx context.Context, method, path string, body, out any) error {
	status, b, err := a.do(ctx, method, path, "", nil, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// tokens logs in as admin and makes the display token the screens use and the editor api
// token the editors use.
func (a *api) tokens(ctx context.Context) (display, editor string, err error) {
	if err := a.call(ctx, "POST", "/api/session", map[string]string{"username": "admin", "password": adminPassword}, nil); err != nil {
		return "", "", fmt.Errorf("login: %w", err)
	}
	if a.cookie == "" {
		return "", "", fmt.Errorf("login: no pb_session cookie")
	}
	var d, e struct {
		Token string `json:"token"`
	}
	if err := a.call(ctx, "POST", "/api/tokens", map[string]string{"kind": "display", "name": screenTokenName}, &d); err != nil {
		return "", "", err
	}
	if err := a.call(ctx, "POST", "/api/tokens", map[string]string{"kind": "api", "name": editorTokenName, "role": "editor"}, &e); err != nil {
		return "", "", err
	}
	if d.Token == "" || e.Token == "" {
		return "", "", fmt.Errorf("POST /api/tokens answered without a token")
	}
	return d.Token, e.Token, nil
}

// projectList is GET /api/projects with each project kept as the server's JSON.
type projectList struct {
	Rev      uint64            `json:"rev"`
	Projects []json.RawMessage `json:"projects"`
}

// projects returns the current projects by id, as JSON, and the revision.
func (a *api) projects(ctx context.Context) (map[string]json.RawMessage, uint64, error) {
	var l projectList
	if err := a.call(ctx, "GET", "/api/projects", nil, &l); err != nil {
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
		if err := a.call(ctx, "GET", fmt.Sprintf("/api/changes?since=%d&limit=%d", since, page), nil, &r); err != nil {
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
