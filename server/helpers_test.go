package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"

	"projectboard/store"
)

var fastHash = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

const testPassword = "test password 123"

// fixture is a server on a fresh database with one account of each role and a display token.
type fixture struct {
	tb      testing.TB
	store   *store.Store
	srv     *Server
	cookies map[string]string // username → session cookie
	display string            // display token secret
	api     string            // api token (editor) secret
	path    string
}

func openStore(tb testing.TB, path string) *store.Store {
	tb.Helper()
	st, err := store.Open(path, store.Options{PasswordParams: fastHash})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// newFixture builds the fixture; opts may change the server's config (clock, proxies, log).
func newFixture(tb testing.TB, opts ...func(*Config)) *fixture {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "api.db")
	st := openStore(tb, path)
	f := &fixture{tb: tb, store: st, path: path, cookies: map[string]string{}}
	tb.Cleanup(func() {
		// f.store, not st: a restart test swaps in a reopened store.
		if err := f.store.Check(); err != nil {
			tb.Errorf("consistency check: %v", err)
		}
		f.store.Close()
	})
	projects := []store.Project{
		{ID: "P1", Name: "长春影视产业园", Category: store.CategoryPlanned, Year: 2022, Sector: "影视文旅",
			Department: "文化和旅游局", Stage: store.StagePreparing, InvestmentYuan: 3_500_000_000, AnnualPlanYuan: 900_000_000},
		{ID: "P2", Name: "新城大街快速路", Category: store.CategoryPlanned, Year: 2022, Sector: "基础设施",
			Department: "城乡建设局", Stage: store.StageUnderConstruction, StartedAt: "2022-04-01", InvestmentYuan: 2_000_000_000},
		{ID: "A1", Name: "网易(长春)数字产业中心", Category: store.CategoryAttraction, Year: 2022, Sector: "数字经济",
			Department: "投资促进局", Stage: store.StageSigned, InvestmentYuan: 1_000_000_000},
	}
	if err := st.Seed(projects, "system", "test"); err != nil {
		tb.Fatal(err)
	}
	users := []store.User{
		{Username: "admin", Role: store.RoleAdmin},
		{Username: "editor", Role: store.RoleEditor},
		{Username: "builder", Role: store.RoleEditor, Departments: []string{"城乡建设局"}},
		{Username: "viewer", Role: store.RoleViewer},
	}
	for _, u := range users {
		if _, err := st.AddUser(u, testPassword); err != nil {
			tb.Fatal(err)
		}
	}
	_, f.display, _ = st.CreateToken(store.Token{Kind: "display", Name: "wall"})
	_, f.api, _ = st.CreateToken(store.Token{Kind: "api", Name: "importer", Role: store.RoleEditor, Owner: "editor"})
	cfg := Config{Build: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	f.srv = New(st, cfg)
	for _, u := range users {
		res := f.do("POST", "/api/session", "", fmt.Sprintf(`{"username":%q,"password":%q}`, u.Username, testPassword), nil)
		if res.StatusCode != 200 {
			tb.Fatalf("login %s: %d", u.Username, res.StatusCode)
		}
		for _, c := range res.Cookies() {
			if c.Name == sessionCookie {
				f.cookies[u.Username] = c.Value
			}
		}
	}
	return f
}

// do sends a request through the app. as is a username, "display", "api" or "" (anonymous).
func (f *fixture) do(method, target, as, body string, header map[string]string) *http.Response {
	f.tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch as {
	case "":
	case "display":
		req.Header.Set("Authorization", "Bearer "+f.display)
	case "api":
		req.Header.Set("Authorization", "Bearer "+f.api)
	default:
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.cookies[as]})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := f.srv.App().Test(req, -1)
	if err != nil {
		f.tb.Fatal(err)
	}
	return res
}

// errorOf decodes an error body.
func errorOf(tb testing.TB, res *http.Response) (code, field string) {
	tb.Helper()
	var body errorBody
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		tb.Fatalf("status %d: body is not an error body: %s", res.StatusCode, b)
	}
	return body.Error.Code, body.Error.Field
}

func decodeJSON[T any](tb testing.TB, res *http.Response) T {
	tb.Helper()
	var v T
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return v
}
