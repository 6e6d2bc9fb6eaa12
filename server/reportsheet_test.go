package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

// download GETs a file and fails unless it is 200 with a name containing want.
func download(t *testing.T, f *fixture, target, as, want string) []byte {
	t.Helper()
	res := f.do("GET", target, as, "", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", target, res.StatusCode, body)
	}
	cd, _ := url.PathUnescape(res.Header.Get("Content-Disposition"))
	if !strings.Contains(cd, want) {
		t.Errorf("GET %s: Content-Disposition %q, want a name with %q", target, cd, want)
	}
	return body
}

type reportImportAnswer struct {
	Applied bool
	Counts  reportImportCounts
	Sheets  []struct {
		Sheet  string
		Month  store.Month
		Error  *reportImportError
		Counts reportImportCounts
		Rows   []reportImportRow
	}
	Result *reportImportAnswer
	Error  *struct{ Code, Message, MessageZh string }
}

func importReports(t *testing.T, f *fixture, as string, dryRun bool, name string, data []byte) (int, reportImportAnswer) {
	t.Helper()
	res := f.upload(fmt.Sprintf("/api/imports/reports?dryRun=%v", dryRun), as, name, data)
	b, _ := io.ReadAll(res.Body)
	var a reportImportAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%d %s: %v", res.StatusCode, b, err)
	}
	if a.Result != nil {
		r := *a.Result
		r.Error = a.Error
		a = r
	}
	return res.StatusCode, a
}

// fillTemplate fills the template's rows by project id: id → {万元, 形象进度, 进展, 问题}.
func fillTemplate(t *testing.T, data []byte, values map[string][]any) []byte {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	sh := x.GetSheetName(0)
	rows, _ := x.GetRows(sh)
	for i, r := range rows {
		if len(r) < 2 {
			continue
		}
		if v, ok := values[r[1]]; ok {
			if err := x.SetSheetRow(sh, fmt.Sprintf("G%d", i+1), &v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reportOf(t *testing.T, f *fixture, id string, m store.Month) *store.Report {
	t.Helper()
	r, err := f.store.Report(id, m)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestReportsImportRoundTrip: the template of October, filled in, previews as two new reports
// and stores nothing; applied, both are stored as submitted; imported again, both are
// unchanged; changed, one is an update.
func TestReportsImportRoundTrip(t *testing.T) {
	f := newFixture(t)
	tpl := download(t, f, "/api/export/report-template?month=2022-10", "editor", "月报模板-2022年10月")
	data := fillTemplate(t, tpl, map[string][]any{"P1": {1500.25, 35, "主体施工", "用地指标未落实"}, "P2": {"2,000", "60%", "", ""}})

	status, a := importReports(t, f, "editor", true, "月报.xlsx", data)
	if status != 200 || a.Counts != (reportImportCounts{Create: 2}) || len(a.Sheets) != 1 || a.Sheets[0].Month != "2022-10" {
		t.Fatalf("dry run: %d %+v", status, a)
	}
	for _, r := range a.Sheets[0].Rows {
		if r.Action != "create" || r.Input == nil {
			t.Errorf("row %+v", r)
		}
	}
	if reportOf(t, f, "P1", "2022-10") != nil {
		t.Fatal("the dry run stored a report")
	}

	status, a = importReports(t, f, "editor", false, "月报.xlsx", data)
	if status != 200 || !a.Applied || a.Counts.Create != 2 {
		t.Fatalf("apply: %d %+v", status, a)
	}
	r1, r2 := reportOf(t, f, "P1", "2022-10"), reportOf(t, f, "P2", "2022-10")
	if r1 == nil || r1.MonthYuan != 15_002_500 || r1.Progress != 35 || r1.ProgressText != "主体施工" || r1.ProblemsText != "用地指标未落实" ||
		r1.Status != store.ReportSubmitted || r1.ReportedBy != "editor" {
		t.Errorf("P1 report %+v", r1)
	}
	if r2 == nil || r2.MonthYuan != 20_000_000 || r2.Progress != 60 {
		t.Errorf("P2 report %+v", r2)
	}

	// The template now carries the reports; imported unchanged, nothing changes.
	tpl = download(t, f, "/api/export/report-template?month=2022-10&department="+url.QueryEscape("城乡建设局"), "admin", "城乡建设局")
	status, a = importReports(t, f, "editor", true, "again.xlsx", tpl)
	if status != 200 || a.Counts != (reportImportCounts{Unchanged: 1}) {
		t.Fatalf("re-import: %d %+v", status, a)
	}
	status, a = importReports(t, f, "editor", false, "again.xlsx", fillTemplate(t, tpl, map[string][]any{"P2": {2500}}))
	if status != 200 || a.Counts != (reportImportCounts{Update: 1}) {
		t.Fatalf("update: %d %+v", status, a)
	}
	if r := reportOf(t, f, "P2", "2022-10"); r.MonthYuan != 25_000_000 || r.Progress != 60 || r.Version == r2.Version {
		t.Errorf("P2 updated %+v", r)
	}
}

// monthWorkbook makes a workbook of sheets name → rows from A1.
func monthWorkbook(t *testing.T, names []string, rows map[string][][]any) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, n := range names {
		if i == 0 {
			_ = x.SetSheetName("Sheet1", n)
		} else if _, err := x.NewSheet(n); err != nil {
			t.Fatal(err)
		}
		for j, r := range rows[n] {
			if err := x.SetSheetRow(n, fmt.Sprintf("A%d", j+1), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var reportHead = []any{"项目编号", "项目名称", "本月完成投资（万元）", "形象进度（%）", "进展情况", "存在问题"}

// TestReportsImportForbidden: an editor of one unit cannot import another unit's reports:
// the dry run names the row, the apply is 403 and changes nothing, not even the rows the
// editor may change.
func TestReportsImportForbidden(t *testing.T) {
	f := newFixture(t)
	data := monthWorkbook(t, []string{"2022年10月"}, map[string][][]any{"2022年10月": {reportHead,
		{"P2", "新城大街快速路", 100, 10, "", ""}, {"P1", "", 200, 20, "", ""}}})
	status, a := importReports(t, f, "builder", true, "x.xlsx", data)
	if status != 200 || a.Counts != (reportImportCounts{Create: 1, Error: 1}) {
		t.Fatalf("dry run: %d %+v", status, a)
	}
	if r := a.Sheets[0].Rows[1]; r.Action != "error" || len(r.Errors) != 1 || r.Errors[0].Code != "forbidden" || !strings.Contains(r.Errors[0].Message, "第 3 行") {
		t.Errorf("row %+v", r)
	}
	status, a = importReports(t, f, "builder", false, "x.xlsx", data)
	if status != 403 || a.Error == nil || a.Error.Code != "forbidden" || a.Applied {
		t.Fatalf("apply: %d %+v", status, a)
	}
	if reportOf(t, f, "P1", "2022-10") != nil || reportOf(t, f, "P2", "2022-10") != nil {
		t.Fatal("a refused import stored a report")
	}
	// Viewers and display tokens may not import at all; anonymous callers must log in.
	for as, want := range map[string]int{"viewer": 403, "display": 403, "": 401} {
		if res := f.do("POST", "/api/imports/reports?dryRun=true", as, "", nil); res.StatusCode != want {
			t.Errorf("%q: %d, want %d", as, res.StatusCode, want)
		}
	}
}

// TestReportsImportHostile: text in number cells, a sheet naming no month, a project of no
// list, a project twice, a closed month: the dry run names each by sheet, row and column; the
// apply refuses the whole file and changes nothing. Files that are no workbook are refused
// as the project import refuses them (the body limit, 413, is the server's for every route).
func TestReportsImportHostile(t *testing.T) {
	f := newFixture(t)
	if _, err := f.store.CloseMonth("2022-09", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	data := monthWorkbook(t, []string{"2022-10", "汇总", "2022-09"}, map[string][][]any{
		"2022-10": {reportHead,
			{"P1", "", "一百", "很多", "", ""},
			{"P2", "", 100, 10, "", ""},
			{"P2", "", 100, 10, "", ""},
			{"NOPE", "", 1, 1, "", ""},
			{"A1", "", 1, 1, "", ""},
			{"", "不存在的项目", 1, 1, "", ""},
			{"P1", "别的名字", 1, 1, "", ""},
		},
		"汇总":      {reportHead, {"P1", "", 1, 1, "", ""}},
		"2022-09": {reportHead, {"P2", "", 1, 1, "", ""}},
	})
	status, a := importReports(t, f, "admin", true, "hostile.xlsx", data)
	if status != 200 || len(a.Sheets) != 3 {
		t.Fatalf("dry run: %d %+v", status, a)
	}
	oct := a.Sheets[0]
	wantCodes := []string{"invalid_value,invalid_value", "", "duplicate", "not_found", "not_in_year", "not_found", "invalid_value"}
	for i, r := range oct.Rows {
		var codes []string
		for _, e := range r.Errors {
			codes = append(codes, e.Code)
			if e.Message == "" || e.MessageEn == "" || !strings.Contains(e.Message, fmt.Sprintf("第 %d 行", r.Line)) {
				t.Errorf("row %d: error without its row: %+v", r.Line, e)
			}
		}
		if strings.Join(codes, ",") != wantCodes[i] {
			t.Errorf("row %d: %v, want %s", r.Line, codes, wantCodes[i])
		}
	}
	if e := oct.Rows[0].Errors; len(e) != 2 || e[0].Letter != "C" || e[1].Letter != "D" || e[0].Column != "本月完成投资（万元）" {
		t.Errorf("cell errors %+v", e)
	}
	if e := a.Sheets[1].Error; e == nil || e.Code != "unknown_month" || len(a.Sheets[1].Rows) != 0 {
		t.Errorf("汇总: %+v", a.Sheets[1])
	}
	if e := a.Sheets[2].Error; e == nil || e.Code != "month_closed" || a.Sheets[2].Rows[0].Action != "error" {
		t.Errorf("closed September: %+v", a.Sheets[2])
	}
	if a.Counts.Create != 1 || a.Counts.Error != 9 {
		t.Errorf("counts %+v", a.Counts)
	}
	rev := f.store.Rev()
	status, a = importReports(t, f, "admin", false, "hostile.xlsx", data)
	if status != 409 || a.Error == nil || a.Error.Code != "month_closed" || a.Applied {
		t.Fatalf("apply: %d %+v", status, a)
	}
	// Without the closed month, the other errors still refuse the file.
	data = monthWorkbook(t, []string{"2022-10"}, map[string][][]any{"2022-10": {reportHead, {"P1", "", "一百", 1, "", ""}, {"P2", "", 1, 1, "", ""}}})
	if status, a = importReports(t, f, "admin", false, "bad.xlsx", data); status != 409 || a.Error == nil || a.Error.Code != "import_has_errors" {
		t.Fatalf("apply with errors: %d %+v", status, a)
	}
	if f.store.Rev() != rev || reportOf(t, f, "P2", "2022-10") != nil {
		t.Fatal("a refused import changed the store")
	}

	for _, c := range []struct {
		name   string
		data   []byte
		status int
		code   string
	}{
		{"a.pdf", []byte("%PDF-1.4\x00\x01"), 422, "bad_file"},
		{"a.xls", []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1}, 422, "bad_file"},
		{"a.xlsx", []byte("PK\x03\x04broken"), 422, "bad_file"},
	} {
		res := f.upload("/api/imports/reports?dryRun=true", "admin", c.name, c.data)
		if code, _ := errorOf(t, res); res.StatusCode != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.StatusCode, code, c.status, c.code)
		}
	}
	if res := f.upload("/api/imports/reports", "admin", "a.xlsx", data); res.StatusCode != 400 {
		t.Errorf("without dryRun: %d", res.StatusCode)
	}
}

// TestReportsImportTooManyRows: more rows than the import allows is refused whole.
func TestReportsImportTooManyRows(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 100,001 rows")
	}
	f := newFixture(t)
	x := excelize.NewFile()
	sw, _ := x.NewStreamWriter("Sheet1")
	_ = x.SetSheetName("Sheet1", "2022-10")
	_ = sw.SetRow("A1", []any{"项目编号", "本月完成投资"})
	for i := 2; i <= sheet.DefaultMaxRows+2; i++ {
		_ = sw.SetRow(fmt.Sprintf("A%d", i), []any{"P1", 1})
	}
	_ = sw.Flush()
	var buf bytes.Buffer
	_ = x.Write(&buf)
	x.Close()
	res := f.upload("/api/imports/reports?dryRun=true", "admin", "many.xlsx", buf.Bytes())
	if code, _ := errorOf(t, res); res.StatusCode != 422 || code != "bad_file" {
		t.Errorf("%d %s", res.StatusCode, code)
	}
}

// TestBulletinExport: after October's reports, the bulletin has the title, the totals, one
// row per project of the year with numbers as numbers, and a total; a department's bulletin
// has its projects only.
func TestBulletinExport(t *testing.T) {
	f := newFixture(t)
	data := monthWorkbook(t, []string{"2022年10月"}, map[string][][]any{"2022年10月": {reportHead,
		{"P1", "", 1234.5678, 35, "主体施工", "用地指标未落实"}, {"P2", "", 2000, 60, "", ""}}})
	if status, a := importReports(t, f, "admin", false, "x.xlsx", data); status != 200 || !a.Applied {
		t.Fatalf("import: %d %+v", status, a)
	}
	view, err := f.store.MonthView("2022-10")
	if err != nil {
		t.Fatal(err)
	}
	body := download(t, f, "/api/export/reports?month=2022-10", "viewer", "重点项目建设情况通报-2022年10月.xlsx")
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if v, _ := x.GetCellValue(sheet.BulletinSheet, "A1"); v != "长春净月高新区重点项目建设情况通报（截至2022年10月）" {
		t.Errorf("title %q", v)
	}
	rows, _ := x.GetRows(sheet.BulletinProjectsSheet)
	if len(rows) != 3+len(view.Projects)+1 || len(view.Projects) == 0 {
		t.Fatalf("%d rows for %d projects: %q", len(rows), len(view.Projects), rows)
	}
	found := false
	for i, r := range rows[3 : len(rows)-1] {
		if r[1] != "长春影视产业园" {
			continue
		}
		found = true
		cell := fmt.Sprintf("H%d", i+4)
		raw, _ := x.GetCellValue(sheet.BulletinProjectsSheet, cell, excelize.Options{RawCellValue: true})
		typ, _ := x.GetCellType(sheet.BulletinProjectsSheet, cell)
		if raw != "1234.5678" || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) {
			t.Errorf("本月完成 %s = %q (%v)", cell, raw, typ)
		}
		if r[13] != "已报" || r[14] != "用地指标未落实" {
			t.Errorf("P1 row %q", r)
		}
	}
	if !found {
		t.Errorf("P1 not in %q", rows)
	}
	body = download(t, f, "/api/export/reports?month=2022-10&department="+url.QueryEscape("城乡建设局"), "viewer", "城乡建设局")
	x2, _ := excelize.OpenReader(bytes.NewReader(body))
	defer x2.Close()
	if rows, _ := x2.GetRows(sheet.BulletinProjectsSheet); len(rows) != 3+1+1 || rows[3][1] != "新城大街快速路" {
		t.Errorf("department bulletin %q", rows)
	}
	for target, want := range map[string]int{"/api/export/reports?month=2022-13": 400, "/api/export/reports?month=2099-01": 404,
		"/api/export/report-template?month=x": 400, "/api/export/problems?format=pdf": 400, "/api/export/problems?status=x": 400} {
		if res := f.do("GET", target, "viewer", "", nil); res.StatusCode != want {
			t.Errorf("%s: %d, want %d", target, res.StatusCode, want)
		}
	}
}

// TestProblemsExport: the register as CSV and XLSX.
func TestProblemsExport(t *testing.T) {
	f := newFixture(t)
	desc, unit, leader, due := "=电力迁改未完成", "供电公司", "王芳", store.Date("2022-10-20")
	if _, err := f.store.Apply(store.Edit{Kind: store.ChangeProblem, ProjectID: "P2", By: "admin",
		Problem: &store.ProblemEdit{Patch: store.ProblemPatch{Description: &desc, Unit: &unit, Leader: &leader, Due: &due}}}); err != nil {
		t.Fatal(err)
	}
	csv := string(download(t, f, "/api/export/problems?format=csv", "viewer", "问题台账-"))
	if !strings.HasPrefix(csv, "\uFEFF问题编号,") || !strings.Contains(csv, "'=电力迁改未完成") || !strings.Contains(csv, "新城大街快速路") ||
		!strings.Contains(csv, "待协调") {
		t.Errorf("csv %q", csv)
	}
	body := download(t, f, "/api/export/problems?open=true", "viewer", ".xlsx")
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if rows, _ := x.GetRows(sheet.ProblemsSheet); len(rows) != 2 || rows[1][4] != desc || rows[1][9] != "是" {
		t.Errorf("xlsx %q", rows)
	}
}
