package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

func openBook(t *testing.T, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sheetXML is a part of an XLSX as text.
func sheetXML(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			return string(b)
		}
	}
	t.Fatalf("no part %s", name)
	return ""
}

func TestWriteProjectsXLSX(t *testing.T) {
	ps := sampleProjects(3)
	data := exportXLSX(t, ps)
	f := openBook(t, data)
	if got := f.GetSheetList(); len(got) != 2 || got[0] != ProjectsSheet || got[1] != listsSheet {
		t.Fatalf("sheets %v", got)
	}
	if v, _ := f.GetSheetVisible(listsSheet); v {
		t.Error("the lists sheet is visible")
	}
	head, _ := f.GetRows(ProjectsSheet)
	if strings.Join(head[0], ",") != strings.Join(ProjectHeaders(), ",") {
		t.Fatalf("header %v", head[0])
	}
	styleID, _ := f.GetCellStyle(ProjectsSheet, "A1")
	style, _ := f.GetStyle(styleID)
	if style == nil || style.Font == nil || !style.Font.Bold || len(style.Fill.Color) == 0 || len(style.Border) != 4 {
		t.Errorf("header style %+v", style)
	}
	panes, _ := f.GetPanes(ProjectsSheet)
	if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
		t.Errorf("panes %+v", panes)
	}
	xml := sheetXML(t, data, "xl/worksheets/sheet1.xml")
	if !strings.Contains(xml, `<autoFilter ref="$A$1:$S$4">`) && !strings.Contains(xml, `<autoFilter ref="A1:S4"`) {
		t.Errorf("no autofilter over A1:S4 in %s", xml[len(xml)-2000:])
	}
	// Excel wants <col> elements in ascending order.
	var mins []int
	for _, m := range regexp.MustCompile(`<col min="(\d+)"`).FindAllStringSubmatch(xml, -1) {
		n, _ := strconv.Atoi(m[1])
		mins = append(mins, n)
	}
	for i := range mins {
		if mins[i] != i+1 {
			t.Fatalf("cols out of order: %v", mins)
		}
	}
	dvs, _ := f.GetDataValidations(ProjectsSheet)
	want := map[string]string{"C2:C1048576": "'选项'!$A$1:$A$3", "H2:H1048576": "'选项'!$B$1:$B$7",
		"F2:F1048576": "'选项'!$C$1:$C$5", "R2:R1048576": "'选项'!$D$1:$D$2"}
	if len(dvs) != len(want) {
		t.Fatalf("got %d validations", len(dvs))
	}
	for _, dv := range dvs {
		if want[dv.Sqref] != dv.Formula1 || dv.Type != "list" {
			t.Errorf("validation %s: %q", dv.Sqref, dv.Formula1)
		}
	}
	lists, _ := f.GetRows(listsSheet)
	if lists[0][0] != "计划内重点项目" || lists[3][1] != "前期" || lists[4][2] != "教育局" || lists[1][3] != "否" {
		t.Errorf("lists %v", lists)
	}
	// Numbers are numbers with a format, dates are dates.
	money, _ := f.GetCellValue(ProjectsSheet, "I2", excelize.Options{RawCellValue: true})
	shown, _ := f.GetCellValue(ProjectsSheet, "I2")
	if money != "98765.4321" || shown != "98,765.43" {
		t.Errorf("money raw %q shown %q", money, shown)
	}
	if typ, _ := f.GetCellType(ProjectsSheet, "I2"); typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
		t.Errorf("money cell type %v", typ)
	}
	date, _ := f.GetCellValue(ProjectsSheet, "M2", excelize.Options{RawCellValue: true})
	shownDate, _ := f.GetCellValue(ProjectsSheet, "M2")
	if date != "44562" || shownDate != "2022-01-01" {
		t.Errorf("date raw %q shown %q", date, shownDate)
	}
	if v, _ := f.GetCellValue(ProjectsSheet, "L3", excelize.Options{RawCellValue: true}); v != "7" {
		t.Errorf("progress %q", v)
	}
	if v, _ := f.GetCellValue(ProjectsSheet, "C2"); v != "计划内重点项目" {
		t.Errorf("category %q", v)
	}
	if v, _ := f.GetCellValue(ProjectsSheet, "S2"); v != "" {
		t.Errorf("empty note written as %q", v)
	}
}

// TestWriteProjectsNoDepartments: without departments there is no department drop-down.
func TestWriteProjectsNoDepartments(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteProjectsXLSX(&buf, nil, []string{" ", ""}); err != nil {
		t.Fatal(err)
	}
	dvs, _ := openBook(t, buf.Bytes()).GetDataValidations(ProjectsSheet)
	if len(dvs) != 3 {
		t.Fatalf("got %d validations, want 3", len(dvs))
	}
	tab := mustRead(t, "a.xlsx", buf.Bytes())
	if len(tab.Rows) != 0 || len(tab.Columns) != len(fields) {
		t.Fatalf("empty export reads as %+v", tab)
	}
}

func TestWriteProjectsCSV(t *testing.T) {
	ps := sampleProjects(6)
	ps[0].Name = "-5"
	ps[1].Name = "+86 项目"
	ps[2].Leader = "\t张三"
	var buf bytes.Buffer
	if err := WriteProjectsCSV(&buf, ps); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatal("no BOM")
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(ProjectHeaders(), ",") {
		t.Fatalf("header %v", recs[0])
	}
	for _, tc := range []struct {
		row   int
		field string
		want  string
	}{
		{1, FieldName, "-5"}, {2, FieldName, "'+86 项目"}, {3, FieldLeader, "'\t张三"}, {3, FieldNote, "'=1+1 不是公式"},
		{5, FieldNote, "'-待定"}, {6, FieldNote, "'@负责人"}, {1, FieldInvestmentYuan, "98765.4321"},
		{2, FieldAnnualPlanYuan, "100.0001"}, {1, FieldAnnualPlanYuan, "0"}, {1, FieldPlannedStart, "2022-01-01"},
		{1, FieldCategory, "计划内重点项目"}, {1, FieldStage, "前期"}, {1, FieldOnHold, "是"}, {4, FieldNote, "已完成桩基\n正在浇筑"},
	} {
		if got := recs[tc.row][fieldIndex(tc.field)]; got != tc.want {
			t.Errorf("row %d %s: got %q, want %q", tc.row, tc.field, got, tc.want)
		}
	}
	// Read takes the neutralising ' off again.
	tab := mustRead(t, "a.csv", buf.Bytes())
	if *tab.Rows[2].Patch.Note != "=1+1 不是公式" || *tab.Rows[1].Patch.Name != "+86 项目" {
		t.Errorf("read back %q %q", *tab.Rows[2].Patch.Note, *tab.Rows[1].Patch.Name)
	}
}

func testChanges() []store.Change {
	at := time.Date(2023, 5, 6, 14, 30, 0, 0, time.FixedZone("CST", 8*3600))
	typed := store.Change{Rev: 7, ProjectID: "P1", ProjectName: "慧泽学校", At: at, By: "token:导入脚本", Kind: store.ChangeUpdate,
		Comment: "=HYPERLINK(\"x\")", Fields: map[string]store.FieldChange{
			"stage":          {From: store.StagePreparing, To: store.StageUnderConstruction},
			"investmentYuan": {From: int64(10_000_000), To: int64(12_345_678)},
			"progress":       {From: 5, To: 40},
			"startedAt":      {From: store.Date(""), To: store.Date("2023-05-06")},
			"onHold":         {From: true, To: false},
		}}
	// The same as it comes back from the database: JSON numbers are float64.
	var decoded store.Change
	b, _ := json.Marshal(typed)
	_ = json.Unmarshal(b, &decoded)
	deleted := store.Change{Rev: 8, ProjectID: "P2", ProjectName: "旧项目", At: at.Add(time.Hour), By: "admin", Kind: store.ChangeDelete}
	return []store.Change{typed, decoded, deleted}
}

func TestWriteChanges(t *testing.T) {
	want := [][]string{
		{"推进阶段", "前期", "在建"},
		{"总投资", "1000万元", "1234.5678万元"},
		{"形象进度", "5%", "40%"},
		{"实际开工时间", "", "2023-05-06"},
		{"是否停缓建", "是", "否"},
	}
	var buf bytes.Buffer
	if err := WriteChangesCSV(&buf, testChanges()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "时间,操作人,项目编号,项目名称,字段,原值,新值,备注" || len(recs) != 1+5+5+1 {
		t.Fatalf("got %d records: %v", len(recs), recs)
	}
	for block := 0; block < 2; block++ {
		for i, w := range want {
			r := recs[1+block*5+i]
			if r[0] != "2023-05-06 14:30:00" || r[1] != "令牌 导入脚本" || r[2] != "P1" || r[4] != w[0] || r[5] != w[1] ||
				r[6] != w[2] || r[7] != "'=HYPERLINK(\"x\")" {
				t.Errorf("record %v, want %v", r, w)
			}
		}
	}
	if last := recs[11]; last[4] != "（删除）" || last[1] != "admin" {
		t.Errorf("delete %v", last)
	}

	buf.Reset()
	if err := WriteChangesXLSX(&buf, testChanges()); err != nil {
		t.Fatal(err)
	}
	f := openBook(t, buf.Bytes())
	rows, _ := f.GetRows(ChangesSheet)
	if len(rows) != 12 || rows[1][4] != "推进阶段" || rows[2][6] != "1234.5678万元" || rows[1][7] != "=HYPERLINK(\"x\")" {
		t.Fatalf("rows %v", rows)
	}
	if v, _ := f.GetCellValue(ChangesSheet, "A2"); v != "2023-05-06 14:30:00" {
		t.Errorf("time shown %q", v)
	}
	if f, _ := f.GetCellFormula(ChangesSheet, "H2"); f != "" {
		t.Errorf("a comment became a formula: %q", f)
	}
}

func TestWriteTemplate(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTemplate(&buf, testDepartments, 2024); err != nil {
		t.Fatal(err)
	}
	f := openBook(t, buf.Bytes())
	if got := f.GetSheetList(); strings.Join(got, ",") != ProjectsSheet+","+listsSheet+","+GuideSheet {
		t.Fatalf("sheets %v", got)
	}
	dvs, _ := f.GetDataValidations(ProjectsSheet)
	if len(dvs) != 4 {
		t.Errorf("got %d drop-downs", len(dvs))
	}
	guide, _ := f.GetRows(GuideSheet)
	text := ""
	for _, r := range guide {
		text += strings.Join(r, "|") + "\n"
	}
	for _, h := range ProjectHeaders() {
		if !strings.Contains(text, h) {
			t.Errorf("guide lacks %s", h)
		}
	}
	for _, s := range []string{"计划内重点项目", "2023年3月1日", "亿元", "包保责任人"} {
		if !strings.Contains(text, s) {
			t.Errorf("guide lacks %s", s)
		}
	}
	// The template reads back: its header, and the example row.
	tab := mustRead(t, "模板.xlsx", buf.Bytes())
	if len(tab.Columns) != len(fields) || len(tab.Rows) != 1 || len(tab.Rows[0].Errors) != 0 {
		t.Fatalf("template reads as %+v", tab)
	}
	p := applyRow(store.Project{}, tab.Rows[0])
	if !strings.HasPrefix(p.Name, "（示例") || p.Year != 2024 || p.InvestmentYuan != 1_200_000_000 || p.Department != "经济发展局" ||
		p.StartedAt != "2024-03-15" {
		t.Errorf("example reads as %+v", p)
	}
}

// TestWriteErrorsXLSX: the errors file holds the rows with errors, values as the office
// wrote them, the row's number and its messages, and imports again.
func TestWriteErrorsXLSX(t *testing.T) {
	tab := mustRead(t, "台账.xlsx", officeRegister(t))
	// A rule of the store on a row that parsed: the caller adds the error.
	tab.Rows[2].Errors = append(tab.Rows[2].Errors, CellError{Column: "总投资", Letter: "D", Field: FieldInvestmentYuan,
		Message: "「总投资」：年度完成投资不能超过总投资", MessageEn: "总投资: exceeds"})
	var buf bytes.Buffer
	if err := WriteErrorsXLSX(&buf, tab); err != nil {
		t.Fatal(err)
	}
	f := openBook(t, buf.Bytes())
	rows, _ := f.GetRows(ErrorsSheet)
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	head := strings.Join(rows[0], ",")
	if head != "项目名称,项目类别,总投资（万元）,年度计划投资（万元）,年度完成投资（万元）,形象进度（%）,计划开工时间,实际开工时间,推进阶段,责任单位,包保领导,备注,原行号,错误" {
		t.Fatalf("header %s", head)
	}
	if r := rows[1]; r[0] != "XX 学校" || r[3] != "-5" || r[6] != "2023-03-01" || r[12] != "7" || r[13] != "「年度计划」：不能为负数" {
		t.Errorf("row 7: %q", r)
	}
	if r := rows[2]; r[0] != "招商项目 A" || r[2] != "35000" || r[6] != "2023-06-01" || r[12] != "10" || !strings.Contains(r[13], "不能超过") {
		t.Errorf("row 10: %q", r)
	}
	again := mustRead(t, "导入错误.xlsx", buf.Bytes())
	if len(again.Unmatched) != 0 || len(again.Columns) != 12 || len(again.Rows) != 2 || *again.Rows[1].Patch.InvestmentYuan != 350_000_000 {
		t.Fatalf("errors file reads as %+v", again)
	}
}
