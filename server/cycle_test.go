package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"projectboard/store"
)

// cycleClock is a movable clock for the monthly cycle's tests; the store and the server share it.
type cycleClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *cycleClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *cycleClock) Set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// cycleStart is the day the tests run on: a Tuesday after October's reporting deadline.
const cycleStart = "2022-11-08T10:00:00+08:00"

// newCycleFixture is newFixture's accounts and tokens on a store and server that share a
// movable clock set to cycleStart, with construction projects of two units:
//
//	P1 文化和旅游局, preparing, planned to start 2022-07-01 (4 months late: red)
//	P2 城乡建设局, under construction
//	P3 城乡建设局, preparing, planned to start 2022-10-20 (not yet a month late: no notStarted reason)
//	A1 投资促进局, an attraction project (reports nothing)
//
// The server stops (Shutdown) before the store closes.
func newCycleFixture(tb testing.TB, opts ...func(*Config)) (*fixture, *cycleClock) {
	tb.Helper()
	clk := &cycleClock{}
	clk.Set(cycleStart)
	path := filepath.Join(tb.TempDir(), "cycle.db")
	st, err := store.Open(path, store.Options{PasswordParams: fastHash, Now: clk.Now})
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{tb: tb, store: st, path: path, cookies: map[string]string{}}
	tb.Cleanup(func() {
		if err := f.store.Check(); err != nil {
			tb.Errorf("consistency check: %v", err)
		}
		f.store.Close()
	})
	projects := []store.Project{
		{ID: "P1", Name: "长春影视产业园", Category: store.CategoryPlanned, Year: 2022, Sector: "影视文旅", Department: "文化和旅游局",
			Leader: "王副主任", Stage: store.StagePreparing, PlannedStart: "2022-07-01", PlannedCompletion: "2024-12-31",
			InvestmentYuan: 3_500_000_000, AnnualPlanYuan: 900_000_000},
		{ID: "P2", Name: "新城大街快速路", Category: store.CategoryPlanned, Year: 2022, Sector: "基础设施", Department: "城乡建设局",
			Leader: "李副主任", Stage: store.StageUnderConstruction, PlannedStart: "2022-04-01", StartedAt: "2022-04-01",
			PlannedCompletion: "2023-10-31", Progress: 50, InvestmentYuan: 2_000_000_000, AnnualPlanYuan: 1_000_000_000,
			InvestmentCompletedYuan: 700_000_000},
		{ID: "P3", Name: "净月污水处理厂三期", Category: store.CategoryPlanned, Year: 2022, Sector: "基础设施", Department: "城乡建设局",
			Stage: store.StagePreparing, PlannedStart: "2022-10-20", PlannedCompletion: "2023-12-31", InvestmentYuan: 500_000_000},
		{ID: "A1", Name: "网易(长春)数字产业中心", Category: store.CategoryAttraction, Year: 2022, Sector: "数字经济",
			Department: "投资促进局", Stage: store.StageSigned, InvestmentYuan: 1_000_000_000},
	}
	if err := st.Seed(projects, "system", "test"); err != nil {
		tb.Fatal(err)
	}
	users := []store.User{
		{Username: "admin", Role: store.RoleAdmin},
		{Username: "editor", Role: store.RoleEditor}, // no departments: the office
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
	cfg := Config{Build: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clk.Now}
	for _, o := range opts {
		o(&cfg)
	}
	f.srv = New(st, cfg)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
	}) // runs before the store's cleanup above (cleanups run last first)
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
	return f, clk
}

func ifm(v string) map[string]string { return map[string]string{"If-Match": `"` + v + `"`} }

// refusal is one request the server must refuse, changing nothing.
type refusal struct {
	name, method, target, as, body string
	header                         map[string]string
	status                         int
	code, field                    string
}

// checkRefusals sends each request and checks its status, error code and field, and that the
// revision did not move.
func checkRefusals(t *testing.T, f *fixture, tests []refusal) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.store.Rev()
			res := f.do(tt.method, tt.target, tt.as, tt.body, tt.header)
			if res.StatusCode != tt.status {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("got status %d, want %d: %s", res.StatusCode, tt.status, b)
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
}

// stale412 decodes a 412 about a report, problem, month or the rules.
type stale412[T any] struct {
	Error   errorDetail `json:"error"`
	Current *T          `json:"current"`
}

func wantStatus(t *testing.T, res *http.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("got status %d, want %d: %s", res.StatusCode, want, b)
	}
}

func TestCycleReportPutApproveReturn(t *testing.T) {
	f, _ := newCycleFixture(t)
	const url = "/api/projects/P2/reports/2022-10"
	body := `{"monthYuan":50000000,"progress":55,"progressText":"主体施工","problemsText":""}`

	if res := f.do("GET", url, "viewer", "", nil); res.StatusCode != 404 {
		t.Fatalf("report not made yet: got %d, want 404", res.StatusCode)
	}
	res := f.do("PUT", url, "builder", body, nil)
	wantStatus(t, res, 201)
	if res.Header.Get("ETag") != `"1"` || res.Header.Get("Location") != url {
		t.Fatalf("got ETag %q Location %q", res.Header.Get("ETag"), res.Header.Get("Location"))
	}
	r := decodeJSON[store.Report](t, res)
	if r.Status != store.ReportSubmitted || r.ReportedBy != "builder" || r.OpeningYuan != 700_000_000 ||
		r.CumulativeYuan != 750_000_000 || r.Progress != 55 || r.Version != 1 {
		t.Fatalf("got report %+v", r)
	}
	if p, _ := f.store.Project("P2"); p.InvestmentCompletedYuan != 750_000_000 || p.Progress != 55 {
		t.Fatalf("P2 after its newest report: completed %d progress %d", p.InvestmentCompletedYuan, p.Progress)
	}
	// The change log names the report's month.
	ch := decodeJSON[struct{ Changes []store.Change }](t, f.do("GET", "/api/projects/P2/changes?limit=1", "viewer", "", nil))
	if len(ch.Changes) != 1 || ch.Changes[0].Kind != store.ChangeReport || ch.Changes[0].Key != "2022-10" || ch.Changes[0].By != "builder" {
		t.Fatalf("got changes %+v", ch.Changes)
	}

	// A new submit of the report names its version.
	res = f.do("PUT", url, "builder", `{"monthYuan":60000000,"progress":56}`, ifm("1"))
	wantStatus(t, res, 200)
	if r = decodeJSON[store.Report](t, res); r.Version != 2 || r.CumulativeYuan != 760_000_000 || r.ProgressText != "" {
		t.Fatalf("got report %+v", r)
	}

	checkRefusals(t, f, []refusal{
		{"stale If-Match", "PUT", url, "builder", body, ifm("1"), 412, "version_mismatch", ""},
		{"no If-Match for a report that exists", "PUT", url, "builder", body, nil, 412, "version_mismatch", ""},
		{"weak If-Match", "PUT", url, "builder", body, map[string]string{"If-Match": `W/"2"`}, 400, "bad_request", "If-Match"},
		{"other unit", "PUT", "/api/projects/P1/reports/2022-10", "builder", body, nil, 403, "forbidden", ""},
		{"viewer", "PUT", url, "viewer", body, ifm("2"), 403, "forbidden", ""},
		{"display token", "PUT", url, "display", body, ifm("2"), 403, "forbidden", ""},
		{"unknown project", "PUT", "/api/projects/NOPE/reports/2022-10", "editor", body, nil, 404, "not_found", ""},
		{"bad month", "PUT", "/api/projects/P2/reports/2022-13", "builder", body, ifm("2"), 422, "invalid_value", "month"},
		{"month not a month", "PUT", "/api/projects/P2/reports/202210", "builder", body, ifm("2"), 422, "invalid_value", "month"},
		{"month of another year", "PUT", "/api/projects/P2/reports/2021-12", "builder", body, nil, 422, "invalid_value", "month"},
		{"month not begun", "PUT", "/api/projects/P2/reports/2022-12", "builder", body, nil, 422, "invalid_value", "month"},
		{"attraction project", "PUT", "/api/projects/A1/reports/2022-10", "editor", body, nil, 422, "invalid_value", "projectId"},
		{"unknown field", "PUT", url, "builder", `{"monthYuan":1,"progress":1,"cumulativeYuan":5}`, ifm("2"), 400, "unknown_field", "cumulativeYuan"},
		{"missing progress", "PUT", url, "builder", `{"monthYuan":1}`, ifm("2"), 422, "invalid_value", "progress"},
		{"progress over 100", "PUT", url, "builder", `{"monthYuan":1,"progress":101}`, ifm("2"), 422, "invalid_value", "progress"},
		{"negative money", "PUT", url, "builder", `{"monthYuan":-1,"progress":1}`, ifm("2"), 422, "invalid_value", "monthYuan"},
		{"money as text", "PUT", url, "builder", `{"monthYuan":"5","progress":1}`, ifm("2"), 422, "wrong_type", "monthYuan"},
		{"null money", "PUT", url, "builder", `{"monthYuan":null,"progress":1}`, ifm("2"), 422, "wrong_type", "monthYuan"},
		{"bad JSON", "PUT", url, "builder", `{"monthYuan":`, ifm("2"), 400, "bad_json", ""},
		{"not an object", "PUT", url, "builder", `[1]`, ifm("2"), 400, "bad_json", ""},
		{"control character", "PUT", url, "builder", `{"monthYuan":1,"progress":1,"progressText":"a\u202eb"}`, ifm("2"), 422, "invalid_value", "progressText"},
		{"approve by a unit", "POST", url + "/approve", "builder", "", ifm("2"), 403, "forbidden", ""},
		{"approve without If-Match", "POST", url + "/approve", "editor", "", nil, 428, "if_match_required", "If-Match"},
		{"approve stale", "POST", url + "/approve", "editor", "", ifm("1"), 412, "version_mismatch", ""},
		{"approve with a body", "POST", url + "/approve", "editor", `{"ok":true}`, ifm("2"), 400, "unknown_field", "ok"},
		{"approve a report not made", "POST", "/api/projects/P3/reports/2022-10/approve", "editor", "", ifm("1"), 404, "not_found", ""},
		{"return without reason", "POST", url + "/return", "editor", `{}`, ifm("2"), 422, "invalid_value", "reason"},
		{"return with a blank reason", "POST", url + "/return", "editor", `{"reason":"  "}`, ifm("2"), 422, "invalid_value", "reason"},
		{"return by a unit", "POST", url + "/return", "builder", `{"reason":"x"}`, ifm("2"), 403, "forbidden", ""},
	})

	// A stale write answers the report as it is now, with its ETag.
	res = f.do("PUT", url, "builder", body, ifm("1"))
	st := decodeJSON[stale412[store.Report]](t, res)
	if st.Current == nil || st.Current.Version != 2 || res.Header.Get("ETag") != `"2"` || st.Error.MessageZh == "" {
		t.Fatalf("412: current %+v ETag %q messageZh %q", st.Current, res.Header.Get("ETag"), st.Error.MessageZh)
	}

	// The office returns it with a reason; the unit submits again; the office approves.
	res = f.do("POST", url+"/return", "editor", `{"reason":"本月完成投资与形象进度不符"}`, ifm("2"))
	wantStatus(t, res, 200)
	if r = decodeJSON[store.Report](t, res); r.Status != store.ReportReturned || r.ReturnReason != "本月完成投资与形象进度不符" ||
		r.ReviewedBy != "editor" || r.Version != 3 {
		t.Fatalf("returned: got %+v", r)
	}
	res = f.do("PUT", url, "builder", `{"monthYuan":40000000,"progress":52}`, ifm("3"))
	wantStatus(t, res, 200)
	res = f.do("POST", url+"/approve", "admin", "", ifm("4"))
	wantStatus(t, res, 200)
	if r = decodeJSON[store.Report](t, res); r.Status != store.ReportApproved || r.ReviewedBy != "admin" || res.Header.Get("ETag") != `"5"` {
		t.Fatalf("approved: got %+v ETag %q", r, res.Header.Get("ETag"))
	}
	checkRefusals(t, f, []refusal{
		{"approve twice", "POST", url + "/approve", "editor", "", ifm("5"), 409, "report_state", ""},
		{"unit changes an approved report", "PUT", url, "builder", body, ifm("5"), 409, "report_state", ""},
	})

	res = f.do("GET", url, "display", "", nil)
	wantStatus(t, res, 200)
	if res.Header.Get("ETag") != `"5"` {
		t.Fatalf("GET: ETag %q", res.Header.Get("ETag"))
	}
	list := decodeJSON[struct{ Reports []store.Report }](t, f.do("GET", "/api/projects/P2/reports", "viewer", "", nil))
	if len(list.Reports) != 1 || list.Reports[0].Month != "2022-10" {
		t.Fatalf("project reports: %+v", list.Reports)
	}
	if res := f.do("GET", "/api/projects/NOPE/reports", "viewer", "", nil); res.StatusCode != 404 {
		t.Fatalf("reports of an unknown project: got %d", res.StatusCode)
	}
	if res := f.do("GET", "/api/projects/P2/reports/20-10", "viewer", "", nil); res.StatusCode != 422 {
		t.Fatalf("GET with a bad month: got %d", res.StatusCode)
	}
}

func TestCycleMonthReportsSubmitAllOrNothing(t *testing.T) {
	f, _ := newCycleFixture(t)
	const url = "/api/months/2022-10/reports"
	item := func(id string, ifMatch, yuan, progress int) string {
		return fmt.Sprintf(`{"projectId":%q,"ifMatch":%d,"monthYuan":%d,"progress":%d}`, id, ifMatch, yuan, progress)
	}
	batch := func(items ...string) string { return `{"reports":[` + strings.Join(items, ",") + `]}` }

	checkRefusals(t, f, []refusal{
		{"other unit's project", "POST", url, "builder", batch(item("P2", 0, 1, 51), item("P1", 0, 1, 1)), nil, 403, "forbidden", "reports[1].projectId"},
		{"stale", "POST", url, "builder", batch(item("P2", 0, 1, 51), item("P3", 4, 1, 1)), nil, 412, "version_mismatch", "reports[1].ifMatch"},
		{"bad value", "POST", url, "builder", batch(item("P2", 0, 1, 51), item("P3", 0, 1, 200)), nil, 422, "invalid_value", "reports[1].progress"},
		{"wrong type", "POST", url, "builder", `{"reports":[{"projectId":"P2","monthYuan":"x","progress":1}]}`, nil, 422, "wrong_type", "reports[0].monthYuan"},
		{"unknown field", "POST", url, "builder", `{"reports":[{"projectId":"P2","monthYuan":1,"progress":1,"note":""}]}`, nil, 400, "unknown_field", "reports[0].note"},
		{"missing figure", "POST", url, "builder", `{"reports":[{"projectId":"P2","monthYuan":1}]}`, nil, 422, "invalid_value", "reports[0].progress"},
		{"missing project", "POST", url, "builder", `{"reports":[{"monthYuan":1,"progress":1}]}`, nil, 422, "invalid_value", "reports[0].projectId"},
		{"unknown project", "POST", url, "editor", batch(item("NOPE", 0, 1, 1)), nil, 404, "not_found", "reports[0].projectId"},
		{"twice the same project", "POST", url, "builder", batch(item("P2", 0, 1, 51), item("P2", 0, 1, 51)), nil, 422, "invalid_value", "reports[1].projectId"},
		{"no reports", "POST", url, "builder", `{"reports":[]}`, nil, 422, "invalid_value", "reports"},
		{"no list", "POST", url, "builder", `{}`, nil, 422, "invalid_value", "reports"},
		{"not a list", "POST", url, "builder", `{"reports":{}}`, nil, 422, "wrong_type", "reports"},
		{"viewer", "POST", url, "viewer", batch(item("P2", 0, 1, 51)), nil, 403, "forbidden", ""},
		{"bad month", "POST", "/api/months/2022-1/reports", "builder", batch(item("P2", 0, 1, 51)), nil, 422, "invalid_value", "month"},
	})
	for _, id := range []string{"P2", "P3"} {
		if _, err := f.store.Report(id, "2022-10"); err == nil {
			t.Fatalf("a refused batch left a report of %s", id)
		}
	}

	rev := f.store.Rev()
	res := f.do("POST", url, "builder", batch(item("P2", 0, 30_000_000, 51), item("P3", 0, 0, 0)), nil)
	wantStatus(t, res, 200)
	out := decodeJSON[struct{ Reports []store.Report }](t, res)
	if len(out.Reports) != 2 || out.Reports[0].ProjectID != "P2" || out.Reports[1].ProjectID != "P3" ||
		out.Reports[0].Status != store.ReportSubmitted || out.Reports[0].CumulativeYuan != 730_000_000 {
		t.Fatalf("got %+v", out.Reports)
	}
	if f.store.Rev() <= rev {
		t.Fatalf("rev did not move: %d", f.store.Rev())
	}

	// The month's reporting list shows the unit done and 文化和旅游局 missing.
	list := decodeJSON[struct {
		Month    store.Month
		Deadline store.Date
		Status   store.MonthStatus
		Units    []store.UnitReport
		Rows     []store.ReportRow
	}](t, f.do("GET", url, "viewer", "", nil))
	if list.Month != "2022-10" || list.Deadline != "2022-11-05" || list.Status != store.MonthOpen || len(list.Rows) != 3 {
		t.Fatalf("got %+v", list)
	}
	units := map[string]store.ReportStatus{}
	for _, u := range list.Units {
		units[u.Department] = u.Status
	}
	if units["城乡建设局"] != store.ReportSubmitted || units["文化和旅游局"] != store.ReportMissing {
		t.Fatalf("units: %+v", list.Units)
	}
	one := decodeJSON[struct {
		Units []store.UnitReport
		Rows  []store.ReportRow
	}](t, f.do("GET", url+"?department=城乡建设局", "viewer", "", nil))
	if len(one.Units) != 1 || len(one.Rows) != 2 || one.Rows[0].Report == nil {
		t.Fatalf("one unit: %+v", one)
	}
}

func TestCycleMonthCloseReopen(t *testing.T) {
	f, _ := newCycleFixture(t)
	res := f.do("PUT", "/api/projects/P2/reports/2022-10", "builder", `{"monthYuan":50000000,"progress":55}`, nil)
	wantStatus(t, res, 201)

	checkRefusals(t, f, []refusal{
		{"month not ended", "POST", "/api/months/2022-11/close", "editor", "", nil, 409, "month_not_ended", ""},
		{"a unit", "POST", "/api/months/2022-10/close", "builder", "", nil, 403, "forbidden", ""},
		{"viewer", "POST", "/api/months/2022-10/close", "viewer", "", nil, 403, "forbidden", ""},
		{"stale If-Match", "POST", "/api/months/2022-10/close", "editor", "", ifm("3"), 412, "version_mismatch", ""},
		{"bad month", "POST", "/api/months/october/close", "editor", "", nil, 422, "invalid_value", "month"},
		{"reopen an open month", "POST", "/api/months/2022-10/reopen", "admin", `{"reason":"x"}`, ifm("0"), 409, "month_open", ""},
	})

	res = f.do("POST", "/api/months/2022-10/close", "editor", "", nil)
	wantStatus(t, res, 200)
	ms := decodeJSON[store.MonthState](t, res)
	if ms.Status != store.MonthClosed || ms.Version != 1 || ms.Snapshot != 1 || ms.ClosedBy != "editor" || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("closed: %+v ETag %q", ms, res.Header.Get("ETag"))
	}
	audit := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?limit=1", "admin", "", nil))
	if len(audit.Events) != 1 || audit.Events[0].Type != auditMonthClosed || audit.Events[0].Target != "2022-10" || audit.Events[0].Actor != "editor" {
		t.Fatalf("audit: %+v", audit.Events)
	}

	// Closed: its reports cannot change, and its figures stay as they were.
	frozen := decodeJSON[store.MonthView](t, f.do("GET", "/api/months/2022-10/summary", "viewer", "", nil))
	res = f.do("PUT", "/api/projects/P2/reports/2022-10", "builder", `{"monthYuan":1,"progress":1}`, ifm("1"))
	wantStatus(t, res, 409)
	b, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(b), `"code":"month_closed"`) || !strings.Contains(string(b), "已关账") {
		t.Fatalf("month_closed body: %s", b)
	}
	checkRefusals(t, f, []refusal{
		{"report of a closed month", "PUT", "/api/projects/P3/reports/2022-10", "editor", `{"monthYuan":1,"progress":1}`, nil, 409, "month_closed", ""},
		{"batch of a closed month", "POST", "/api/months/2022-10/reports", "editor", `{"reports":[{"projectId":"P3","monthYuan":1,"progress":1}]}`, nil, 409, "month_closed", ""},
		{"approve in a closed month", "POST", "/api/projects/P2/reports/2022-10/approve", "editor", "", ifm("1"), 409, "month_closed", ""},
		{"close twice", "POST", "/api/months/2022-10/close", "editor", "", ifm("1"), 409, "month_closed", ""},
		{"reopen by the office", "POST", "/api/months/2022-10/reopen", "editor", `{"reason":"x"}`, ifm("1"), 403, "forbidden", ""},
		{"reopen without If-Match", "POST", "/api/months/2022-10/reopen", "admin", `{"reason":"x"}`, nil, 428, "if_match_required", "If-Match"},
		{"reopen without reason", "POST", "/api/months/2022-10/reopen", "admin", `{}`, ifm("1"), 422, "invalid_value", "reason"},
		{"reopen with a bad reason", "POST", "/api/months/2022-10/reopen", "admin", `{"reason":5}`, ifm("1"), 422, "wrong_type", "reason"},
		{"reopen with an unknown field", "POST", "/api/months/2022-10/reopen", "admin", `{"reason":"x","why":"y"}`, ifm("1"), 400, "unknown_field", "why"},
		{"reopen stale", "POST", "/api/months/2022-10/reopen", "admin", `{"reason":"x"}`, ifm("7"), 412, "version_mismatch", ""},
	})
	res = f.do("POST", "/api/months/2022-10/reopen", "admin", `{"reason":"x"}`, ifm("7"))
	if st := decodeJSON[stale412[store.MonthState]](t, res); st.Current == nil || st.Current.Version != 1 || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("412 current %+v ETag %q", st.Current, res.Header.Get("ETag"))
	}

	// A later edit of the project shows in November, not in the closed October.
	res = f.do("PATCH", "/api/projects/P2", "builder", `{"progress":70}`, ifm(fmt.Sprint(mustProject(t, f.store, "P2").Version)))
	wantStatus(t, res, 200)
	after := decodeJSON[store.MonthView](t, f.do("GET", "/api/months/2022-10/summary", "viewer", "", nil))
	if p := figures(after, "P2"); p.Progress != figures(frozen, "P2").Progress || p.Progress != 55 || after.Snapshot != 1 {
		t.Fatalf("October after the edit: P2 progress %d (was %d), snapshot %d", p.Progress, figures(frozen, "P2").Progress, after.Snapshot)
	}
	nov := decodeJSON[store.MonthView](t, f.do("GET", "/api/months/2022-11/summary", "viewer", "", nil))
	if figures(nov, "P2").Progress != 70 || nov.Status != store.MonthOpen {
		t.Fatalf("November: %+v", figures(nov, "P2"))
	}
	cmp := decodeJSON[store.MonthComparison](t, f.do("GET", "/api/months/2022-11/compare", "viewer", "", nil))
	if cmp.Month != "2022-11" || cmp.With != "2022-10" || cmp.Kind != "mom" {
		t.Fatalf("compare: %+v", cmp)
	}
	changed := false
	for _, d := range cmp.Projects {
		if d.ID == "P2" && d.Status == "changed" {
			_, changed = d.Fields["progress"]
		}
	}
	if !changed {
		t.Fatalf("compare November with October: P2's progress not marked changed: %+v", cmp.Projects)
	}
	if cmp := decodeJSON[store.MonthComparison](t, f.do("GET", "/api/months/2022-10/compare?with=2021-10", "viewer", "", nil)); cmp.Kind != "yoy" {
		t.Fatalf("同比: got kind %q", cmp.Kind)
	}
	for target, want := range map[string]int{
		"/api/months/2022-10/compare?with=10":    400,
		"/api/months/2022-12/summary":            404, // not begun
		"/api/months/2022-12/compare":            404,
		"/api/months/2022-00/summary":            422,
		"/api/months?year=1999":                  400,
		"/api/months/2022-10/reports?department": 200,
	} {
		if res := f.do("GET", target, "viewer", "", nil); res.StatusCode != want {
			t.Errorf("GET %s: got %d, want %d", target, res.StatusCode, want)
		}
	}

	// The admin reopens October with a reason.
	res = f.do("POST", "/api/months/2022-10/reopen", "admin", `{"reason":"补报污水厂数据"}`, ifm("1"))
	wantStatus(t, res, 200)
	if ms = decodeJSON[store.MonthState](t, res); ms.Status != store.MonthOpen || ms.Version != 2 || len(ms.History) != 2 ||
		ms.History[1].Reason != "补报污水厂数据" {
		t.Fatalf("reopened: %+v", ms)
	}
	audit = decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?limit=1", "admin", "", nil))
	if audit.Events[0].Type != auditMonthReopened || audit.Events[0].Detail != "补报污水厂数据" {
		t.Fatalf("audit: %+v", audit.Events)
	}
	months := decodeJSON[struct {
		Year   int
		Months []store.MonthState
		Trend  []store.TrendPoint
	}](t, f.do("GET", "/api/months?year=2022", "viewer", "", nil))
	if months.Year != 2022 || len(months.Months) != 12 || months.Months[9].Version != 2 || len(months.Trend) == 0 {
		t.Fatalf("months: %+v", months)
	}
	if def := decodeJSON[struct{ Year int }](t, f.do("GET", "/api/months", "viewer", "", nil)); def.Year != 2022 {
		t.Fatalf("default year: %d", def.Year)
	}
	// Closed again with its new version: a second snapshot.
	res = f.do("POST", "/api/months/2022-10/close", "admin", "", ifm("2"))
	wantStatus(t, res, 200)
	if ms = decodeJSON[store.MonthState](t, res); ms.Snapshot != 2 {
		t.Fatalf("closed again: %+v", ms)
	}
	// Both closes' figures stay readable; a close that never happened is 404.
	for n, want := range map[string]int{"1": 200, "2": 200, "3": 404} {
		res = f.do("GET", "/api/months/2022-10/summary?snapshot="+n, "viewer", "", nil)
		wantStatus(t, res, want)
		if want == 200 {
			if v := decodeJSON[store.MonthView](t, res); strconv.Itoa(v.Snapshot) != n || v.Status != store.MonthClosed {
				t.Fatalf("snapshot %s: got snapshot %d, status %s", n, v.Snapshot, v.Status)
			}
		}
	}
	wantStatus(t, f.do("GET", "/api/months/2022-10/summary?snapshot=x", "viewer", "", nil), 400)
}

func figures(v store.MonthView, id string) store.ProjectFigures {
	for _, p := range v.Projects {
		if p.ID == id {
			return p
		}
	}
	return store.ProjectFigures{}
}

func hasReason(p store.Project, rule string) (store.WarningLevel, bool) {
	for _, r := range p.Warning.Reasons {
		if r.Rule == rule {
			return r.Level, true
		}
	}
	return "", false
}

// rulesJSON is the default rules as a PUT body, with replacements of "old" → "new" text.
func rulesJSON(t *testing.T, f *fixture, replace ...string) string {
	t.Helper()
	res := f.do("GET", "/api/settings/warnings", "viewer", "", nil)
	b, _ := io.ReadAll(res.Body)
	return strings.NewReplacer(replace...).Replace(string(b))
}

func TestCycleWarningRules(t *testing.T) {
	f, _ := newCycleFixture(t)
	if lvl, ok := hasReason(mustProject(t, f.store, "P1"), store.RuleNotStarted); !ok || lvl != store.LevelRed {
		t.Fatalf("P1 four months late: got %q %v, want red", lvl, ok)
	}
	res := f.do("GET", "/api/settings/warnings", "display", "", nil)
	wantStatus(t, res, 200)
	rules := decodeJSON[store.WarningRules](t, res)
	v0 := fmt.Sprint(rules.Version)
	v1 := fmt.Sprint(rules.Version + 1)
	if res.Header.Get("ETag") != `"`+v0+`"` || rules.NotStarted.RedMonths != 3 {
		t.Fatalf("rules %+v ETag %q", rules, res.Header.Get("ETag"))
	}
	const red3 = `"redMonths":3`
	body := rulesJSON(t, f, red3, `"redMonths":6`)
	checkRefusals(t, f, []refusal{
		{"office editor", "PUT", "/api/settings/warnings", "editor", body, ifm(v0), 403, "forbidden", ""},
		{"no If-Match", "PUT", "/api/settings/warnings", "admin", body, nil, 428, "if_match_required", "If-Match"},
		{"stale", "PUT", "/api/settings/warnings", "admin", body, ifm("40"), 412, "version_mismatch", ""},
		{"a field left out", "PUT", "/api/settings/warnings", "admin", rulesJSON(t, f, ","+red3, ""), ifm(v0), 422, "invalid_value", "notStarted.redMonths"},
		{"a rule left out", "PUT", "/api/settings/warnings", "admin", `{"investmentPace":{"enabled":true,"yellowPoints":10,"redPoints":30}}`, ifm(v0), 422, "invalid_value", "progressPace.enabled"},
		{"unknown nested field", "PUT", "/api/settings/warnings", "admin", rulesJSON(t, f, red3, red3+`,"blueMonths":1`), ifm(v0), 400, "unknown_field", "notStarted.blueMonths"},
		{"wrong type", "PUT", "/api/settings/warnings", "admin", rulesJSON(t, f, red3, `"redMonths":"3"`), ifm(v0), 422, "wrong_type", "notStarted.redMonths"},
		{"red before yellow", "PUT", "/api/settings/warnings", "admin", rulesJSON(t, f, red3, `"redMonths":0`), ifm(v0), 422, "invalid_value", "notStarted.redMonths"},
		{"bad level", "PUT", "/api/settings/warnings", "admin", rulesJSON(t, f, `"level":"red"`, `"level":"blue"`), ifm(v0), 422, "invalid_value", "completionOverdue.level"},
	})

	// Six months to red: P1, four months late, turns yellow.
	res = f.do("PUT", "/api/settings/warnings", "admin", body, ifm(v0))
	wantStatus(t, res, 200)
	rules = decodeJSON[store.WarningRules](t, res)
	if rules.NotStarted.RedMonths != 6 || fmt.Sprint(rules.Version) != v1 || rules.UpdatedBy != "admin" || res.Header.Get("ETag") != `"`+v1+`"` {
		t.Fatalf("rules after PUT: %+v ETag %q", rules, res.Header.Get("ETag"))
	}
	if lvl, _ := hasReason(mustProject(t, f.store, "P1"), store.RuleNotStarted); lvl != store.LevelYellow {
		t.Fatalf("P1 after the change: notStarted %q, want yellow", lvl)
	}
	audit := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?limit=1", "admin", "", nil))
	if len(audit.Events) != 1 || audit.Events[0].Type != auditSettingsChanged || audit.Events[0].Detail != "notStarted.redMonths 3 → 6" {
		t.Fatalf("audit: %+v", audit.Events)
	}
	res = f.do("PUT", "/api/settings/warnings", "admin", body, ifm(v0))
	if st := decodeJSON[stale412[store.WarningRules]](t, res); st.Current == nil || fmt.Sprint(st.Current.Version) != v1 || res.Header.Get("ETag") != `"`+v1+`"` {
		t.Fatalf("412: %+v", st)
	}
	// The same rules again change nothing and are not audited again.
	rev := f.store.Rev()
	res = f.do("PUT", "/api/settings/warnings", "admin", rulesJSON(t, f), ifm(v1))
	wantStatus(t, res, 200)
	if f.store.Rev() != rev {
		t.Fatalf("an unchanged PUT moved rev from %d to %d", rev, f.store.Rev())
	}
}

func TestCycleProblems(t *testing.T) {
	f, _ := newCycleFixture(t)
	checkRefusals(t, f, []refusal{
		{"other unit", "POST", "/api/projects/P1/problems", "builder", `{"description":"土地未摘牌"}`, nil, 403, "forbidden", ""},
		{"viewer", "POST", "/api/projects/P2/problems", "viewer", `{"description":"x"}`, nil, 403, "forbidden", ""},
		{"no description", "POST", "/api/projects/P2/problems", "builder", `{"unit":"自然资源局"}`, nil, 422, "invalid_value", "description"},
		{"empty description", "POST", "/api/projects/P2/problems", "builder", `{"description":""}`, nil, 422, "invalid_value", "description"},
		{"bad due", "POST", "/api/projects/P2/problems", "builder", `{"description":"x","due":"2022-02-30"}`, nil, 422, "invalid_value", "due"},
		{"due as a number", "POST", "/api/projects/P2/problems", "builder", `{"description":"x","due":20221130}`, nil, 422, "wrong_type", "due"},
		{"unknown field", "POST", "/api/projects/P2/problems", "builder", `{"description":"x","status":"resolved"}`, nil, 400, "unknown_field", "status"},
		{"unknown project", "POST", "/api/projects/NOPE/problems", "editor", `{"description":"x"}`, nil, 404, "not_found", ""},
	})
	res := f.do("POST", "/api/projects/P2/problems", "builder", `{"description":"征地拆迁未完成","unit":"自然资源局","due":"2022-11-01"}`, nil)
	wantStatus(t, res, 201)
	pr := decodeJSON[store.Problem](t, res)
	if pr.ID == "" || pr.ProjectID != "P2" || pr.Status != store.ProblemPending || pr.Unit != "自然资源局" || pr.Leader != "李副主任" ||
		pr.RaisedBy != "builder" || pr.Version != 1 || res.Header.Get("ETag") != `"1"` || res.Header.Get("Location") != "/api/problems/"+pr.ID {
		t.Fatalf("raised: %+v ETag %q Location %q", pr, res.Header.Get("ETag"), res.Header.Get("Location"))
	}
	p2 := mustProject(t, f.store, "P2")
	if lvl, ok := hasReason(p2, store.RuleProblemOverdue); p2.OpenProblems != 1 || !ok || lvl != store.LevelYellow {
		t.Fatalf("P2 with an overdue problem: openProblems %d, problemOverdue %q %v", p2.OpenProblems, lvl, ok)
	}
	// The office raises one on P1; its unit defaults to the project's.
	res = f.do("POST", "/api/projects/P1/problems", "editor", `{"description":"规划许可待批","due":"2022-12-31"}`, nil)
	wantStatus(t, res, 201)
	q1 := decodeJSON[store.Problem](t, res)
	if q1.Unit != "文化和旅游局" || q1.Due != "2022-12-31" {
		t.Fatalf("office's problem: %+v", q1)
	}

	url := "/api/problems/" + pr.ID
	checkRefusals(t, f, []refusal{
		{"no If-Match", "PATCH", url, "builder", `{"status":"coordinating"}`, nil, 428, "if_match_required", "If-Match"},
		{"stale", "PATCH", url, "builder", `{"status":"coordinating"}`, ifm("3"), 412, "version_mismatch", ""},
		{"resolved without a resolution", "PATCH", url, "builder", `{"status":"resolved"}`, ifm("1"), 422, "invalid_value", "resolution"},
		{"unknown status", "PATCH", url, "builder", `{"status":"done"}`, ifm("1"), 422, "invalid_value", "status"},
		{"null description", "PATCH", url, "builder", `{"description":null}`, ifm("1"), 422, "wrong_type", "description"},
		{"read-only field", "PATCH", url, "builder", `{"raisedBy":"x"}`, ifm("1"), 400, "unknown_field", "raisedBy"},
		{"other unit's problem", "PATCH", "/api/problems/" + q1.ID, "builder", `{"status":"coordinating"}`, ifm("1"), 403, "forbidden", ""},
		{"viewer", "PATCH", url, "viewer", `{"status":"coordinating"}`, ifm("1"), 403, "forbidden", ""},
		{"unknown problem", "PATCH", "/api/problems/NOPE", "editor", `{"status":"coordinating"}`, ifm("1"), 404, "not_found", ""},
	})
	res = f.do("PATCH", url, "builder", `{"status":"coordinating"}`, ifm("3"))
	if st := decodeJSON[stale412[store.Problem]](t, res); st.Current == nil || st.Current.Version != 1 || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("412: %+v", st)
	}
	res = f.do("PATCH", url, "builder", `{"status":"coordinating","due":null}`, ifm("1"))
	wantStatus(t, res, 200)
	if pr = decodeJSON[store.Problem](t, res); pr.Status != store.ProblemCoordinating || pr.Due != "" || pr.Version != 2 {
		t.Fatalf("coordinating: %+v", pr)
	}
	res = f.do("PATCH", url, "editor", `{"status":"resolved","resolution":"区政府专题会协调完成征拆"}`, ifm("2"))
	wantStatus(t, res, 200)
	if pr = decodeJSON[store.Problem](t, res); pr.Status != store.ProblemResolved || pr.ResolvedBy != "editor" || pr.ResolvedAt == nil {
		t.Fatalf("resolved: %+v", pr)
	}
	res = f.do("GET", url, "viewer", "", nil)
	wantStatus(t, res, 200)
	if got := decodeJSON[store.Problem](t, res); len(got.History) != 3 || res.Header.Get("ETag") != `"3"` {
		t.Fatalf("history: %+v", got.History)
	}
	if mustProject(t, f.store, "P2").OpenProblems != 0 {
		t.Fatal("P2 still counts the resolved problem")
	}

	type register struct {
		Problems []store.Problem
		Counts   store.ProblemCounts
	}
	all := decodeJSON[register](t, f.do("GET", "/api/problems", "viewer", "", nil))
	if len(all.Problems) != 2 || all.Counts != (store.ProblemCounts{Open: 1, Resolved: 1}) {
		t.Fatalf("register: %+v", all)
	}
	resolved := decodeJSON[register](t, f.do("GET", "/api/problems?status=resolved", "viewer", "", nil))
	if len(resolved.Problems) != 1 || resolved.Problems[0].ID != pr.ID || resolved.Counts != all.Counts {
		t.Fatalf("resolved: %+v", resolved)
	}
	for q, n := range map[string]int{"open=1": 1, "overdue=1": 0, "department=城乡建设局": 1, "unit=自然资源局": 1,
		"project=P1": 1, "year=2022": 2, "year=2023": 0} {
		if got := decodeJSON[register](t, f.do("GET", "/api/problems?"+q, "viewer", "", nil)); len(got.Problems) != n {
			t.Errorf("?%s: got %d problems, want %d", q, len(got.Problems), n)
		}
	}
	for _, q := range []string{"status=done", "open=yes", "year=12"} {
		if res := f.do("GET", "/api/problems?"+q, "viewer", "", nil); res.StatusCode != 400 {
			t.Errorf("?%s: got %d, want 400", q, res.StatusCode)
		}
	}
	of := decodeJSON[struct{ Problems []store.Problem }](t, f.do("GET", "/api/projects/P2/problems", "viewer", "", nil))
	if len(of.Problems) != 1 {
		t.Fatalf("P2's problems: %+v", of.Problems)
	}
	if res := f.do("GET", "/api/projects/NOPE/problems", "viewer", "", nil); res.StatusCode != 404 {
		t.Fatalf("problems of an unknown project: %d", res.StatusCode)
	}
	if res := f.do("GET", "/api/problems/NOPE", "viewer", "", nil); res.StatusCode != 404 {
		t.Fatalf("unknown problem: %d", res.StatusCode)
	}
}

func TestCycleYears(t *testing.T) {
	f, _ := newCycleFixture(t)
	years := decodeJSON[struct {
		Current int
		Years   []store.YearInfo
	}](t, f.do("GET", "/api/years", "display", "", nil))
	if years.Current != 2022 || len(years.Years) != 1 || years.Years[0].Year != 2022 || years.Years[0].Construction != 3 {
		t.Fatalf("years: %+v", years)
	}
	checkRefusals(t, f, []refusal{
		{"office editor", "POST", "/api/years/2023/start", "editor", "", nil, 403, "forbidden", ""},
		{"not a year", "POST", "/api/years/twenty/start", "admin", "", nil, 422, "invalid_value", "year"},
		{"with a body", "POST", "/api/years/2023/start", "admin", `{"carry":true}`, nil, 400, "unknown_field", "carry"},
		{"no year before", "POST", "/api/years/2030/start", "admin", "", nil, 404, "not_found", ""},
	})
	res := f.do("POST", "/api/years/2023/start", "admin", "", nil)
	wantStatus(t, res, 201)
	out := decodeJSON[struct {
		Year     int
		Carried  int
		Projects []store.Project
	}](t, res)
	if out.Year != 2023 || out.Carried != len(out.Projects) || out.Carried < 3 {
		t.Fatalf("start 2023: %+v", out)
	}
	for _, p := range out.Projects {
		if p.Year != 2023 || p.CarriedFrom == "" {
			t.Fatalf("carried project %+v", p)
		}
	}
	checkRefusals(t, f, []refusal{{"twice", "POST", "/api/years/2023/start", "admin", "", nil, 409, "conflict", "year"}})
	audit := decodeJSON[struct{ Events []store.AuditEvent }](t, f.do("GET", "/api/audit?limit=1", "admin", "", nil))
	if audit.Events[0].Type != auditYearStarted || audit.Events[0].Target != "2023" {
		t.Fatalf("audit: %+v", audit.Events)
	}
}

// TestCycleWarningClock: warnings change when the clock passes a boundary, with no edit.
func TestCycleWarningClock(t *testing.T) {
	f, clk := newCycleFixture(t, func(c *Config) { c.WarningEvery = 5 * time.Millisecond })
	if _, ok := hasReason(mustProject(t, f.store, "P3"), store.RuleNotStarted); ok {
		t.Fatalf("P3 before a month late: %+v", mustProject(t, f.store, "P3").Warning)
	}
	rev := f.store.Rev()
	clk.Set("2022-11-21T09:00:00+08:00") // P3 is a month late
	deadline := time.Now().Add(5 * time.Second)
	for {
		if lvl, ok := hasReason(mustProject(t, f.store, "P3"), store.RuleNotStarted); ok {
			if lvl != store.LevelYellow {
				t.Fatalf("P3 a month late: %q, want yellow", lvl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the clock's re-evaluation did not turn P3 yellow within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	changes, err := f.store.Changes(rev, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range changes {
		if c.ProjectID == "P3" {
			_, hasWarning := c.Fields["warning"]
			found = found || (c.By == store.SystemActor && c.Kind == store.ChangeUpdate && hasWarning)
		}
	}
	if !found {
		t.Fatalf("no update of P3's warning by system in %+v", changes)
	}
	// The sessions have expired on the moved clock: the metrics without login.
	mres, err := f.srv.MetricsApp().Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(mres.Body)
	if strings.Contains(string(b), "projectboard_warning_changes_total 0") || !strings.Contains(string(b), "projectboard_warning_changes_total") {
		i := strings.Index(string(b), "projectboard_warning_changes_total")
		t.Fatalf("projectboard_warning_changes_total did not count the change: %.300s", string(b)[max(i, 0):])
	}

	// After Shutdown the clock's goroutine is gone: moving the clock changes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.srv.warnDone:
	default:
		t.Fatal("the warnings' clock runs on after Shutdown")
	}
	rev = f.store.Rev()
	clk.Set("2023-03-01T09:00:00+08:00")
	time.Sleep(50 * time.Millisecond)
	if f.store.Rev() != rev {
		t.Fatalf("rev moved from %d to %d after Shutdown", rev, f.store.Rev())
	}
}

func TestCycleOffice(t *testing.T) {
	f, _ := newCycleFixture(t)
	for _, tt := range []struct {
		as   string
		want bool
	}{{"admin", true}, {"editor", true}, {"api", true}, {"builder", false}, {"viewer", false}, {"display", false}} {
		res := f.do("POST", "/api/months/2022-10/close", tt.as, "", ifm("9"))
		// The office gets past the check to the stale version; others are refused.
		if got := res.StatusCode == 412; got != tt.want {
			t.Errorf("%s: got %d, office %v", tt.as, res.StatusCode, tt.want)
		}
	}
}

// FuzzDecodeCycleBody: the cycle's strict decoder answers any body with a value or a 4xx
// naming what is wrong, never a panic or a 5xx.
func FuzzDecodeCycleBody(f *testing.F) {
	for _, s := range []string{`{"reports":[{"projectId":"P1","ifMatch":0,"monthYuan":1,"progress":2}]}`,
		`{"reports":[{"monthYuan":"x"}]}`, `{"notStarted":{"enabled":true,"redMonths":3}}`, `{"due":null,"status":"resolved"}`,
		`{"reportMissing":{"level":"red","deadlineDay":5,"x":1}}`, `{"reports":null}`, `[]`, `{"a":`, "\xff", `{"due":"2022-02-30"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&batchBody{}, &store.WarningRules{}, &store.ProblemPatch{}, &newProblemBody{}, &reasonBody{}} {
			present, err := decodeJSONBody([]byte(body), v)
			if err != nil {
				if ae := toAPIError(err); ae.Status >= 500 {
					t.Fatalf("body %q into %T: got %d %v", body, v, ae.Status, err)
				}
				continue
			}
			if present == nil {
				t.Fatalf("body %q into %T: no field set", body, v)
			}
		}
	})
}

func TestCycleStaleReportNotMade(t *testing.T) {
	f, _ := newCycleFixture(t)
	res := f.do("PUT", "/api/projects/P3/reports/2022-10", "builder", `{"monthYuan":1,"progress":1}`, ifm("2"))
	wantStatus(t, res, 412)
	b, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(b), `"current":null`) || !strings.Contains(string(b), `"code":"version_mismatch"`) {
		t.Fatalf("412 for a report not made: %s", b)
	}
}
