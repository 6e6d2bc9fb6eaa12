package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"projectboard/server/hub"
	"projectboard/store"
)

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func login(f *fixture, user, password string, header map[string]string) *http.Response {
	return f.do("POST", "/api/session", "", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password), header)
}

func retryAfter(t *testing.T, res *http.Response) int {
	t.Helper()
	n, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", res.Header.Get("Retry-After"), err)
	}
	return n
}

// Parallel guesses for one account: the attempt is reserved before the hash, so only one of
// them is checked (before, all 40 were hashed and answered 401).
func TestParallelGuessesHashOnce(t *testing.T) {
	f := newFixture(t)
	before := f.store.PasswordChecks()
	codes := parallelLogins(f, 40, func(i int) (string, map[string]string) { return "viewer", nil })
	if hashed := f.store.PasswordChecks() - before; hashed != 1 {
		t.Fatalf("%d passwords hashed for 40 parallel guesses, want 1 (answers %v)", hashed, codes)
	}
	if codes[401] != 1 || codes[429] != 39 {
		t.Fatalf("got answers %v, want one 401 and 39 × 429", codes)
	}
}

// Parallel guesses for 40 accounts from 40 addresses: never more than two hashes at once,
// the rest answered 429 at once rather than queued (each argon2id hash takes 64 MiB).
func TestParallelLoginsCapHashes(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.TrustedProxies = []string{"0.0.0.0"} })
	before := f.store.PasswordChecks()
	codes := parallelLogins(f, 40, func(i int) (string, map[string]string) {
		return fmt.Sprintf("user%d", i), map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)}
	})
	hashed := f.store.PasswordChecks() - before
	if peak := f.srv.throttle.peak.Load(); peak > 2 {
		t.Fatalf("%d password checks ran at once, want at most 2", peak)
	}
	if int(hashed) != codes[401] || codes[401]+codes[429] != 40 || codes[401] == 0 {
		t.Fatalf("%d hashed, answers %v: want every attempt either hashed (401) or refused at once (429)", hashed, codes)
	}
}

func parallelLogins(f *fixture, n int, who func(i int) (string, map[string]string)) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user, header := who(i)
			<-start
			res := login(f, user, fmt.Sprintf("wrong guess %d", i), header)
			mu.Lock()
			codes[res.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// Wrong passwords make the account wait a short, growing time — never the 15 minutes that
// five guesses by a stranger used to cost the account's owner.
func TestWrongPasswordsNeverLockOutForLong(t *testing.T) {
	clk := newClock()
	f := newFixture(t, func(c *Config) { c.Now = clk.Now })
	var waits []int
	for i := 0; i < 12; i++ {
		if res := login(f, "viewer", "wrong password", nil); res.StatusCode != 401 {
			t.Fatalf("guess %d: got %d, want 401", i, res.StatusCode)
		}
		res := login(f, "VIEWER", testPassword, nil) // the same account, however it is typed
		if res.StatusCode != 429 {
			t.Fatalf("right password right after guess %d: got %d, want 429", i, res.StatusCode)
		}
		w := retryAfter(t, res)
		waits = append(waits, w)
		clk.Add(time.Duration(w) * time.Second)
	}
	want := []int{1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("got waits %v s, want %v", waits, want)
	}
	if res := login(f, "Viewer", testPassword, nil); res.StatusCode != 200 {
		t.Fatalf("right password after the wait: got %d, want 200", res.StatusCode)
	}
	// A success clears the account: the next typo costs a second again.
	login(f, "viewer", "wrong password", nil)
	if res := login(f, "viewer", testPassword, nil); retryAfter(t, res) != 1 {
		t.Fatalf("after a success the wait is %s s, want 1", res.Header.Get("Retry-After"))
	}
}

// An address that guesses much is held back; another address's admin logs in untouched. A
// client behind a trusted proxy cannot pick its own bucket by writing X-Forwarded-For: the
// right-most address that is not a trusted proxy is its address.
func TestAddressLimitAndForwardedFor(t *testing.T) {
	clk := newClock()
	f := newFixture(t, func(c *Config) { c.Now = clk.Now; c.TrustedProxies = []string{"0.0.0.0", "10.0.0.0/8"} })
	for i := range 20 {
		// Each guess claims another address, left of what the proxy appended.
		h := map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d, 198.51.100.7, 10.0.0.2", i)}
		if res := login(f, fmt.Sprintf("guess%d", i), "wrong password", h); res.StatusCode != 401 {
			t.Fatalf("guess %d: got %d", i, res.StatusCode)
		}
	}
	res := login(f, "admin", testPassword, map[string]string{"X-Forwarded-For": "203.0.113.99, 198.51.100.7"})
	if res.StatusCode != 429 {
		t.Fatalf("21st login from 198.51.100.7: got %d, want 429", res.StatusCode)
	}
	if code, _ := errorOf(t, res); code != "too_many_requests" {
		t.Fatalf("got code %s", code)
	}
	if res := login(f, "admin", testPassword, map[string]string{"X-Forwarded-For": "192.0.2.1"}); res.StatusCode != 200 {
		t.Fatalf("admin from another address: got %d, want 200", res.StatusCode)
	}
	// The address gets an attempt back every 15 s.
	clk.Add(15 * time.Second)
	if res := login(f, "admin", testPassword, map[string]string{"X-Forwarded-For": "198.51.100.7"}); res.StatusCode != 200 {
		t.Fatalf("after 15 s: got %d, want 200", res.StatusCode)
	}
}

func TestClientIP(t *testing.T) {
	s := &Server{proxies: parseProxies([]string{"10.0.0.0/8", "::1", "192.0.2.200"})}
	app := fiber.New()
	for _, tc := range []struct{ peer, xff, want string }{
		{"192.0.2.50", "203.0.113.5", "192.0.2.50"}, // not from a trusted proxy: the header is ignored
		{"10.0.0.1", "", "10.0.0.1"},
		{"10.0.0.1", "192.0.2.1", "192.0.2.1"},
		{"10.0.0.1", "203.0.113.5, 198.51.100.7", "198.51.100.7"},
		{"10.0.0.1", "203.0.113.5, 198.51.100.7, 192.0.2.200", "198.51.100.7"},
		{"10.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"}, // all trusted: the farthest one
		{"10.0.0.1", "198.51.100.7, garbage, 10.1.1.1", "10.1.1.1"},
		{"10.0.0.1", "::ffff:192.0.2.9", "192.0.2.9"},
		{"::1", "2001:db8::1", "2001:db8::1"},
	} {
		var req fasthttp.Request
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		var fctx fasthttp.RequestCtx
		fctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(tc.peer), Port: 4000}, nil)
		c := app.AcquireCtx(&fctx)
		if got := s.clientIP(c); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: got %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
		app.ReleaseCtx(c)
	}
}

// rawHTTP sends bytes to a live server and returns the whole answer.
func rawHTTP(t *testing.T, addr, req string) (status int, head http.Header, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// Requests fasthttp refuses before any route runs get a fixed message — never the request's
// own text, which carries its cookies and tokens — and the same security headers as every
// other answer.
func TestLowLevelErrorsEchoNothing(t *testing.T) {
	l := startLive(t)
	for _, tc := range []struct {
		name string
		req  string
		want int
	}{
		{"two Host headers", "GET /api/me HTTP/1.1\r\nHost: h\r\nCookie: pb_session=SECRET\r\nAuthorization: Bearer pb_SECRET\r\nHost: b\r\n\r\n", 400},
		{"headers too large", "GET /api/me HTTP/1.1\r\nHost: h\r\nCookie: pb_session=SECRET\r\nX-Pad: " + strings.Repeat("a", 5000) + "\r\n\r\n", 431},
		{"body too large", "POST /api/session HTTP/1.1\r\nHost: h\r\nCookie: pb_session=SECRET\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{}", 413},
		{"bad request line", "GET /api/me?x=SECRET HTTP/1.1 junk\r\nHost: h\r\n\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, head, body := rawHTTP(t, l.addr, tc.req)
			if status != tc.want {
				t.Fatalf("got %d %s, want %d", status, body, tc.want)
			}
			if strings.Contains(body, "SECRET") || strings.Contains(body, "Cookie") {
				t.Fatalf("the answer quotes the request: %s", body)
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if head.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if !strings.Contains(body, `"code"`) {
				t.Errorf("not a JSON error body: %s", body)
			}
		})
	}
	// A multipart body is not parsed before the login check: an anonymous, malformed one is
	// answered 401, not 400 from a parser that ran first.
	mp := "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + strings.Repeat("v", 100) // never closed
	status, _, body := rawHTTP(t, l.addr, fmt.Sprintf("PATCH /api/projects/P1 HTTP/1.1\r\nHost: h\r\n"+
		"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n%s", len(mp), mp))
	if status != 401 {
		t.Fatalf("anonymous multipart body: got %d %s, want 401", status, body)
	}
}

// An api token acts for its owner and dies with it; a token named like a person is logged
// as a token; the last admin stays an admin.
func TestTokensBelongToTheirOwner(t *testing.T) {
	l := startLive(t)
	f := l.f
	// A second admin creates an admin api token named like an existing user.
	if res := f.do("POST", "/api/users", "admin", `{"username":"boss","password":"`+testPassword+`","role":"admin"}`, nil); res.StatusCode != 201 {
		t.Fatalf("create boss: %d", res.StatusCode)
	}
	f.cookies["boss"] = sessionOf(t, login(f, "boss", testPassword, nil))
	res := f.do("POST", "/api/tokens", "boss", `{"kind":"api","name":"viewer","role":"admin"}`, nil)
	tok := decodeJSON[struct{ ID, Token, Owner string }](t, res)
	if res.StatusCode != 201 || tok.Owner != "boss" {
		t.Fatalf("create token: %d owner %q", res.StatusCode, tok.Owner)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok.Token}
	// Its edit is attributed to the token, not to the user "viewer".
	res = f.do("PATCH", "/api/projects/P1", "", `{"progress":7}`, map[string]string{"Authorization": "Bearer " + tok.Token, "If-Match": `"1"`})
	if p := decodeJSON[store.Project](t, res); p.UpdatedBy != "token:viewer" {
		t.Fatalf("edit by the token: updatedBy %q, want token:viewer", p.UpdatedBy)
	}
	// Its websocket closes when its owner is deleted, and the token stops working.
	c, _, err := l.dial(t, "token="+tok.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.next()
	if res := f.do("DELETE", "/api/users/boss", "admin", "", nil); res.StatusCode != 204 {
		t.Fatalf("delete boss: %d", res.StatusCode)
	}
	if code := c.closeCode(); code != int(hub.CodeRevoked) {
		t.Fatalf("token's socket: got close %d, want %d", code, hub.CodeRevoked)
	}
	if res := f.do("GET", "/api/users", "", "", bearer); res.StatusCode != 401 {
		t.Fatalf("token of a deleted admin: got %d, want 401", res.StatusCode)
	}
	// Demoting an account revokes its tokens too.
	res = f.do("POST", "/api/tokens", "admin", `{"kind":"api","name":"script","role":"editor"}`, nil)
	tok2 := decodeJSON[struct{ Token string }](t, res)
	f.do("POST", "/api/users", "admin", `{"username":"second","password":"`+testPassword+`","role":"admin"}`, nil)
	f.cookies["second"] = sessionOf(t, login(f, "second", testPassword, nil))
	if res := f.do("PATCH", "/api/users/admin", "second", `{"role":"editor"}`, nil); res.StatusCode != 200 {
		t.Fatalf("demote admin: %d", res.StatusCode)
	}
	if res := f.do("GET", "/api/projects", "", "", map[string]string{"Authorization": "Bearer " + tok2.Token}); res.StatusCode != 401 {
		t.Fatalf("token of a demoted account: got %d, want 401", res.StatusCode)
	}
	// "second" is now the only admin: it can be neither demoted nor deleted.
	res = f.do("PATCH", "/api/users/SECOND", "second", `{"role":"viewer"}`, nil)
	if code, _ := errorOf(t, res); res.StatusCode != 409 || code != "last_admin" {
		t.Fatalf("demote the last admin: got %d %s, want 409 last_admin", res.StatusCode, code)
	}
	if u, _ := f.store.User("second"); u.Role != store.RoleAdmin {
		t.Fatalf("the last admin is now %s", u.Role)
	}
	// (deleting oneself is refused on its own; another account could not be the last admin)
	if _, err := f.store.DeleteUser("second"); err == nil {
		t.Fatal("the store deleted the last admin")
	}
	// A token's name cannot be a user's: token:… can never be a username.
	if res := f.do("POST", "/api/users", "second", `{"username":"token:x","password":"`+testPassword+`","role":"viewer"}`, nil); res.StatusCode != 422 {
		t.Fatalf("a user named token:x: got %d, want 422", res.StatusCode)
	}
}

func sessionOf(t *testing.T, res *http.Response) string {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	t.Fatalf("no session cookie (status %d)", res.StatusCode)
	return ""
}

// Every free-text field goes through one check: length, control characters, bidirectional
// overrides and invisible characters are refused with the field named, and nothing changes.
func TestFreeTextValidation(t *testing.T) {
	f := newFixture(t)
	rev := f.store.Rev()
	long := strings.Repeat("x", 1519)
	for _, tc := range []struct {
		name, method, target, body, field string
		header                            map[string]string
	}{
		{"delete comment with ESC and NUL", "DELETE", "/api/projects/P1?comment=a%1B%00b", "", "comment", map[string]string{"If-Match": `"1"`}},
		{"delete comment too long", "DELETE", "/api/projects/P1?comment=" + long, "", "comment", map[string]string{"If-Match": `"1"`}},
		{"patch comment with U+202E", "PATCH", "/api/projects/P1", `{"progress":3,"comment":"ok \u202Egnp.exe"}`, "comment", map[string]string{"If-Match": `"1"`}},
		{"name with a C1 control", "PATCH", "/api/projects/P1", `{"name":"影视\u0085产业园"}`, "name", map[string]string{"If-Match": `"1"`}},
		{"name with a zero-width space", "PATCH", "/api/projects/P1", `{"name":"影视\u200B产业园"}`, "name", map[string]string{"If-Match": `"1"`}},
		{"name with a newline", "PATCH", "/api/projects/P1", `{"name":"影视\n产业园"}`, "name", map[string]string{"If-Match": `"1"`}},
		{"leader with a bidi isolate", "PATCH", "/api/projects/P1", `{"leader":"\u2067王\u2069"}`, "leader", map[string]string{"If-Match": `"1"`}},
		{"new project with U+202E", "POST", "/api/projects", `{"name":"a\u202Eb","category":"planned","year":2022,"sector":"x","department":"y","stage":"preparing"}`, "name", nil},
		{"display name with ESC", "POST", "/api/users", `{"username":"zed","password":"` + testPassword + `","role":"viewer","displayName":"\u001b[31m"}`, "displayName", nil},
		{"department with a zero-width joiner", "POST", "/api/users", `{"username":"zed","password":"` + testPassword + `","role":"viewer","departments":["教育\u200D局"]}`, "departments", nil},
		{"token name with U+202E", "POST", "/api/tokens", `{"kind":"display","name":"wall\u202E"}`, "name", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(tc.method, tc.target, "admin", tc.body, tc.header)
			code, field := errorOf(t, res)
			if res.StatusCode != 422 || field != tc.field {
				t.Fatalf("got %d %s field %q, want 422 field %q", res.StatusCode, code, field, tc.field)
			}
		})
	}
	if f.store.Rev() != rev {
		t.Fatalf("rev moved from %d to %d", rev, f.store.Rev())
	}
	if _, err := f.store.Project("P1"); err != nil {
		t.Fatalf("P1: %v", err)
	}
	// Multi-line text keeps its newlines; Chinese punctuation and emoji are fine.
	res := f.do("PATCH", "/api/projects/P1", "admin", `{"note":"第一行\n第二行（备注）👍","comment":"月报\t11月"}`, map[string]string{"If-Match": `"1"`})
	if res.StatusCode != 200 {
		t.Fatalf("ordinary multi-line text: %d", res.StatusCode)
	}
}

// An editor of another department is refused even an edit that would change nothing (it used
// to get 200, telling it the project accepts its edits).
func TestDepartmentCheckBeforeNoOp(t *testing.T) {
	f := newFixture(t)
	p, _ := f.store.Project("P1") // 文化和旅游局; builder edits 城乡建设局 only
	res := f.do("PATCH", "/api/projects/P1", "builder", fmt.Sprintf(`{"progress":%d}`, p.Progress), map[string]string{"If-Match": `"1"`})
	if res.StatusCode != 403 {
		t.Fatalf("no-op edit of another department's project: got %d, want 403", res.StatusCode)
	}
}

// API answers and the backup are never cached.
func TestNoStore(t *testing.T) {
	f := newFixture(t)
	for _, target := range []string{"/api/projects", "/api/me", "/api/users", "/api/admin/backup", "/api/nope", "/metrics"} {
		res := f.do("GET", target, "admin", "", nil)
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", target, res.StatusCode, got)
		}
	}
	if res := f.do("GET", "/api/me", "", "", nil); res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("401 answer: Cache-Control %q", res.Header.Get("Cache-Control"))
	}
}

// A screen resuming further behind than there are projects gets a snapshot: the changes would
// cost more than the snapshot. Closer, it gets the changes.
func TestResumeFarBehindGetsSnapshot(t *testing.T) {
	l := startLive(t)
	epoch := l.st.Epoch()
	start := l.st.Rev()
	p, _ := l.st.Project("P1")
	limit := int(l.srv.replayLimit())
	for i := 0; i < limit+1; i++ {
		p = l.patch(t, "P1", p.Version, fmt.Sprintf(`{"investmentCompletedYuan":%d}`, i+1))
	}
	cur := l.st.Rev()
	for _, tc := range []struct {
		since uint64
		want  string
	}{{cur - uint64(limit), "change"}, {start, "snapshot"}, {0, "snapshot"}} {
		c := l.mustDial(t, fmt.Sprintf("since=%d&epoch=%s", tc.since, epoch))
		if m := c.next(); m.Type != "hello" {
			t.Fatalf("first message %s", m.Type)
		}
		if m := c.next(); m.Type != tc.want {
			t.Fatalf("since=%d (%d behind, limit %d): got %s, want %s", tc.since, cur-tc.since, limit, m.Type, tc.want)
		}
	}
}

// Security and admin events are kept in the audit log and written to the server log.
func TestAuditLog(t *testing.T) {
	var logBuf syncBuffer
	clk := newClock()
	f := newFixture(t, func(c *Config) {
		c.Now = clk.Now
		c.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	})
	login(f, "editor", "wrong password", nil)
	login(f, "editor", "wrong password", nil) // throttled: within the second
	login(f, "editor", "wrong password", nil) // throttled again: counted, not recorded
	f.do("POST", "/api/users", "admin", `{"username":"newbie","password":"`+testPassword+`","role":"viewer"}`, nil)
	f.do("PATCH", "/api/users/newbie", "admin", `{"role":"editor","displayName":"新人"}`, nil)
	f.do("PATCH", "/api/users/newbie", "admin", `{"password":"another long password"}`, nil)
	tok := decodeJSON[struct{ ID string }](t, f.do("POST", "/api/tokens", "admin", `{"kind":"api","name":"script","role":"viewer"}`, nil))
	f.do("DELETE", "/api/tokens/"+tok.ID, "admin", "", nil)
	f.do("POST", "/api/tokens", "admin", `{"kind":"api","name":"kept","role":"viewer"}`, nil)
	f.do("GET", "/api/admin/backup", "admin", "", nil)
	f.do("POST", "/api/screens/reload", "admin", "", nil)
	f.do("DELETE", "/api/users/newbie", "admin", "", nil)
	f.do("DELETE", "/api/session", "viewer", "", nil)

	res := f.do("GET", "/api/audit?since=0&limit=1000", "admin", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/audit: %d", res.StatusCode)
	}
	events := decodeJSON[struct{ Events []store.AuditEvent }](t, res).Events
	var got []string
	for _, e := range events {
		got = append(got, string(e.Type)+" "+e.Actor+" "+e.Target)
	}
	want := []string{
		"login.ok admin ", "login.ok editor ", "login.ok builder ", "login.ok viewer ", // the fixture's logins
		"login.failed editor ", "login.throttled editor ",
		"user.created admin newbie", "user.role_changed admin newbie", "user.changed admin newbie",
		"user.password_changed admin newbie",
		"token.created admin " + tok.ID, "token.deleted admin " + tok.ID, "token.created admin ",
		"backup.downloaded admin ", "screens.reloaded admin ", "user.deleted admin newbie", "logout viewer ",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("event %d: got %q, want %q", i, got[i], want[i])
		}
	}
	for i, e := range events {
		if e.Seq != uint64(i+1) || e.At.IsZero() {
			t.Fatalf("event %d: seq %d at %v", i, e.Seq, e.At)
		}
	}
	if events[6].Addr == "" || events[7].Detail != "viewer → editor" {
		t.Errorf("user events: addr %q, role detail %q", events[6].Addr, events[7].Detail)
	}
	// Filters: type, actor, text; newest first without since; paging back with before.
	newest := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?limit=2", "admin", "", nil)).Events
	if len(newest) != 2 || newest[0].Type != store.AuditLogout || newest[1].Seq != newest[0].Seq-1 {
		t.Fatalf("newest first: %+v", newest)
	}
	older := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", fmt.Sprintf("/api/audit?before=%d&limit=1", newest[1].Seq), "admin", "", nil)).Events
	if len(older) != 1 || older[0].Seq != newest[1].Seq-1 {
		t.Fatalf("before: %+v", older)
	}
	for q, n := range map[string]int{"type=login.ok": 4, "actor=EDITOR": 3, "q=newbie": 5, "type=user.created&q=nobody": 0} {
		ev := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?"+q, "admin", "", nil)).Events
		if len(ev) != n {
			t.Errorf("%s: got %d events, want %d", q, len(ev), n)
		}
	}
	if res := f.do("GET", "/api/audit?type=nope", "admin", "", nil); res.StatusCode != 400 {
		t.Errorf("unknown type: %d", res.StatusCode)
	}
	// After a minute the next refusal is recorded, with the count of those not recorded.
	clk.Add(61 * time.Second)
	login(f, "editor", "wrong password", nil) // checked: 401
	login(f, "editor", "wrong password", nil) // throttled again
	last := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?limit=1", "admin", "", nil)).Events[0]
	if last.Type != store.AuditLoginThrottled || !strings.Contains(last.Detail, "1 more refused") {
		t.Errorf("throttled after a minute: %+v", last)
	}
	// The same events are in the server's structured log.
	for _, s := range []string{"msg=audit", "type=user.created", "type=login.failed", "actor=editor", "type=backup.downloaded"} {
		if !strings.Contains(logBuf.String(), s) {
			t.Errorf("server log lacks %q", s)
		}
	}
	// And survive a restart, with the sequence going on.
	f.store.Close()
	f.store = openStore(t, f.path)
	if ev, _ := f.store.AuditLog(store.AuditFilter{Since: 0, Limit: 1000}); len(ev) != len(events)+2 {
		t.Fatalf("after reopening: %d events, want %d", len(ev), len(events)+2)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
