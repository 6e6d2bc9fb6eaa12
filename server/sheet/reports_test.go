package sheet

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

func sampleReportRows() []store.ReportRow {
	return []store.ReportRow{
		{Project: store.Project{ID: "P1", Name: "长春影视产业园", Category: store.CategoryPlanned, Year: 2022, Department: "文化和旅游局",
			AnnualPlanYuan: 900_000_000, InvestmentCompletedYuan: 120_000_000, Progress: 20}},
		{Project: store.Project{ID: "P2", Name: "新城大街快速路", Category: store.CategoryPlanned, Year: 2022, Department: "文化和旅游局",
			AnnualPlanYuan: 300_000_000, InvestmentCompletedYuan: 50_000_000, Progress: 40},
			Report: &store.Report{ProjectID: "P2", Month: "2022-10", MonthYuan: 12_345_678, OpeningYuan: 37_654_322,
				CumulativeYuan: 50_000_000, Progress: 40, ProgressText: "主体封顶", ProblemsText: "=用地手续未批", Status: store.ReportReturned,
				ReturnReason: "数字有误", Version: 3}},
		{Project: store.Project{ID: "P3", Name: "=SUM(1) 测试项目", Category: store.CategoryUnplanned, Year: 2022, Department: "文化和旅游局"}},
	}
}

func saveBook(t *testing.T, f *excelize.File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustReadReports(t *testing.T, name string, data []byte) []MonthSheet {
	t.Helper()
	sheets, err := ReadReports(name, data, Limits{})
	if err != nil {
		t.Fatalf("ReadReports(%s): %v", name, err)
	}
	return sheets
}

// TestReportTemplateRoundTrip: the template of a month, filled in as a unit does, reads back
// as that month's reports; the pre-filled report reads back exactly; the read-only columns
// and empty rows are not read.
func TestReportTemplateRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReportTemplate(&buf, "2022-10", sampleReportRows()); err != nil {
		t.Fatal(err)
	}
	f := openBook(t, buf.Bytes())
	if got := f.GetSheetList(); len(got) != 2 || got[0] != "2022年10月" || got[1] != GuideSheet {
		t.Fatalf("sheets %v", got)
	}
	sh := "2022年10月"
	if v, _ := f.GetCellValue(sh, "A1"); !strings.Contains(v, "2022年10月") || !strings.Contains(v, "文化和旅游局") {
		t.Errorf("title %q", v)
	}
	if v, _ := f.GetCellValue(sh, "G5"); v != "1234.57" && v != "1,234.57" {
		t.Errorf("pre-filled month figure %q", v)
	}
	// P1 filled in; P2 left as pre-filled; P3 left empty.
	for cell, v := range map[string]any{"G4": 1500.25, "H4": 35, "I4": "桩基完成\n主体施工", "J4": "无"} {
		if err := f.SetCellValue(sh, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	sheets := mustReadReports(t, "月报.xlsx", saveBook(t, f))
	if len(sheets) != 1 {
		t.Fatalf("%d sheets", len(sheets))
	}
	ms := sheets[0]
	if ms.Error != nil || ms.Month != "2022-10" || ms.HeaderRow != 3 {
		t.Fatalf("sheet %+v", ms)
	}
	if len(ms.Unmatched) != 0 {
		t.Errorf("unmatched %+v", ms.Unmatched)
	}
	if len(ms.Rows) != 2 {
		t.Fatalf("rows %+v", ms.Rows)
	}
	r := ms.Rows[0]
	if r.Line != 4 || r.ID != "P1" || r.MonthYuan == nil || *r.MonthYuan != 15_002_500 || r.Progress == nil || *r.Progress != 35 ||
		r.ProgressText == nil || *r.ProgressText != "桩基完成\n主体施工" || r.ProblemsText == nil || *r.ProblemsText != "无" || len(r.Errors) > 0 {
		t.Errorf("P1 %+v", r)
	}
	r = ms.Rows[1]
	if r.ID != "P2" || *r.MonthYuan != 12_345_678 || *r.Progress != 40 || *r.ProgressText != "主体封顶" || *r.ProblemsText != "=用地手续未批" {
		t.Errorf("P2 %+v", r)
	}
	if !hasNote(ms.Notes, "1 行只有项目") {
		t.Errorf("notes %+v", ms.Notes)
	}
}

func hasNote(notes []Note, s string) bool {
	for _, n := range notes {
		if strings.Contains(n.Message, s) {
			return true
		}
	}
	return false
}

// monthBook makes a workbook with one sheet per entry, in order: name → rows from A1.
func monthBook(t *testing.T, sheets []string, rows map[string][][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, s := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(s); err != nil {
			t.Fatal(err)
		}
		setRows(t, f, s, rows[s])
	}
	return saveBook(t, f)
}

// TestReadReportsMonths: months named by the sheet, a title row or (for the year) the file
// name; a sheet naming no month, or a month twice, is refused on its own.
func TestReadReportsMonths(t *testing.T) {
	head := []any{"项目编号", "本月完成投资（万元）", "形象进度"}
	body := [][]any{head, {"P1", 10, 20}}
	withTitle := func(title string) [][]any {
		return [][]any{{title}, {"单位：亿元"}, {"项目编号", "本月完成投资", "形象进度"}, {"P1", 10, 20}}
	}
	names := []string{"2022-10", "2022年9月", "十一月", "Sheet4", "8月份", "汇总", "2022.10", "说明"}
	data := monthBook(t, names, map[string][][]any{
		"2022-10": body, "2022年9月": body, "十一月": body, "Sheet4": withTitle("净月高新区重点项目月报（截至2022年7月）"),
		"8月份": body, "汇总": body, "2022.10": body, "说明": body,
	})
	sheets := mustReadReports(t, "2022年月报.xlsx", data)
	want := []struct {
		month store.Month
		code  string
	}{{"2022-10", ""}, {"2022-09", ""}, {"2022-11", ""}, {"2022-07", ""}, {"2022-08", ""}, {"", "unknown_month"}, {"2022-10", "duplicate_month"}}
	if len(sheets) != len(want) {
		t.Fatalf("%d sheets: %+v", len(sheets), sheets)
	}
	for i, w := range want {
		ms := sheets[i]
		code := ""
		if ms.Error != nil {
			code = ms.Error.Code
			if ms.Error.Message == "" || ms.Error.MessageEn == "" || len(ms.Rows) != 0 {
				t.Errorf("sheet %s: %+v", ms.Sheet, ms.Error)
			}
		}
		if (w.code == "" && ms.Month != w.month) || code != w.code {
			t.Errorf("sheet %s: month %q error %q, want %q %q", ms.Sheet, ms.Month, code, w.month, w.code)
		}
	}
	// The title's unit: 10 亿元.
	if r := sheets[3].Rows; len(r) != 1 || *r[0].MonthYuan != 1_000_000_000 {
		t.Errorf("titled sheet rows %+v", r)
	}
	// Without a year anywhere, "10月" is refused.
	sheets = mustReadReports(t, "reports.xlsx", monthBook(t, []string{"10月"}, map[string][][]any{"10月": body}))
	if sheets[0].Error == nil || sheets[0].Error.Code != "unknown_month" || !strings.Contains(sheets[0].Error.Message, "年份") {
		t.Errorf("10月 without a year: %+v", sheets[0])
	}
}

func TestMonthIn(t *testing.T) {
	for s, want := range map[string][2]int{
		"2022-10": {2022, 10}, "2022年10月": {2022, 10}, "２０２２年１０月": {2022, 10}, "2022.1": {2022, 1}, "202210": {2022, 10},
		"10月": {0, 10}, "十二月": {0, 12}, "2022年重点项目": {2022, 0}, "截至2022年10月底": {2022, 10}, "Sheet1": {0, 0},
		"2022-13": {2022, 0}, "2022年 十月": {2022, 10},
	} {
		if y, m := monthIn(s); y != want[0] || m != want[1] {
			t.Errorf("monthIn(%q) = %d, %d; want %v", s, y, m, want)
		}
	}
}

// TestReadReportsCellErrors: every cell is checked on its own and named by sheet row, header
// and letter; a row naming no project is an error; the other rows read.
func TestReadReportsCellErrors(t *testing.T) {
	rows := [][]any{
		{"2022年10月重点项目月报"},
		{"序号", "项目名称", "本月完成投资(元)", "形象进度(%)", "进展情况", "存在问题", "联系人"},
		{1, "甲", "一百万", "150", "正常", "无", "x"},
		{2, "乙", -5, "abc", strings.Repeat("长", 2001), "a\u202Eb", ""},
		{3, "", 100, 50, "", "", ""},
		{4, "丙", "1,000", "54%", "", "", ""},
		{nil, "合计", 1000, nil, nil, nil, nil},
	}
	data := monthBook(t, []string{"Sheet1"}, map[string][][]any{"Sheet1": rows})
	sheets := mustReadReports(t, "x.xlsx", data)
	ms := sheets[0]
	if ms.Error != nil || ms.Month != "2022-10" || ms.HeaderRow != 2 {
		t.Fatalf("%+v", ms)
	}
	if len(ms.Unmatched) != 1 || ms.Unmatched[0].Header != "联系人" {
		t.Errorf("unmatched %+v", ms.Unmatched)
	}
	if len(ms.Rows) != 4 {
		t.Fatalf("rows %+v", ms.Rows)
	}
	want := map[int][]string{3: {"C", "D"}, 4: {"C", "D", "E", "F"}, 5: {"B"}, 6: nil}
	for _, r := range ms.Rows {
		var letters []string
		for _, e := range r.Errors {
			letters = append(letters, e.Letter)
			if e.Column == "" || e.Message == "" || e.MessageEn == "" || e.Field == "" {
				t.Errorf("row %d: error without its names %+v", r.Line, e)
			}
		}
		if fmt.Sprint(letters) != fmt.Sprint(want[r.Line]) {
			t.Errorf("row %d: errors in %v, want %v: %+v", r.Line, letters, want[r.Line], r.Errors)
		}
	}
	if r := ms.Rows[3]; r.Name != "丙" || *r.MonthYuan != 1000 || *r.Progress != 54 {
		t.Errorf("row 6 %+v", r)
	}
	if e := ms.Rows[0].Errors[0]; !strings.HasPrefix(e.Message, "「本月完成投资(元)」：不是数字") {
		t.Errorf("message %q", e.Message)
	}
}

// TestReadReportsRefusals: whole-file refusals as for Read; the rows of all sheets together
// are bounded.
func TestReadReportsRefusals(t *testing.T) {
	head := []any{"项目编号", "本月完成投资"}
	rows := [][]any{head}
	for i := 0; i < 4; i++ {
		rows = append(rows, []any{fmt.Sprintf("P%d", i), i})
	}
	data := monthBook(t, []string{"2022-09", "2022-10"}, map[string][][]any{"2022-09": rows, "2022-10": rows})
	if _, err := ReadReports("a.xlsx", data, Limits{MaxRows: 8}); err != nil {
		t.Fatalf("8 rows: %v", err)
	}
	_, err := ReadReports("a.xlsx", data, Limits{MaxRows: 7})
	wantRefusal(t, err, ErrTooManyRows)
	_, err = ReadReports("a.xlsx", data, Limits{MaxBytes: 100})
	wantRefusal(t, err, ErrTooLarge)
	_, err = ReadReports("a.xls", []byte{0xD0, 0xCF, 0x11, 0xE0, 0, 0}, Limits{})
	wantRefusal(t, err, ErrNotSpreadsheet)
	_, err = ReadReports("a.xlsx", []byte("PK\x03\x04garbage"), Limits{})
	wantRefusal(t, err, ErrBrokenFile)
	_, err = ReadReports("a.pdf", []byte("%PDF-1.4\x00"), Limits{})
	wantRefusal(t, err, ErrNotSpreadsheet)
	many := make([]string, maxReportSheets+1)
	for i := range many {
		many[i] = fmt.Sprintf("S%d", i)
	}
	_, err = ReadReports("a.xlsx", monthBook(t, many, map[string][][]any{}), Limits{})
	wantRefusal(t, err, ErrInflatedTooLarge)
	// A hostile sheet is refused as Read refuses it.
	_, err = ReadReports("a.xlsx", withPart(t, data, "xl/worksheets/sheet2.xml", func(w io.Writer) {
		streamSheet(func(w io.Writer) {
			for i := 2; i < 200_000; i++ {
				fmt.Fprintf(w, `<row r="%d"><c r="A%d"/><c r="B%d"/></row>`, i, i, i)
			}
		})(w)
	}), Limits{MaxRows: 1000})
	wantRefusal(t, err, ErrInflatedTooLarge)
}

// TestReadReportsCSV: a CSV is one month, named by its title row or its file name.
func TestReadReportsCSV(t *testing.T) {
	csv := "\uFEFF项目编号,本月完成投资（万元）,形象进度,存在问题\r\nP1,12.5,30,'=拆迁\r\n"
	sheets := mustReadReports(t, "2022年10月月报.csv", []byte(csv))
	if len(sheets) != 1 || sheets[0].Month != "2022-10" || len(sheets[0].Rows) != 1 {
		t.Fatalf("%+v", sheets)
	}
	if r := sheets[0].Rows[0]; *r.MonthYuan != 125_000 || *r.Progress != 30 {
		t.Errorf("%+v", r)
	}
	sheets = mustReadReports(t, "upload.csv", []byte("项目编号,本月完成投资\nP1,1\n"))
	if sheets[0].Error == nil || sheets[0].Error.Code != "unknown_month" {
		t.Errorf("%+v", sheets[0])
	}
}

func bulletinView() (*store.MonthView, []store.ReportRow) {
	closed := time.Date(2022, 11, 6, 9, 0, 0, 0, store.ZoneTime)
	v := &store.MonthView{Month: "2022-10", Status: store.MonthClosed, Snapshot: 1, ClosedAt: &closed,
		Summary: &store.Summary{ElapsedShare: 10.0 / 12, ElapsedMonths: 10, CompletionRate: 0.5,
			Completion: store.Completion{Completed: 1, Due: 2}}}
	v.Summary.Planned.StartDue, v.Summary.Planned.Started, v.Summary.Planned.StartRate = 4, 3, 0.75
	v.Projects = []store.ProjectFigures{
		{ID: "P1", Name: "长春影视产业园", Department: "文化和旅游局", Leader: "张伟", Stage: store.StageUnderConstruction,
			InvestmentYuan: 3_500_000_000, AnnualPlanYuan: 900_000_000, InvestmentCompletedYuan: 123_456_789, MonthYuan: 12_345_678,
			Progress: 35, Report: store.ReportApproved,
			Warning: store.Warning{Level: store.LevelRed, Reasons: []store.WarningReason{{Rule: store.RuleInvestmentPace, Level: store.LevelRed, Value: 69.6, Threshold: 30, Unit: "points", Actual: 13.7}}}},
		{ID: "P2", Name: "新城大街快速路", Department: "城乡建设局", Stage: store.StagePreparing,
			InvestmentYuan: 2_000_000_000, AnnualPlanYuan: 0, Report: store.ReportMissing, OpenProblems: 2,
			Warning: store.Warning{Level: store.LevelYellow}},
		{ID: "P3", Name: "净月学校", Department: "城乡建设局", Stage: store.StageCompleted,
			InvestmentYuan: 100_000_000, AnnualPlanYuan: 100_000_000, InvestmentCompletedYuan: 100_000_000, Progress: 100,
			Report: store.ReportSubmitted},
	}
	v.Units = []store.UnitReport{
		{Department: "城乡建设局", Projects: 2, Submitted: 1, Missing: 1, Status: store.ReportMissing},
		{Department: "文化和旅游局", Projects: 1, Approved: 1, Status: store.ReportApproved},
	}
	reports := []store.ReportRow{{Project: store.Project{ID: "P1"}, Report: &store.Report{ProblemsText: "用地指标未落实"}}}
	return v, reports
}

// TestBulletinXLSX: the bulletin opens in excelize with its title merged, the totals, one row
// per project and a total, amounts and rates as numbers, frozen headers.
func TestBulletinXLSX(t *testing.T) {
	view, reports := bulletinView()
	var buf bytes.Buffer
	if err := WriteBulletinXLSX(&buf, view, reports, "zh"); err != nil {
		t.Fatal(err)
	}
	f := openBook(t, buf.Bytes())
	if got := f.GetSheetList(); fmt.Sprint(got) != fmt.Sprint([]string{BulletinSheet, BulletinProjectsSheet, BulletinUnitsSheet}) {
		t.Fatalf("sheets %v", got)
	}
	title := "长春净月高新区重点项目建设情况通报（截至2022年10月）"
	for _, sh := range f.GetSheetList() {
		if v, _ := f.GetCellValue(sh, "A1"); v != title {
			t.Errorf("%s: title %q", sh, v)
		}
		merged, _ := f.GetMergeCells(sh)
		if len(merged) == 0 || merged[0].GetStartAxis() != "A1" {
			t.Errorf("%s: title not merged: %v", sh, merged)
		}
		panes, _ := f.GetPanes(sh)
		if !panes.Freeze || panes.YSplit == 0 {
			t.Errorf("%s: header not frozen: %+v", sh, panes)
		}
	}
	// Totals: label → value.
	rows, _ := f.GetRows(BulletinSheet)
	totals := map[string]string{}
	for _, r := range rows {
		if len(r) >= 2 {
			totals[r[0]] = r[1]
		}
	}
	for k, want := range map[string]string{"项目数": "3", "红色预警": "1", "黄色预警": "1", "绿色": "1",
		"投资完成率": "22.3%", "序时进度": "83.3%", "开复工率": "75.0%", "竣工率": "50.0%", "城乡建设局": "2"} {
		if totals[k] != want {
			t.Errorf("totals %s = %q, want %q", k, totals[k], want)
		}
	}
	// Projects: title, subtitle, header, 3 projects, a total.
	rows, _ = f.GetRows(BulletinProjectsSheet)
	if len(rows) != 3+3+1 {
		t.Fatalf("%d rows: %q", len(rows), rows)
	}
	if fmt.Sprint(rows[2]) != fmt.Sprint(bulletinProjectHeads("zh")) {
		t.Errorf("header %q", rows[2])
	}
	p1 := rows[3]
	if p1[1] != "长春影视产业园" || p1[7] != "1,234.57" || p1[9] != "13.7%" || p1[10] != "35%" || p1[11] != "红" ||
		!strings.Contains(p1[12], "69.6") || p1[13] != "已审核" || p1[14] != "用地指标未落实" {
		t.Errorf("P1 %q", p1)
	}
	if p2 := rows[4]; p2[9] != "" || !strings.Contains(p2[14], "2 个未解决问题") || p2[13] != "未报" {
		t.Errorf("P2 %q", p2)
	}
	for _, cell := range []string{"F4", "G4", "H4", "I4", "J4", "K4", "I7"} {
		typ, _ := f.GetCellType(BulletinProjectsSheet, cell)
		raw, _ := f.GetCellValue(BulletinProjectsSheet, cell, excelize.Options{RawCellValue: true})
		if typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
			t.Errorf("%s is %v, want a number", cell, typ)
		}
		if _, err := fmt.Sscan(raw, new(float64)); err != nil {
			t.Errorf("%s = %q, want a number", cell, raw)
		}
	}
	if raw, _ := f.GetCellValue(BulletinProjectsSheet, "H4", excelize.Options{RawCellValue: true}); raw != "1234.5678" {
		t.Errorf("H4 raw %q: the amount must be exact", raw)
	}
	rows, _ = f.GetRows(BulletinUnitsSheet)
	if len(rows) != 3+2+1 || rows[3][1] != "城乡建设局" || rows[3][4] != "1" || rows[3][7] != "未报" || rows[5][2] != "3" {
		t.Errorf("units %q", rows)
	}
	// English labels.
	buf.Reset()
	if err := WriteBulletinXLSX(&buf, view, reports, "en"); err != nil {
		t.Fatal(err)
	}
	if f := openBook(t, buf.Bytes()); f.GetSheetList()[1] != "Projects" {
		t.Errorf("en sheets %v", f.GetSheetList())
	}
}

// TestProblemsExport: the register as XLSX and CSV, overdue judged on the day given,
// formulas neutralised in CSV.
func TestProblemsExport(t *testing.T) {
	raised := time.Date(2022, 10, 1, 2, 0, 0, 0, time.UTC)
	problems := []store.Problem{
		{ID: "PR1", ProjectID: "P1", ProjectName: "长春影视产业园", Department: "文化和旅游局", Description: "=用地指标",
			RaisedBy: "editor", RaisedAt: raised, Unit: "自然资源局", Leader: "王芳", Status: store.ProblemPending, Due: "2022-10-20",
			UpdatedAt: raised},
		{ID: "PR2", ProjectID: "P2", ProjectName: "新城大街快速路", Department: "城乡建设局", Description: "电力迁改",
			RaisedBy: "token:importer", RaisedAt: raised, Unit: "供电公司", Status: store.ProblemResolved, Due: "2022-10-01",
			Resolution: "已迁改", ResolvedAt: &raised, ResolvedBy: "admin", UpdatedAt: raised},
	}
	var buf bytes.Buffer
	if err := WriteProblemsXLSX(&buf, problems, "2022-11-01"); err != nil {
		t.Fatal(err)
	}
	f := openBook(t, buf.Bytes())
	rows, _ := f.GetRows(ProblemsSheet)
	if len(rows) != 3 || rows[0][0] != "问题编号" || rows[1][4] != "=用地指标" || rows[1][7] != "待协调" || rows[1][9] != "是" ||
		rows[2][9] != "否" || rows[1][8] != "2022-10-20" || rows[1][11] != "2022-10-01 10:00:00" {
		t.Errorf("rows %q", rows)
	}
	buf.Reset()
	if err := WriteProblemsCSV(&buf, problems, "2022-11-01"); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.HasPrefix(s, "\uFEFF问题编号,") || !strings.Contains(s, ",'=用地指标,") || !strings.Contains(s, "2022-10-01 10:00") ||
		!strings.Contains(s, "\r\n") {
		t.Errorf("csv %q", s)
	}
}
