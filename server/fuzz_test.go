package server

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// FuzzLoginBody: any login body gets a clear answer, never a 5xx.
func FuzzLoginBody(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{`{"username":"admin","password":"x"}`, `{"username":1}`, `{}`, `{"username":"a","extra":1}`, "\xff", ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/session", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "192.0.2.1")
		res, err := fx.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode >= 500 || res.StatusCode == 200 {
			t.Fatalf("body %q: got %d", body, res.StatusCode)
		}
	})
}

// FuzzQueryParams: any query string on the read routes gets 200 or 400, never a 5xx.
func FuzzQueryParams(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{"year=2022", "since=5&limit=1000", "limit=-1", "year=99999999999999999999", "category=%00", "department=%E5%BB%BA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, path := range []string{"/api/summary", "/api/changes", "/api/projects/P1/changes"} {
			req := httptest.NewRequest("GET", "/", nil)
			// Any bytes, but percent-encoded as a browser would send them.
			values, _ := url.ParseQuery(q)
			req.URL.Path, req.URL.RawQuery = path, values.Encode()
			req.RequestURI = ""
			req.Header.Set("Authorization", "Bearer "+fx.display)
			res, err := fx.srv.App().Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 200 && res.StatusCode != 400 {
				t.Fatalf("%s?%s: got %d", path, q, res.StatusCode)
			}
		}
	})
}

// FuzzForwardedFor: any X-Forwarded-For gives an address that is the peer or one of the
// header's hops, never a panic.
func FuzzForwardedFor(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "203.0.113.5, 198.51.100.7", "10.0.0.2, 10.0.0.3", "::ffff:1.2.3.4", ", ,", "garbage", "1.2.3.4:80", "[::1]"} {
		f.Add(s)
	}
	s := &Server{proxies: parseProxies([]string{"10.0.0.0/8"})}
	app := fiber.New()
	f.Fuzz(func(t *testing.T, xff string) {
		var req fasthttp.Request
		req.Header.Set("X-Forwarded-For", xff)
		var fctx fasthttp.RequestCtx
		fctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 4000}, nil)
		c := app.AcquireCtx(&fctx)
		defer app.ReleaseCtx(c)
		got := s.clientIP(c)
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("%q: got %q, not an address", xff, got)
		}
		if got == "10.0.0.1" {
			return
		}
		for _, hop := range strings.Split(string(req.Header.Peek("X-Forwarded-For")), ",") {
			if h, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && h.Unmap() == a {
				return
			}
		}
		t.Fatalf("%q: got %q, neither the peer nor a hop", xff, got)
	})
}
