package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"projectboard/store"
)

func TestProjectUpdateStatuses(t *testing.T) {
	f := newFixture(t)
	m := func(kv ...string) map[string]string {
		h := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	v1 := m("If-Match", `"1"`)
	tests := []struct {
		name   string
		as     string
		target string
		body   string
		header map[string]string
		status int
		code   string
		field  string
	}{
		{"no login", "", "/api/projects/P1", `{"progress":5}`, v1, 401, "unauthenticated", ""},
		{"viewer", "viewer", "/api/projects/P1", `{"progress":5}`, v1, 403, "forbidden", ""},
		{"display token", "display", "/api/projects/P1", `{"progress":5}`, v1, 403, "forbidden", ""},
		{"other department", "builder", "/api/projects/P1", `{"progress":5}`, v1, 403, "forbidden", ""},
		{"move into other department", "builder", "/api/projects/P2", `{"department":"教育局"}`, v1, 403, "forbidden", ""},
		{"missing If-Match", "editor", "/api/projects/P1", `{"progress":5}`, nil, 428, "if_match_required", "If-Match"},
		{"weak If-Match", "editor", "/api/projects/P1", `{"progress":5}`, m("If-Match", `W/"1"`), 400, "bad_request", "If-Match"},
		{"stale If-Match", "editor", "/api/projects/P1", `{"progress":5}`, m("If-Match", `"9"`), 412, "version_mismatch", ""},
		{"unknown project", "editor", "/api/projects/NOPE", `{"progress":5}`, v1, 404, "not_found", ""},
		{"bad JSON", "editor", "/api/projects/P1", `{"progress":`, v1, 400, "bad_json", ""},
		{"not an object", "editor", "/api/projects/P1", `[1,2]`, v1, 400, "bad_json", ""},
		{"trailing data", "editor", "/api/projects/P1", `{"progress":5} {}`, v1, 400, "bad_json", ""},
		{"unknown field", "editor", "/api/projects/P1", `{"progres":5}`, v1, 400, "unknown_field", "progres"},
		{"read-only field", "editor", "/api/projects/P1", `{"version":5}`, v1, 400, "unknown_field", "version"},
		{"wrong type", "editor", "/api/projects/P1", `{"progress":"5"}`, v1, 422, "wrong_type", "progress"},
		{"fraction", "editor", "/api/projects/P1", `{"progress":5.5}`, v1, 422, "wrong_type", "progress"},
		{"null bool", "editor", "/api/projects/P1", `{"onHold":null}`, v1, 422, "wrong_type", "onHold"},
		{"invalid stage", "editor", "/api/projects/P1", `{"stage":"done"}`, v1, 422, "invalid_value", "stage"},
		{"progress over 100", "editor", "/api/projects/P1", `{"progress":101}`, v1, 422, "invalid_value", "progress"},
		{"negative money", "editor", "/api/projects/P1", `{"investmentCompletedYuan":-1}`, v1, 422, "invalid_value", "investmentCompletedYuan"},
		{"overflowing money", "editor", "/api/projects/P1", `{"investmentYuan":99999999999999999999}`, v1, 422, "wrong_type", "investmentYuan"},
		{"impossible date", "editor", "/api/projects/P1", `{"plannedStart":"2022-02-30"}`, v1, 422, "invalid_value", "plannedStart"},
		{"invalid UTF-8", "editor", "/api/projects/P1", "{\"note\":\"\xff\"}", v1, 400, "bad_json", ""},
		{"empty name", "editor", "/api/projects/P1", `{"name":"  "}`, v1, 422, "invalid_value", "name"},
		{"not JSON content type", "editor", "/api/projects/P1", ``, v1, 415, "unsupported_media_type", ""},
		{"too many fields", "editor", "/api/projects/P1", manyFields(70), v1, 400, "bad_json", ""},
		{"foreign origin", "editor", "/api/projects/P1", `{"progress":5}`, m("If-Match", `"1"`, "Origin", "https://evil.example"), 403, "foreign_origin", ""},
		{"cross-site fetch", "editor", "/api/projects/P1", `{"progress":5}`, m("If-Match", `"1"`, "Sec-Fetch-Site", "cross-site"), 403, "foreign_origin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.store.Rev()
			res := f.do("PATCH", tt.target, tt.as, tt.body, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d", res.StatusCode, tt.status)
			}
			code, field := errorOf(t, res)
			if code != tt.code || field != tt.field {
				t.Fatalf("got code %q field %q, want %q %q", code, field, tt.code, tt.field)
			}
			if f.store.Rev() != before {
				t.Fatalf("rev moved from %d to %d on a refused request", before, f.store.Rev())
			}
		})
	}
	p, _ := f.store.Project("P1")
	if p.Version != 1 || p.Progress != 0 {
		t.Fatalf("P1 changed: version %d progress %d", p.Version, p.Progress)
	}
}

func TestProjectUpdateSucceeds(t *testing.T) {
	f := newFixture(t)
	res := f.do("PATCH", "/api/projects/P1", "editor", `{"stage":"under_construction","progress":12,"comment":"开工"}`,
		map[string]string{"If-Match": `"1"`, "Origin": "http://example.com"})
	if res.StatusCode != 200 {
		t.Fatalf("got %d, want 200 (%v)", res.StatusCode, errorOfString(t, res))
	}
	if got := res.Header.Get("ETag"); got != `"2"` {
		t.Fatalf("got ETag %s, want \"2\"", got)
	}
	p := decodeJSON[store.Project](t, res)
	if p.Stage != store.StageUnderConstruction || p.StartedAt == "" || p.UpdatedBy != "editor" {
		t.Fatalf("got %+v", p)
	}
	// The same values again: 200, no new revision.
	rev := f.store.Rev()
	res = f.do("PATCH", "/api/projects/P1", "editor", `{"progress":12}`, map[string]string{"If-Match": `"2"`})
	if res.StatusCode != 200 || f.store.Rev() != rev {
		t.Fatalf("no-op patch: got %d and rev %d, want 200 and %d", res.StatusCode, f.store.Rev(), rev)
	}
	// The department-limited editor may change its own department's project.
	res = f.do("PATCH", "/api/projects/P2", "builder", `{"stage":"completed"}`, map[string]string{"If-Match": `"1"`})
	if res.StatusCode != 200 {
		t.Fatalf("builder on its own project: got %d", res.StatusCode)
	}
	// An api token's changes are attributed to the token, marked as one.
	res = f.do("PATCH", "/api/projects/P1", "api", `{"note":"批量导入"}`, map[string]string{"If-Match": `"2"`})
	if p := decodeJSON[store.Project](t, res); p.UpdatedBy != "token:importer" {
		t.Fatalf("got updatedBy %q, want token:importer", p.UpdatedBy)
	}
	changes := decodeJSON[struct{ Changes []store.Change }](t, f.do("GET", "/api/projects/P1/changes", "viewer", "", nil))
	if len(changes.Changes) != 3 || changes.Changes[0].By != "token:importer" || changes.Changes[1].Comment != "开工" {
		t.Fatalf("got history %+v", changes.Changes)
	}
	res = f.do("PATCH", "/api/projects/P1", "editor", `{"progress":13}`, map[string]string{"If-Match": `"2"`})
	if res.StatusCode != 412 {
		t.Fatalf("got %d, want 412", res.StatusCode)
	}
	body := decodeJSON[errorBody](t, res)
	if body.Current == nil || body.Current.Version != 3 || body.Current.Note != "批量导入" {
		t.Fatalf("412 body has current %+v, want version 3", body.Current)
	}
}

func errorOfString(t *testing.T, res *http.Response) string {
	code, field := errorOf(t, res)
	return code + " " + field
}

func TestCreateAndDelete(t *testing.T) {
	f := newFixture(t)
	body := `{"id":"N1","name":"慧泽学校","category":"planned","year":2023,"sector":"教育","department":"城乡建设局","stage":"preparing","investmentYuan":300000000}`
	if res := f.do("POST", "/api/projects", "viewer", body, nil); res.StatusCode != 403 {
		t.Fatalf("viewer create: got %d, want 403", res.StatusCode)
	}
	res := f.do("POST", "/api/projects", "builder", body, nil)
	if res.StatusCode != 201 {
		t.Fatalf("got %d, want 201: %s", res.StatusCode, errorOfString(t, res))
	}
	if res := f.do("POST", "/api/projects", "editor", body, nil); res.StatusCode != 409 {
		t.Fatalf("duplicate: got %d, want 409", res.StatusCode)
	}
	if res := f.do("POST", "/api/projects", "editor", `{"name":"x"}`, nil); res.StatusCode != 422 {
		t.Fatalf("missing fields: got %d, want 422", res.StatusCode)
	}
	if res := f.do("POST", "/api/projects", "editor", `{"name":"x","category":"planned","year":2023,"sector":"a","department":"b","stage":"preparing","createdBy":"x"}`, nil); res.StatusCode != 400 {
		t.Fatalf("unknown field: got %d, want 400", res.StatusCode)
	}
	if res := f.do("DELETE", "/api/projects/N1", "editor", "", map[string]string{"If-Match": `"1"`}); res.StatusCode != 403 {
		t.Fatalf("editor delete: got %d, want 403", res.StatusCode)
	}
	if res := f.do("DELETE", "/api/projects/N1", "admin", "", nil); res.StatusCode != 428 {
		t.Fatalf("delete without If-Match: got %d, want 428", res.StatusCode)
	}
	if res := f.do("DELETE", "/api/projects/N1", "admin", "", map[string]string{"If-Match": `"1"`}); res.StatusCode != 204 {
		t.Fatalf("admin delete: got %d, want 204", res.StatusCode)
	}
	if res := f.do("GET", "/api/projects/N1", "admin", "", nil); res.StatusCode != 404 {
		t.Fatalf("deleted project: got %d, want 404", res.StatusCode)
	}
}

func TestSessionsAndTokens(t *testing.T) {
	f := newFixture(t)
	if res := f.do("POST", "/api/session", "", `{"username":"admin","password":"wrong password"}`, nil); res.StatusCode != 401 {
		t.Fatalf("wrong password: got %d, want 401", res.StatusCode)
	}
	if res := f.do("GET", "/api/me", "viewer", "", nil); res.StatusCode != 200 {
		t.Fatalf("me: got %d", res.StatusCode)
	}
	me := decodeJSON[struct{ Token store.Token }](t, f.do("GET", "/api/me", "display", "", nil))
	if me.Token.Kind != "display" {
		t.Fatalf("display me: got %+v", me)
	}
	if res := f.do("DELETE", "/api/session", "viewer", "", nil); res.StatusCode != 204 {
		t.Fatalf("logout: got %d", res.StatusCode)
	}
	if res := f.do("GET", "/api/me", "viewer", "", nil); res.StatusCode != 401 {
		t.Fatalf("after logout: got %d, want 401", res.StatusCode)
	}
	created := decodeJSON[struct{ ID, Token string }](t, f.do("POST", "/api/tokens", "admin", `{"kind":"display","name":"会议室"}`, nil))
	if !strings.HasPrefix(created.Token, "pb_") {
		t.Fatalf("got token %q", created.Token)
	}
	req := map[string]string{"Authorization": "Bearer " + created.Token}
	if res := f.do("GET", "/api/summary", "", "", req); res.StatusCode != 200 {
		t.Fatalf("new token: got %d", res.StatusCode)
	}
	if res := f.do("DELETE", "/api/tokens/"+created.ID, "admin", "", nil); res.StatusCode != 204 {
		t.Fatalf("revoke: got %d", res.StatusCode)
	}
	if res := f.do("GET", "/api/summary", "", "", req); res.StatusCode != 401 {
		t.Fatalf("revoked token: got %d, want 401", res.StatusCode)
	}
	if res := f.do("POST", "/api/users", "admin", `{"username":"zhao","password":"long enough pw","role":"viewer"}`, nil); res.StatusCode != 201 {
		t.Fatalf("create user: got %d", res.StatusCode)
	}
	if res := f.do("POST", "/api/users", "admin", `{"username":"zhao","password":"long enough pw","role":"viewer"}`, nil); res.StatusCode != 409 {
		t.Fatalf("duplicate user: got %d, want 409", res.StatusCode)
	}
	if res := f.do("POST", "/api/users", "admin", `{"username":"qian","password":"short","role":"viewer"}`, nil); res.StatusCode != 422 {
		t.Fatalf("short password: got %d, want 422", res.StatusCode)
	}
	// A new password ends the user's sessions.
	if res := f.do("PATCH", "/api/users/editor", "admin", `{"password":"another long password"}`, nil); res.StatusCode != 200 {
		t.Fatalf("passwd: got %d", res.StatusCode)
	}
	if res := f.do("GET", "/api/me", "editor", "", nil); res.StatusCode != 401 {
		t.Fatalf("session after password change: got %d, want 401", res.StatusCode)
	}
}

func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 5; i++ {
		f.do("POST", "/api/session", "", `{"username":"viewer","password":"wrong password"}`, nil)
	}
	res := f.do("POST", "/api/session", "", `{"username":"viewer","password":"`+testPassword+`"}`, nil)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d with Retry-After %q, want 429 with a value", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// A forwarded-for header from an untrusted client changes nothing.
	res = f.do("POST", "/api/session", "", `{"username":"viewer","password":"`+testPassword+`"}`,
		map[string]string{"X-Forwarded-For": "10.1.2.3"})
	if res.StatusCode != 429 {
		t.Fatalf("spoofed address: got %d, want 429", res.StatusCode)
	}
}

func TestSummaryAndReads(t *testing.T) {
	f := newFixture(t)
	sum := decodeJSON[store.Summary](t, f.do("GET", "/api/summary?year=2022", "display", "", nil))
	if sum.Planned.Count != 2 || sum.Planned.Started != 1 || sum.Planned.StartRate != 0.5 || sum.Attraction.Signed.Count != 1 {
		t.Fatalf("got %+v", sum)
	}
	for _, q := range []string{"year=abc", "year=1", "category=other", "since=-1"} {
		target := "/api/summary?" + q
		if strings.HasPrefix(q, "since") {
			target = "/api/changes?" + q
		}
		if res := f.do("GET", target, "viewer", "", nil); res.StatusCode != 400 {
			t.Errorf("%s: got %d, want 400", q, res.StatusCode)
		}
	}
	list := decodeJSON[struct {
		Rev      uint64
		Projects []store.Project
	}](t, f.do("GET", "/api/projects", "viewer", "", nil))
	if len(list.Projects) != 3 || list.Rev != 3 {
		t.Fatalf("got %d projects at rev %d", len(list.Projects), list.Rev)
	}
	ch := decodeJSON[struct{ Changes []store.Change }](t, f.do("GET", "/api/changes?since=1&limit=1", "viewer", "", nil))
	if len(ch.Changes) != 1 || ch.Changes[0].Rev != 2 {
		t.Fatalf("got %+v", ch.Changes)
	}
	if res := f.do("GET", "/api/nothing", "viewer", "", nil); res.StatusCode != 404 {
		t.Fatalf("unknown API route: got %d", res.StatusCode)
	}
	if res := f.do("GET", "/healthz", "", "", nil); res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("healthz: got %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
}

// TestRoleMatrix walks the route table: every route × every kind of caller.
func TestRoleMatrix(t *testing.T) {
	f := newFixture(t)
	callers := []struct {
		as    string
		level Access // the highest level this caller reaches
	}{{"", Public}, {"display", Reader}, {"viewer", Reader}, {"builder", Editor}, {"editor", Editor}, {"admin", Admin}}
	for _, r := range f.srv.Routes() {
		for _, c := range callers {
			name := r.Method + " " + r.Path + " as " + c.as
			if c.as == "" {
				name += "anonymous"
			}
			t.Run(name, func(t *testing.T) {
				if r.Method == "DELETE" && r.Path == "/api/session" && c.as != "" && c.as != "display" {
					t.Skip("logging out would end the fixture's session")
				}
				target := strings.NewReplacer(":id", "NOPE", ":username", "nobody").Replace(r.Path)
				body := ""
				if r.Method == "POST" || r.Method == "PATCH" {
					body = "{}"
				}
				res := f.do(r.Method, target, c.as, body, map[string]string{"If-Match": `"1"`})
				allowed := r.Access == Public || (c.as != "" && c.level >= r.Access)
				switch {
				case !allowed && c.as == "" && res.StatusCode != 401:
					t.Fatalf("got %d, want 401", res.StatusCode)
				case !allowed && c.as != "" && res.StatusCode != 403:
					t.Fatalf("got %d, want 403", res.StatusCode)
				case allowed && (res.StatusCode == 401 || res.StatusCode == 403):
					t.Fatalf("got %d, want access", res.StatusCode)
				}
			})
		}
	}
}

func manyFields(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `"f%d":1,`, i)
	}
	b.WriteString(`"last":1}`)
	return b.String()
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.do("PATCH", "/api/projects/P1", "editor", `{"progress":7}`, map[string]string{"If-Match": `"1"`})
	if res := f.do("GET", "/metrics", "viewer", "", nil); res.StatusCode != 403 {
		t.Fatalf("viewer: got %d, want 403", res.StatusCode)
	}
	res := f.do("GET", "/metrics", "admin", "", nil)
	b, _ := io.ReadAll(res.Body)
	for _, want := range []string{"projectboard_commits_total 1", "projectboard_screens 0",
		`projectboard_http_requests_total{method="PATCH",route="/api/projects/:id",status="200"} 1`,
		"projectboard_commit_seconds_bucket", "projectboard_delivery_seconds_bucket",
		`projectboard_logins_total{result="ok"} 4`, "projectboard_password_checks_total 4"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
