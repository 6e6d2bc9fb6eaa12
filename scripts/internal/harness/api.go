package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// API is a JSON client of a projectboard server. Every request carries the server's own
// Origin, as the browser UI's do, and the admin session once Login has got one.
type API struct {
	Base   string       // http://HOST:PORT, also the Origin
	HTTP   *http.Client // the client every request goes through
	Cookie string       // the admin session, "pb_session=…", set by Login
}

// Do sends a request with body (if not nil) as JSON and returns the status and body
// whatever the status. bearer, if set, is sent as the Authorization instead of the
// session; hdr adds headers. A POST /api/session keeps the pb_session cookie it is given.
func (a *API) Do(ctx context.Context, method, path, bearer string, hdr map[string]string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Origin", a.Base)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else if a.Cookie != "" {
		req.Header.Set("Cookie", a.Cookie)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := a.HTTP.Do(req)
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
				a.Cookie = c.Name + "=" + c.Value
			}
		}
	}
	return res.StatusCode, b, nil
}

// Call is Do for a request that must succeed: a status other than 2xx is an error, and a
// 2xx body is decoded into out unless out is nil. It returns the status when it has one.
func (a *API) Call(ctx context.Context, method, path, bearer string, hdr map[string]string, body, out any) (int, error) {
	status, b, err := a.Do(ctx, method, path, bearer, hdr, body)
	if err != nil {
		return status, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status/100 != 2 {
		return status, fmt.Errorf("%s %s: %d %s", method, path, status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return status, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return status, nil
}

// Login logs in as admin with password and keeps the session for later requests.
func (a *API) Login(ctx context.Context, password string) error {
	if _, err := a.Call(ctx, "POST", "/api/session", "", nil, map[string]string{"username": "admin", "password": password}, nil); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if a.Cookie == "" {
		return errors.New("login: no pb_session cookie")
	}
	return nil
}

// NewToken makes a token with the admin session (see Login) and returns its secret: kind
// "display" (role is not sent then) or "api" with role.
func (a *API) NewToken(ctx context.Context, kind, name, role string) (string, error) {
	req := map[string]string{"kind": kind, "name": name}
	if role != "" {
		req["role"] = role
	}
	var tok struct {
		Token string `json:"token"`
	}
	if _, err := a.Call(ctx, "POST", "/api/tokens", "", nil, req, &tok); err != nil {
		return "", err
	}
	return tok.Token, nil
}
