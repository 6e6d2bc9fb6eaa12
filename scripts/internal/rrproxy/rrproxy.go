// Package rrproxy is a round-robin reverse proxy in front of several projectboard instances
// of one cluster, for demos and tests on one machine (pbproxy, cluster). Any instance can
// answer any request — sessions and edits are the cluster's — so the proxy needs no
// stickiness: it sends each request to the next backend, passes websocket upgrades through,
// and skips a backend that refuses connections, so a killed instance costs no request.
//
// The server compares a request's Origin with its own scheme and host, so the proxy keeps the
// client's Host header. It sets X-Forwarded-For to the client's address and X-Forwarded-Proto,
// for servers that list it in --trusted-proxies, and drops any X-Forwarded-* the client sent:
// it is the first proxy, so nothing before it can be vouched for.
package rrproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often Run asks every backend's /healthz when
// Options.CheckInterval is zero.
const DefaultCheckInterval = 500 * time.Millisecond

// Options tune a Proxy. The zero value is the documented defaults.
type Options struct {
	// CheckInterval is how often Run probes every backend; DefaultCheckInterval when zero.
	CheckInterval time.Duration
	// Log receives a line when a backend goes down or comes back and one per failed
	// request; slog.Default() when nil.
	Log *slog.Logger
}

// Proxy is an http.Handler that spreads requests over its backends in turn.
type Proxy struct {
	backends []*backend
	next     atomic.Uint64
	rp       *httputil.ReverseProxy
	probe    *http.Client
	interval time.Duration
	log      *slog.Logger
}

// backend is one instance. down is set when a dial to it fails or its /healthz does not
// answer 200, and cleared when /healthz does again.
type backend struct {
	url  *url.URL
	down atomic.Bool
}

// New returns a proxy for backends, each an http:// or https:// URL with a host and no path
// (http://127.0.0.1:8081). Call Run to have backends that went down come back.
func New(backends []string, opt Options) (*Proxy, error) {
	if len(backends) == 0 {
		return nil, errors.New("no backends: name at least one, e.g. http://127.0.0.1:8081")
	}
	p := &Proxy{interval: opt.CheckInterval, log: opt.Log}
	if p.interval <= 0 {
		p.interval = DefaultCheckInterval
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	for _, s := range backends {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("backend %q: want a URL such as http://127.0.0.1:8081, without a path", s)
		}
		p.backends = append(p.backends, &backend{url: &url.URL{Scheme: u.Scheme, Host: u.Host}})
	}

	// The dial timeout is short: the backends are near, and a dial that fails is retried on
	// the next backend while the client waits.
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	tr.MaxIdleConnsPerHost = 64
	p.probe = &http.Client{Transport: tr, Timeout: time.Second}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Rewrite leaves the outbound Host as the client sent it (SetURL would replace
			// it); the backend is chosen per attempt, in balancer.RoundTrip.
			pr.SetXForwarded()
		},
		Transport:    &balancer{p: p, transport: tr},
		ErrorHandler: p.fail,
	}
	return p, nil
}

// ServeHTTP proxies one request, a websocket upgrade included.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.rp.ServeHTTP(w, r)
}

// Run probes every backend's GET /healthz each CheckInterval until ctx is done, marking a
// backend that does not answer 200 down (requests skip it) and one that does up again.
func (p *Proxy) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, b := range p.backends {
			wg.Go(func() { p.check(ctx, b) })
		}
		wg.Wait()
	}
}

func (p *Proxy) check(ctx context.Context, b *backend) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url.String()+"/healthz", nil)
	if err != nil {
		return
	}
	res, err := p.probe.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			err = fmt.Errorf("/healthz answered %s", res.Status)
		}
	}
	if ctx.Err() != nil {
		return // stopping: a cancelled probe says nothing about the backend
	}
	if err != nil {
		p.markDown(b, err)
	} else if b.down.CompareAndSwap(true, false) {
		p.log.Info("backend is back", "backend", b.url.String())
	}
}

func (p *Proxy) markDown(b *backend, why error) {
	if b.down.CompareAndSwap(false, true) {
		p.log.Warn("backend down: requests go to the others until its /healthz answers", "backend", b.url.String(), "err", why)
	}
}

// order is the backends to try for one request: starting at the next in turn, those up
// first, then those marked down (the mark may be older than a restart).
func (p *Proxy) order() []*backend {
	n := len(p.backends)
	start := int(p.next.Add(1)-1) % n
	up := make([]*backend, 0, n)
	var down []*backend
	for i := range n {
		b := p.backends[(start+i)%n]
		if b.down.Load() {
			down = append(down, b)
		} else {
			up = append(up, b)
		}
	}
	return append(up, down...)
}

func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody is left to answer
	}
	p.log.Warn("proxied request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "projectboard proxy: no backend answered ("+err.Error()+"); check that an instance is running", http.StatusBadGateway)
}

// balancer sends a request to the backends in p.order, moving on to the next when a dial
// fails. Nothing of the request has been sent then, so this is safe for every method,
// POST and PATCH included; any other error is the answer.
type balancer struct {
	p         *Proxy
	transport http.RoundTripper
}

func (bl *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *unclosed
	if req.Body != nil {
		// The transport closes a request's body even when the dial fails; the next attempt
		// needs it open. ReverseProxy closes the original when the request is done.
		body = &unclosed{r: req.Body}
	}
	var errs []error
	for _, b := range bl.p.order() {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = b.url.Scheme, b.url.Host
		if body != nil {
			out.Body = body
		}
		res, err := bl.transport.RoundTrip(out)
		if err == nil {
			return res, nil
		}
		if !isDialError(err) || (body != nil && body.read.Load()) || req.Context().Err() != nil {
			return nil, err
		}
		bl.p.markDown(b, err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unclosed is a request body that outlives a failed attempt: Close does nothing, and read
// says whether any attempt has read from it (then it cannot be sent again).
type unclosed struct {
	r    io.Reader
	read atomic.Bool
}

func (u *unclosed) Read(b []byte) (int, error) {
	u.read.Store(true)
	return u.r.Read(b)
}

func (u *unclosed) Close() error { return nil }
