package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"projectboard/server/notify"
	"projectboard/store"
)

// robot is a local group robot: it records each message's JSON and answers errcode 0, or
// fails with status when it is set.
type robot struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	status int
}

func newRobot(tb testing.TB) *robot {
	tb.Helper()
	r := &robot{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var v map[string]any
		_ = json.NewDecoder(req.Body).Decode(&v)
		r.mu.Lock()
		r.bodies = append(r.bodies, v)
		status := r.status
		r.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	tb.Cleanup(r.Close)
	return r
}

func (r *robot) received() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...)
}

// key is the robot's secret, as a WeCom address carries it.
const robotKey = "0f3c-SECRET-KEY"

func (r *robot) address() string { return r.URL + "/cgi-bin/webhook/send?key=" + robotKey }

func webhookFixture(tb testing.TB) *fixture {
	return newFixture(tb, func(c *Config) {
		c.Webhooks = notify.Options{Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Attempts: 2}
	})
}

func (f *fixture) putWebhooks(version uint64, body string) *http.Response {
	f.tb.Helper()
	return f.do("PUT", "/api/settings/webhooks", "admin", body, map[string]string{"If-Match": fmt.Sprintf(`"%d"`, version)})
}

func TestWebhookSettings(t *testing.T) {
	f := webhookFixture(t)
	rb := newRobot(t)
	res := f.do("GET", "/api/settings/webhooks", "admin", "", nil)
	w := decodeJSON[store.WebhookSettings](t, res)
	if res.StatusCode != 200 || w.Version != 1 || len(w.Hooks) != 0 || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("GET: %d %+v ETag %s", res.StatusCode, w, res.Header.Get("ETag"))
	}
	body := fmt.Sprintf(`{"hooks":[{"name":"调度群","url":%q,"kind":"wecom","events":["project_red","report_missing"],"enabled":true}],"baseUrl":"https://board.example.org"}`, rb.address())
	res = f.putWebhooks(1, body)
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("PUT: %d %s", res.StatusCode, b)
	}
	w = decodeJSON[store.WebhookSettings](t, res)
	if w.Version != 2 || len(w.Hooks) != 1 || w.Hooks[0].ID == "" || w.Hooks[0].URL != rb.address() || w.UpdatedBy != "admin" ||
		res.Header.Get("ETag") != `"2"` {
		t.Fatalf("PUT: %+v ETag %s", w, res.Header.Get("ETag"))
	}

	// A stale version: 412 with the current settings and their version.
	res = f.putWebhooks(1, `{"hooks":[]}`)
	stale := decodeJSON[struct {
		Error   struct{ Code string }
		Current store.WebhookSettings
	}](t, res)
	if res.StatusCode != 412 || stale.Error.Code != "version_mismatch" || stale.Current.Version != 2 || res.Header.Get("ETag") != `"2"` {
		t.Fatalf("stale PUT: %d %+v ETag %s", res.StatusCode, stale, res.Header.Get("ETag"))
	}

	// Sending back what was read (with version and dates) keeps the hook's id.
	w.Hooks[0].Enabled = false
	again, _ := json.Marshal(w)
	res = f.putWebhooks(2, string(again))
	if w2 := decodeJSON[store.WebhookSettings](t, res); res.StatusCode != 200 || w2.Version != 3 || w2.Hooks[0].ID != w.Hooks[0].ID {
		t.Fatalf("PUT as read: %d %+v", res.StatusCode, w2)
	}

	// The audit log says what changed with the address masked.
	res = f.do("GET", "/api/audit?q=webhooks", "admin", "", nil)
	raw, _ := io.ReadAll(res.Body)
	if strings.Contains(string(raw), robotKey) || !strings.Contains(string(raw), `/cgi-bin/…?…`) ||
		!strings.Contains(string(raw), "enabled true → false") {
		t.Fatalf("audit log: %s", raw)
	}
}

func TestWebhookSettingsValidation(t *testing.T) {
	f := webhookFixture(t)
	// hook gives a valid webhook with some fields given again: the last of a duplicate key wins.
	hook := func(fields string) string {
		return `{"hooks":[{"name":"调度群","url":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k","kind":"wecom","events":["project_red"],"enabled":true` + fields + `}]}`
	}
	long := "https://example.org/" + strings.Repeat("a", store.MaxWebhookURL)
	cases := []struct {
		name, body, field string
		status            int
	}{
		{"no hooks", `{}`, "hooks", 422},
		{"ftp address", hook(`,"url":"ftp://example.org/x"`), "hooks[0].url", 422},
		{"no host", hook(`,"url":"https:///send"`), "hooks[0].url", 422},
		{"too long", hook(`,"url":"` + long + `"`), "hooks[0].url", 422},
		{"empty name", hook(`,"name":""`), "hooks[0].name", 422},
		{"name with a bidi override", hook(`,"name":"群\u202e"`), "hooks[0].name", 422},
		{"unknown kind", hook(`,"kind":"slack"`), "hooks[0].kind", 422},
		{"unknown event", hook(`,"events":["lunch"]`), "hooks[0].events", 422},
		{"event twice", hook(`,"events":["project_red","project_red"]`), "hooks[0].events", 422},
		{"bad base address", `{"hooks":[],"baseUrl":"javascript:alert(1)"}`, "baseUrl", 422},
		{"wrong type", `{"hooks":[{"name":1}]}`, "hooks.name", 422},
		{"unknown field", `{"hooks":[],"secret":"x"}`, "secret", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := f.putWebhooks(1, c.body)
			e := decodeJSON[struct{ Error struct{ Code, Field string } }](t, res)
			if res.StatusCode != c.status || e.Error.Field != c.field {
				t.Fatalf("got %d field %q, want %d field %q", res.StatusCode, e.Error.Field, c.status, c.field)
			}
		})
	}
	dup := `{"hooks":[{"id":"a","name":"x","url":"https://e.org/","kind":"wecom","events":[]},{"id":"a","name":"y","url":"https://e.org/","kind":"dingtalk","events":[]}]}`
	if res := f.putWebhooks(1, dup); res.StatusCode != 422 {
		t.Fatalf("duplicate ids: got %d, want 422", res.StatusCode)
	}
	if res := f.do("PUT", "/api/settings/webhooks", "admin", `{"hooks":[]}`, nil); res.StatusCode != 428 {
		t.Fatalf("without If-Match: got %d, want 428", res.StatusCode)
	}
	if w, _ := f.store.Webhooks(); w.Version != 1 {
		t.Fatalf("refused PUTs changed the settings: %+v", w)
	}
}

func TestWebhookRoutesAreAdminOnly(t *testing.T) {
	f := webhookFixture(t)
	routes := []struct{ method, path, body string }{
		{"GET", "/api/settings/webhooks", ""},
		{"PUT", "/api/settings/webhooks", `{"hooks":[]}`},
		{"POST", "/api/settings/webhooks/test", `{"id":"x"}`},
		{"GET", "/api/webhooks/deliveries", ""},
	}
	for _, r := range routes {
		for _, as := range []string{"editor", "viewer", "display", "api"} {
			if res := f.do(r.method, r.path, as, r.body, map[string]string{"If-Match": `"1"`}); res.StatusCode != 403 {
				t.Errorf("%s %s as %s: got %d, want 403", r.method, r.path, as, res.StatusCode)
			}
		}
		if res := f.do(r.method, r.path, "", r.body, nil); res.StatusCode != 401 {
			t.Errorf("%s %s anonymous: got %d, want 401", r.method, r.path, res.StatusCode)
		}
	}
}

func TestWebhookTestButton(t *testing.T) {
	f := webhookFixture(t)
	rb := newRobot(t)
	res := f.putWebhooks(1, fmt.Sprintf(`{"hooks":[{"name":"钉钉群","url":%q,"kind":"dingtalk","events":[],"enabled":false}]}`, rb.address()))
	w := decodeJSON[store.WebhookSettings](t, res)
	id := w.Hooks[0].ID

	// A saved webhook, even disabled.
	res = f.do("POST", "/api/settings/webhooks/test", "admin", fmt.Sprintf(`{"id":%q}`, id), nil)
	d := decodeJSON[store.Delivery](t, res)
	if res.StatusCode != 200 || d.Status != store.DeliverySent || d.Event != store.EventTest || d.Hook != id {
		t.Fatalf("test: %d %+v", res.StatusCode, d)
	}
	msgs := rb.received()
	if len(msgs) != 1 || msgs[0]["markdown"].(map[string]any)["title"] == nil {
		t.Fatalf("robot got %v, want one DingTalk markdown message", msgs)
	}

	// An unsaved one whose robot fails: the answer says so, without the key.
	rb.mu.Lock()
	rb.status = http.StatusInternalServerError
	rb.mu.Unlock()
	res = f.do("POST", "/api/settings/webhooks/test", "admin", fmt.Sprintf(`{"url":%q,"kind":"wecom"}`, rb.address()), nil)
	d = decodeJSON[store.Delivery](t, res)
	if res.StatusCode != 200 || d.Status != store.DeliveryFailed || d.StatusCode != 500 || !strings.Contains(d.LastError, "HTTP 500") ||
		strings.Contains(d.LastError, robotKey) {
		t.Fatalf("failing test: %d %+v", res.StatusCode, d)
	}
	for _, c := range []struct{ body, field string }{{`{}`, "id"}, {`{"url":"ftp://x","kind":"wecom"}`, "url"}, {`{"url":"https://x.org","kind":"x"}`, "kind"}} {
		res = f.do("POST", "/api/settings/webhooks/test", "admin", c.body, nil)
		if e := decodeJSON[struct{ Error struct{ Field string } }](t, res); res.StatusCode != 422 || e.Error.Field != c.field {
			t.Errorf("test %s: got %d field %q, want 422 field %q", c.body, res.StatusCode, e.Error.Field, c.field)
		}
	}
	if res = f.do("POST", "/api/settings/webhooks/test", "admin", `{"id":"nope"}`, nil); res.StatusCode != 404 {
		t.Errorf("unknown id: got %d, want 404", res.StatusCode)
	}

	res = f.do("GET", "/api/webhooks/deliveries?limit=10", "admin", "", nil)
	list := decodeJSON[struct{ Deliveries []store.Delivery }](t, res)
	if len(list.Deliveries) != 2 || list.Deliveries[0].Status != store.DeliveryFailed || list.Deliveries[1].Status != store.DeliverySent {
		t.Fatalf("deliveries: %+v", list.Deliveries)
	}
	if res = f.do("GET", "/api/webhooks/deliveries?limit=0", "admin", "", nil); res.StatusCode != 400 {
		t.Fatalf("limit=0: got %d, want 400", res.StatusCode)
	}
	res = f.do("GET", "/api/audit", "admin", "", nil)
	if raw, _ := io.ReadAll(res.Body); strings.Contains(string(raw), robotKey) || !strings.Contains(string(raw), "webhook.tested") {
		t.Fatalf("audit log: %s", raw)
	}
}

// TestEditTurningRedReachesTheRobot goes through the whole path: an edit commits, the
// store re-evaluates the warning, the commit hook hands the change to the notifier, and the
// robot gets one message, recorded as sent.
func TestEditTurningRedReachesTheRobot(t *testing.T) {
	f := webhookFixture(t)
	rb := newRobot(t)
	res := f.putWebhooks(1, fmt.Sprintf(`{"hooks":[{"name":"调度群","url":%q,"kind":"wecom","events":["project_red"],"enabled":true}]}`, rb.address()))
	if res.StatusCode != 200 {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	// P2 is under construction: a planned completion long past turns it red.
	res = f.do("PATCH", "/api/projects/P2", "editor", `{"plannedCompletion":"2022-06-30"}`, map[string]string{"If-Match": `"1"`})
	p := decodeJSON[store.Project](t, res)
	if res.StatusCode != 200 || p.Warning.Level != store.LevelRed {
		t.Skipf("the edit did not turn P2 red (%d, %+v): the warning rules have changed", res.StatusCode, p.Warning)
	}
	var list struct{ Deliveries []store.Delivery }
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		list = decodeJSON[struct{ Deliveries []store.Delivery }](t, f.do("GET", "/api/webhooks/deliveries", "admin", "", nil))
		if len(list.Deliveries) == 1 && list.Deliveries[0].Status != store.DeliveryPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %+v", list.Deliveries)
		}
	}
	if d := list.Deliveries[0]; d.Status != store.DeliverySent || d.Event != store.EventProjectRed || !strings.Contains(d.Title, "新城大街快速路") {
		t.Fatalf("delivery %+v", d)
	}
	msgs := rb.received()
	if len(msgs) != 1 {
		t.Fatalf("robot got %d messages, want 1", len(msgs))
	}
	content, _ := msgs[0]["markdown"].(map[string]any)["content"].(string)
	for _, want := range []string{"新城大街快速路", "城乡建设局", "/projects/P2"} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %q:\n%s", want, content)
		}
	}
	// Another edit that keeps it red sends nothing more.
	f.do("PATCH", "/api/projects/P2", "editor", `{"note":"催办"}`, map[string]string{"If-Match": `"2"`})
	time.Sleep(30 * time.Millisecond)
	if n := len(rb.received()); n != 1 {
		t.Fatalf("robot got %d messages after an edit that kept the project red, want 1", n)
	}
}

// TestShutdownStopsTheNotifier: Shutdown returns although a robot hangs.
func TestShutdownStopsTheNotifier(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	f := webhookFixture(t)
	f.putWebhooks(1, fmt.Sprintf(`{"hooks":[{"name":"调度群","url":%q,"kind":"wecom","events":["project_red"],"enabled":true}]}`, hang.URL))
	t0 := time.Now()
	res := f.do("PATCH", "/api/projects/P2", "editor", `{"plannedCompletion":"2022-06-30"}`, map[string]string{"If-Match": `"1"`})
	if res.StatusCode != 200 || time.Since(t0) > 2*time.Second {
		t.Fatalf("edit: %d in %v", res.StatusCode, time.Since(t0))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 = time.Now()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Fatalf("Shutdown took %v", took)
	}
}
