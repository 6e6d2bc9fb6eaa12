package server

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"projectboard/server/feedwire"
	"projectboard/store"
)

// upload sends a file as a browser does (multipart/form-data, field "file").
func (f *fixture) upload(target, as, name string, data []byte) *http.Response {
	f.tb.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req := httptest.NewRequest("POST", target, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: f.cookies[as]})
	res, err := f.srv.App().Test(req, -1)
	if err != nil {
		f.tb.Fatal(err)
	}
	return res
}

type importAnswer struct {
	ID      string
	Year    int
	Counts  store.ImportCounts
	Rows    []store.PlannedRow
	Columns []struct{ Letter, Header, Field, Unit string }
}

func dryRun(t *testing.T, f *fixture, as, name string, data []byte) importAnswer {
	t.Helper()
	res := f.upload("/api/imports?dryRun=true&year=2022", as, name, data)
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("dry run of %s: %d %s", name, res.StatusCode, b)
	}
	return decodeJSON[importAnswer](t, res)
}

// officeXLSX is a register as an office keeps it: a title row, a merged two-row header with
// the unit in the upper cell, amounts as text with thousands separators, dates as serials.
func officeXLSX(t *testing.T) []byte {
	t.Helper()
	x := excelize.NewFile()
	sh := x.GetSheetName(0)
	set := func(cell string, v any) {
		if err := x.SetCellValue(sh, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("A1", "2022年净月高新区重点项目推进情况表")
	_ = x.MergeCell(sh, "A1", "I1")
	for col, h := range map[string]string{"A": "序号", "B": "项目名称", "C": "责任单位", "D": "推进阶段", "H": "计划开工时间", "I": "备注",
		"J": "项目类别", "K": "行业"} {
		set(col+"2", h)
		_ = x.MergeCell(sh, col+"2", col+"3")
	}
	set("E2", "投资情况（万元）")
	_ = x.MergeCell(sh, "E2", "G2")
	set("E3", "总投资")
	set("F3", "年度计划")
	set("G3", "年度完成")
	rows := [][]any{
		{1, "长春影视产业园", "文化和旅游局", "在建", "350,000", "90,000", "12,000.5", 44652, "冬季施工"},           // P1: stage, completed, started date
		{2, "新城大街快速路", "城乡建设局", "在建", "200000", "", "", 44652, ""},                               // P2 unchanged but for note? no: same values
		{3, "净月数字经济产业园", "经济发展局", "前期", "50,000", "10,000", "0", 44927, "新项目", "计划外新开工", "数字经济"}, // create
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, 4+i)
		if err := x.SetSheetRow(sh, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An office's own XLSX imports with a dry run that writes nothing and an apply that commits
// exactly what it showed, in one transaction that screens asking for batches get as one frame.
func TestImportOfficeXLSX(t *testing.T) {
	l := startLive(t)
	f := l.f
	screen, _, err := l.dial(t, "token="+f.display+"&batch=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	screen.next() // hello
	screen.next() // snapshot
	rev0 := f.store.Rev()
	a := dryRun(t, f, "editor", "2022台账.xlsx", officeXLSX(t))
	if f.store.Rev() != rev0 {
		t.Fatal("the dry run wrote")
	}
	if a.Counts.Create != 1 || a.Counts.Update != 2 || a.Counts.Error != 0 {
		t.Fatalf("counts %+v, rows %+v", a.Counts, a.Rows)
	}
	p1 := a.Rows[0]
	if p1.Row != 4 || p1.ProjectID != "P1" || p1.Status != store.ImportUpdate {
		t.Fatalf("row 4: %+v", p1)
	}
	if c := p1.Changes["investmentCompletedYuan"]; c.To != float64(120005000) {
		t.Errorf("12,000.5 万元: got %v yuan, want 120005000 (changes %+v)", c.To, p1.Changes)
	}
	if c := p1.Changes["plannedStart"]; fmt.Sprint(c.To) != "2022-04-01" {
		t.Errorf("serial date 44652: got %v, want 2022-04-01", c.To)
	}
	if c := p1.Changes["stage"]; fmt.Sprint(c.To) != "under_construction" {
		t.Errorf("在建: got %v", c.To)
	}
	units := map[string]string{}
	for _, c := range a.Columns {
		units[c.Field] = c.Unit
	}
	if units["investmentYuan"] != "万元" {
		t.Errorf("the unit of 总投资 from the merged header: %q", units["investmentYuan"])
	}
	res := f.do("POST", "/api/imports/"+a.ID+"/apply", "editor", "", nil)
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("apply: %d %s", res.StatusCode, b)
	}
	applied := decodeJSON[struct {
		Rev    uint64
		Counts store.ImportCounts
	}](t, res)
	if applied.Rev != rev0+3 || f.store.Rev() != rev0+3 {
		t.Fatalf("apply: rev %d, store at %d, want %d", applied.Rev, f.store.Rev(), rev0+3)
	}
	p, _ := f.store.Project("P1")
	if p.InvestmentCompletedYuan != 120_005_000 || p.UpdatedBy != "editor" {
		t.Errorf("P1 after the import: %+v", p)
	}
	changes, _ := f.store.Changes(rev0, 10)
	for _, c := range changes {
		if c.Comment != "导入 2022台账.xlsx" {
			t.Errorf("change %d comment %q", c.Rev, c.Comment)
		}
	}
	// The screen gets the whole import in one frame.
	_ = screen.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, frame, err := screen.conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	batch, err := feedwire.Decode(frame)
	if err != nil || len(batch) != 3 || batch[2].Rev != rev0+3 {
		t.Fatalf("one frame with the import's 3 changes: got %d messages (%v): %.200s", len(batch), err, frame)
	}
	// Applied once: the dry run is gone.
	if res := f.do("POST", "/api/imports/"+a.ID+"/apply", "editor", "", nil); res.StatusCode != 404 {
		t.Fatalf("second apply: %d", res.StatusCode)
	}
}

var _ = websocket.TextMessage

// Export, edit three cells in the spreadsheet, import: the dry run shows exactly those three.
func TestExportEditImportRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, format := range []string{"xlsx", "csv"} {
		res := f.do("GET", "/api/export/projects?format="+format, "viewer", "", nil)
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("%s export: %d %v", format, res.StatusCode, res.Header)
		}
		data, _ := io.ReadAll(res.Body)
		var edited []byte
		if format == "xlsx" {
			x, err := excelize.OpenReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			sh := x.GetSheetName(0)
			rows, _ := x.GetRows(sh)
			col := func(header string) int {
				for i, h := range rows[0] {
					if strings.HasPrefix(h, header) {
						return i + 1
					}
				}
				t.Fatalf("no column %s in %v", header, rows[0])
				return 0
			}
			line := func(id string) int {
				for i, r := range rows {
					if r[0] == id {
						return i + 1
					}
				}
				t.Fatalf("no row %s", id)
				return 0
			}
			cell := func(c, r int) string { n, _ := excelize.CoordinatesToCellName(c, r); return n }
			_ = x.SetCellValue(sh, cell(col("形象进度"), line("P1")), 66)
			_ = x.SetCellValue(sh, cell(col("总投资"), line("P2")), 210000.5)
			_ = x.SetCellValue(sh, cell(col("备注"), line("A1")), "已签约，待落位")
			var buf bytes.Buffer
			_ = x.Write(&buf)
			edited = buf.Bytes()
		} else {
			if !bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
				t.Fatal("the CSV has no BOM")
			}
			r := csv.NewReader(bytes.NewReader(data[3:]))
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for i, h := range recs[0] {
				if strings.HasPrefix(h, "形象进度") {
					for _, rec := range recs[1:] {
						if rec[0] == "P1" {
							rec[i] = "66"
						}
					}
				}
			}
			var buf bytes.Buffer
			buf.WriteString("\xef\xbb\xbf")
			w := csv.NewWriter(&buf)
			_ = w.WriteAll(recs)
			edited = buf.Bytes()
		}
		a := dryRun(t, f, "admin", "export."+format, edited)
		var changed []string
		for _, r := range a.Rows {
			if r.Status == store.ImportFailed {
				t.Fatalf("%s: row %d: %+v", format, r.Row, r.Errors)
			}
			for field := range r.Changes {
				changed = append(changed, r.ProjectID+"."+field)
			}
		}
		want := "[A1.note P1.progress P2.investmentYuan]"
		if format == "csv" {
			want = "[P1.progress]"
		}
		if fmt.Sprint(sortStrings(changed)) != want {
			t.Errorf("%s: the dry run shows %v, want %s", format, changed, want)
		}
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestImportRefusals(t *testing.T) {
	f := newFixture(t)
	// GB18030 CSV, as Excel in China saves it, with one bad row and one of another department.
	csvText := "项目名称,责任单位,总投资（万元）,推进阶段\n长春影视产业园,文化和旅游局,-5,在建\n新城大街快速路,城乡建设局,300000,在建\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(csvText)
	if err != nil {
		t.Fatal(err)
	}
	a := dryRun(t, f, "builder", "台账.csv", []byte(gb))
	if a.Counts.Error != 1 || a.Counts.Update != 1 {
		t.Fatalf("counts %+v rows %+v", a.Counts, a.Rows)
	}
	e := a.Rows[0].Errors
	if len(e) == 0 || !strings.HasPrefix(e[0].Message, "第 2 行「总投资") {
		t.Fatalf("row 2 errors: %+v", e)
	}
	rev := f.store.Rev()
	if res := f.do("POST", "/api/imports/"+a.ID+"/apply", "builder", "", nil); res.StatusCode != 409 {
		t.Fatalf("apply with errors: %d", res.StatusCode)
	} else if code, _ := errorOf(t, res); code != "import_has_errors" {
		t.Fatalf("code %s", code)
	}
	if res := f.do("POST", "/api/imports/"+a.ID+"/apply", "editor", "", nil); res.StatusCode != 403 {
		t.Fatalf("another account applies: %d", res.StatusCode)
	}
	// The errors file holds the refused rows, with the reason.
	checkErrorsFile(t, f, a.ID, "不能为负数")
	// A project of the import changes meanwhile: 409, nothing written.
	f.do("PATCH", "/api/projects/P2", "admin", `{"note":"meanwhile"}`, map[string]string{"If-Match": `"1"`})
	rev = f.store.Rev()
	res := f.do("POST", "/api/imports/"+a.ID+"/apply?skipErrors=true", "builder", "", nil)
	if code, _ := errorOf(t, res); res.StatusCode != 409 || code != "import_stale" || f.store.Rev() != rev {
		t.Fatalf("stale apply: %d %s, rev %d→%d", res.StatusCode, code, rev, f.store.Rev())
	}
	// The builder may import rows of its own department only.
	csv2 := "项目名称,责任单位,形象进度\n长春影视产业园,文化和旅游局,30\n"
	b := dryRun(t, f, "builder", "b.csv", []byte(csv2))
	if b.Counts.Error != 1 {
		t.Fatalf("another department's row: %+v", b.Rows)
	}
	// A row the dry run refused (not the file) is in the errors file too, with its reason.
	checkErrorsFile(t, f, b.ID, "无权修改")
	// Whole files refused.
	for _, tc := range []struct {
		name string
		data []byte
		code int
	}{
		{"notes.txt", []byte("\x00\x01\x02 not a sheet"), 422},
		{"broken.xlsx", []byte("PK\x03\x04broken zip"), 422},
		{"old.xls", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest"), 422},
	} {
		res := f.upload("/api/imports?dryRun=true", "editor", tc.name, tc.data)
		if res.StatusCode != tc.code {
			b, _ := io.ReadAll(res.Body)
			t.Errorf("%s: got %d %s, want %d", tc.name, res.StatusCode, b, tc.code)
		}
	}
	if res := f.upload("/api/imports?dryRun=true", "viewer", "a.csv", []byte(csv2)); res.StatusCode != 403 {
		t.Errorf("viewer: %d", res.StatusCode)
	}
	if res := f.upload("/api/imports", "editor", "a.csv", []byte(csv2)); res.StatusCode != 400 {
		t.Errorf("without dryRun: %d", res.StatusCode)
	}
}

// checkErrorsFile fetches a dry run's errors file as the builder and looks for a reason in it.
func checkErrorsFile(t *testing.T, f *fixture, id, reason string) {
	t.Helper()
	res := f.do("GET", "/api/imports/"+id+"/errors", "builder", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("errors file: %d", res.StatusCode)
	}
	data, _ := io.ReadAll(res.Body)
	x, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.GetRows(x.GetSheetName(0))
	if !strings.Contains(fmt.Sprint(rows), reason) {
		t.Errorf("the errors file lacks %q: %v", reason, rows)
	}
}

// Only an import upload that presents a login may send more than 1 MiB; over 20 MB is 413.
func TestImportBodyLimits(t *testing.T) {
	l := startLive(t)
	for _, tc := range []struct {
		name, extra string
		length      int
		want        int
	}{
		{"anonymous, 2 MiB announced", "", 2 << 20, 413},
		{"logged in, 21 MiB announced", "Cookie: pb_session=" + l.f.cookies["editor"] + "\r\n", 21 << 20, 413},
		{"logged in to another route, 2 MiB", "Cookie: pb_session=" + l.f.cookies["editor"] + "\r\n", 2 << 20, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/imports?dryRun=true"
			if strings.Contains(tc.name, "another route") {
				path = "/api/projects"
			}
			status, _, body := rawHTTP(t, l.addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\n%sContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n",
				path, tc.extra, tc.length))
			if status != tc.want {
				t.Fatalf("got %d %s, want %d", status, body, tc.want)
			}
		})
	}
	// A 2 MiB CSV from a logged-in editor is read (and refused for what it holds, not its size).
	big := "项目名称,备注\n" + strings.Repeat("某项目,"+strings.Repeat("备", 300)+"\n", 2200)
	req, _ := http.NewRequest("POST", "http://"+l.addr+"/api/imports?dryRun=true&filename=big.csv", strings.NewReader(big))
	req.Header.Set("Content-Type", "text/csv")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: l.f.cookies["editor"]})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == 413 {
		t.Fatalf("a 2 MiB import was refused for its size (%d bytes)", len(big))
	}
}

// CSV cells that a spreadsheet would run as a formula are neutralised.
func TestExportNeutralisesFormulas(t *testing.T) {
	f := newFixture(t)
	f.do("PATCH", "/api/projects/P1", "admin", `{"note":"=HYPERLINK(\"http://x\",\"点我\")"}`, map[string]string{"If-Match": `"1"`})
	res := f.do("GET", "/api/export/projects?format=csv", "viewer", "", nil)
	data, _ := io.ReadAll(res.Body)
	if strings.Contains(string(data), ",=HYPERLINK") || !strings.Contains(string(data), "'=HYPERLINK") {
		t.Fatalf("formula not neutralised: %s", data)
	}
	for _, target := range []string{"/api/export/template", "/api/export/changes?format=xlsx", "/api/export/changes?format=csv&project=P1"} {
		res := f.do("GET", target, "viewer", "", nil)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || len(b) < 20 {
			t.Errorf("%s: %d, %d bytes", target, res.StatusCode, len(b))
		}
	}
	// The register's filters, sector and a search over the leader included.
	res = f.do("GET", "/api/export/projects?format=csv&sector=基础设施", "viewer", "", nil)
	if b, _ := io.ReadAll(res.Body); strings.Count(string(b), "\n") != 2 || !strings.Contains(string(b), "P2,") {
		t.Errorf("sector filter: %s", b)
	}
	if res := f.do("GET", "/api/projects?format=csv", "viewer", "", nil); !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("/api/projects?format=csv: %s", res.Header.Get("Content-Type"))
	}
	if res := f.do("GET", "/api/export/projects?format=pdf", "viewer", "", nil); res.StatusCode != 400 {
		t.Errorf("format=pdf: %d", res.StatusCode)
	}
}

func TestZhMessageRanges(t *testing.T) {
	for _, c := range []struct{ en, zh string }{
		{"must be between 0 and 100", "必须在 0 到 100 之间"},
		{"must be between 0 and 1000000000000000", "必须在 0 到 1000000000000000 之间"},
		{"must be between yellowPoints and 100", "必须在 yellowPoints 到 100 之间"},
		{"is required", "必须填写"},
	} {
		if got := zhMessage(c.en); got != c.zh {
			t.Errorf("zhMessage(%q): got %q, want %q", c.en, got, c.zh)
		}
	}
}
