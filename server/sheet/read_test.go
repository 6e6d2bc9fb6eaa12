package sheet

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"projectboard/store"
)

// officeRegister is a register as a zone office keeps it: a hidden cover sheet, a title row
// merged across, a unit line, a two-row header with merged parents (投资情况（万元） over
// 总投资 / 年度计划 / 年度完成, 开工时间 over 计划 / 实际), group headings, a total row, numbers
// typed as text, a percent cell, a date cell, Chinese dates, a 责任单位 merged over two
// projects and a column we do not know.
func officeRegister(tb testing.TB) []byte {
	return book(tb, func(f *excelize.File, _ string) {
		must := func(err error) {
			tb.Helper()
			if err != nil {
				tb.Fatal(err)
			}
		}
		must(f.SetSheetName("Sheet1", "封面"))
		idx, err := f.NewSheet("2023台账")
		must(err)
		f.SetActiveSheet(idx) // Excel hides no active sheet
		must(f.SetSheetVisible("封面", false))
		s := "2023台账"
		setRows(tb, f, s, [][]any{
			{"2023年净月高新区重点项目台账"},
			{"填报单位：经济发展局", nil, nil, nil, nil, nil, nil, nil, nil, nil, "单位：万元"},
			{"序号", "项目名称", "类别", "投资情况（万元）", nil, nil, "形象进度", "开工时间", nil, "推进阶段", "责任单位", "包保领导", "备注", "联系人"},
			{nil, nil, nil, "总投资", "年度计划", "年度完成", nil, "计划", "实际"},
			{"一、计划内重点项目"},
			{1, "长春新区 XX 产业园", "计划内", "12,000.5", 3500, "１２３", 0.54, time.Date(2023, 4, 1, 0, 0, 0, 0, time.UTC),
				"2023年3月1日", "在建", "经济发展局", "张伟", "主体施工", "13800000000"},
			{2, "XX 学校", "计划外新开工", 800, "-5", nil, "100%", "2023.3", "2023/3/15", "竣工", nil, "王芳"},
			{"合计", nil, nil, 12800.5, 3495, 123},
			{nil, "二、招商项目"},
			{3, "招商项目 A", "招商引资", "3.5亿", nil, nil, nil, 20230601, nil, "签约", "招商局"},
		})
		for _, m := range [][2]string{{"A1", "N1"}, {"A3", "A4"}, {"B3", "B4"}, {"C3", "C4"}, {"D3", "F3"}, {"G3", "G4"},
			{"H3", "I3"}, {"J3", "J4"}, {"K3", "K4"}, {"L3", "L4"}, {"M3", "M4"}, {"N3", "N4"}, {"A5", "M5"}, {"K6", "K7"}} {
			must(f.MergeCell(s, m[0], m[1]))
		}
		pct, err := f.NewStyle(&excelize.Style{NumFmt: 9})
		must(err)
		must(f.SetCellStyle(s, "G6", "G6", pct))
	})
}

func TestReadOfficeRegister(t *testing.T) {
	tab := mustRead(t, "台账.xlsx", officeRegister(t))
	if tab.Sheet != "2023台账" || tab.HeaderRow != 4 {
		t.Fatalf("got sheet %q header row %d, want 2023台账 and 4", tab.Sheet, tab.HeaderRow)
	}
	var cols []string
	for _, c := range tab.Columns {
		cols = append(cols, c.Letter+":"+c.Header+":"+c.Field+":"+c.Unit)
	}
	want := []string{"B:项目名称:name:", "C:类别:category:", "D:总投资:investmentYuan:万元", "E:年度计划:annualPlanYuan:万元",
		"F:年度完成:investmentCompletedYuan:万元", "G:形象进度:progress:", "H:开工时间/计划:plannedStart:",
		"I:开工时间/实际:startedAt:", "J:推进阶段:stage:", "K:责任单位:department:", "L:包保领导:leader:", "M:备注:note:"}
	if strings.Join(cols, " ") != strings.Join(want, " ") {
		t.Fatalf("got columns\n%v\nwant\n%v", cols, want)
	}
	if len(tab.Unmatched) != 1 || tab.Unmatched[0].Header != "联系人" || tab.Unmatched[0].Letter != "N" {
		t.Fatalf("got unmatched %+v, want 联系人 in N", tab.Unmatched)
	}
	if len(tab.Rows) != 3 {
		t.Fatalf("got %d rows, want 3: %+v", len(tab.Rows), tab.Rows)
	}
	r := tab.Rows[0]
	if r.Line != 6 || len(r.Errors) != 0 {
		t.Fatalf("row 6: %+v", r)
	}
	p := applyRow(store.Project{}, r)
	if p.Name != "长春新区 XX 产业园" || p.Category != store.CategoryPlanned || p.InvestmentYuan != 120_005_000 ||
		p.AnnualPlanYuan != 35_000_000 || p.InvestmentCompletedYuan != 1_230_000 || p.Progress != 54 ||
		p.PlannedStart != "2023-04-01" || p.StartedAt != "2023-03-01" || p.Stage != store.StageUnderConstruction ||
		p.Department != "经济发展局" || p.Leader != "张伟" || p.Note != "主体施工" {
		t.Fatalf("row 6 reads as %+v", p)
	}
	r = tab.Rows[1]
	p = applyRow(store.Project{}, r)
	if r.Line != 7 || p.Department != "经济发展局" || p.Progress != 100 || p.PlannedStart != "2023-03-01" ||
		p.StartedAt != "2023-03-15" || p.Stage != store.StageCompleted || p.InvestmentYuan != 8_000_000 {
		t.Fatalf("row 7 reads as %+v (line %d)", p, r.Line)
	}
	if len(r.Errors) != 1 || r.Errors[0].Message != "「年度计划」：不能为负数" || r.Errors[0].MessageEn != "年度计划: must not be negative" ||
		r.Errors[0].Letter != "E" || r.Errors[0].Field != FieldAnnualPlanYuan || r.Patch.AnnualPlanYuan != nil {
		t.Fatalf("row 7 errors %+v", r.Errors)
	}
	if r.Values == nil || r.Values[2] != "800" || r.Values[3] != "-5" || r.Values[6] != "2023-03-01" {
		t.Fatalf("row 7 values %q", r.Values)
	}
	r = tab.Rows[2]
	p = applyRow(store.Project{}, r)
	if r.Line != 10 || p.InvestmentYuan != 350_000_000 || p.PlannedStart != "2023-06-01" || p.Stage != store.StageSigned ||
		p.Category != store.CategoryAttraction || p.Department != "招商局" {
		t.Fatalf("row 10 reads as %+v", p)
	}
	var notes []string
	for _, n := range tab.Notes {
		notes = append(notes, n.Message)
	}
	joined := strings.Join(notes, "|")
	for _, want := range []string{"联系人", "第 8 行是合计行", "第 9 行是分组标题行"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes %q lack %q", joined, want)
		}
	}
}

// TestReadUnits: the unit comes from the column's own header, else its parent, else a
// 单位 line above the header, else 万元.
func TestReadUnits(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		want      int64
	}{
		{"default 万元", "项目名称,总投资\n甲,1.5\n", 15_000},
		{"亿元 in brackets", "项目名称,总投资（亿元）\n甲,1.5\n", 150_000_000},
		{"元 half-width", "项目名称,总投资(元)\n甲,1.5\n", 2},
		{"unit after the name", "项目名称,总投资万元\n甲,1.5\n", 15_000},
		{"unit line", "某区项目表\n金额单位：亿元\n项目名称,总投资\n甲,2\n", 200_000_000},
		{"cell unit wins", "项目名称,总投资（万元）\n甲,3亿\n", 300_000_000},
		{"store field name is yuan", "name,investmentYuan\n甲,123\n", 123},
		{"rounded to the yuan", "项目名称,总投资\n甲,0.00005\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := mustRead(t, "a.csv", []byte(tc.csv))
			if len(tab.Rows) != 1 || tab.Rows[0].Patch.InvestmentYuan == nil || *tab.Rows[0].Patch.InvestmentYuan != tc.want {
				t.Fatalf("got %+v, want %d yuan", tab.Rows, tc.want)
			}
		})
	}
}

func TestReadCSVEncodings(t *testing.T) {
	text := "2023年重点项目\n项目编号,项目名称,推进阶段,形象进度,计划开工时间,备注\nA1,慧泽学校,在建,54%,2023-03-01,\"两行\n备注\"\n\nA2,\"名称, 带逗号\",投产,0.5,2023年3月,\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{
		{"utf8", "csv-utf8", []byte(text)},
		{"utf8 bom", "csv-utf8", append([]byte{0xEF, 0xBB, 0xBF}, text...)},
		{"gb18030", "csv-gb18030", []byte(gb)},
		{"semicolons", "csv-utf8", []byte(strings.NewReplacer(",", ";").Replace(strings.ReplaceAll(text, "名称, 带逗号", "名称 带分号")))},
		{"tabs", "csv-utf8", []byte(strings.NewReplacer(",", "\t").Replace(strings.ReplaceAll(text, "名称, 带逗号", "名称 带制表")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := mustRead(t, "台账.csv", tc.data)
			if tab.Format != tc.format || tab.HeaderRow != 2 || len(tab.Rows) != 2 {
				t.Fatalf("got format %q header %d rows %d", tab.Format, tab.HeaderRow, len(tab.Rows))
			}
			a, b := tab.Rows[0], tab.Rows[1]
			if a.ID != "A1" || *a.Patch.Name != "慧泽学校" || *a.Patch.Progress != 54 || *a.Patch.Note != "两行\n备注" || a.Line != 3 {
				t.Fatalf("row a: %+v", a)
			}
			// A quoted line break makes one row; the blank line is a row of its own.
			if b.ID != "A2" || b.Line != 5 || *b.Patch.Stage != store.StageOperating || *b.Patch.Progress != 50 ||
				*b.Patch.PlannedStart != "2023-03-01" {
				t.Fatalf("row b: line %d %+v", b.Line, b)
			}
		})
	}
}

func TestReadHeaderVariants(t *testing.T) {
	for _, f := range fields {
		for _, n := range f.names {
			for _, variant := range []string{n, " " + n + " ", n + "（万元）", strings.ToUpper(n), "*" + n} {
				got, _, _ := lookupHeader(variant)
				if got == nil || got.field != f.field {
					t.Errorf("header %q: got %v, want %s", variant, got, f.field)
				}
			}
		}
	}
	for _, tc := range []struct{ header, field, unit string }{
		{"总投资（亿元）", FieldInvestmentYuan, UnitYiYuan},
		{"总 投 资\n(万元)", FieldInvestmentYuan, UnitWanYuan},
		{"年度计划投资【万元】", FieldAnnualPlanYuan, UnitWanYuan},
		{"形象进度(%)", FieldProgress, UnitPercent},
		{"形象进度（％）", FieldProgress, UnitPercent},
		{"计划开工时间（年月）", FieldPlannedStart, ""},
		{"Planned Start", FieldPlannedStart, ""},
		{"总投资/亿元", FieldInvestmentYuan, UnitYiYuan},
		{"ＩＤ", FieldID, ""},
	} {
		f, unit, _ := lookupHeader(tc.header)
		if f == nil || f.field != tc.field || unit != tc.unit {
			t.Errorf("header %q: got %v %q, want %s %q", tc.header, f, unit, tc.field, tc.unit)
		}
	}
	for _, h := range []string{"序号", "序 号", "No."} {
		if _, _, ignored := lookupHeader(h); !ignored {
			t.Errorf("header %q is not ignored", h)
		}
	}
}

func TestReadValues(t *testing.T) {
	money := []struct {
		in, unit string
		want     int64
		ok       bool
		err      string
	}{
		{"12,000.5", UnitWanYuan, 120_005_000, true, ""},
		{" 3500 ", UnitWanYuan, 35_000_000, true, ""},
		{"１２３", UnitWanYuan, 1_230_000, true, ""},
		{"１２，３４５．６", UnitYuan, 12_346, true, ""},
		{"1.2345678E+3", UnitWanYuan, 12_345_678, true, ""},
		{"1234.5677999999999", UnitWanYuan, 12_345_678, true, ""},
		{"¥1,000", UnitYuan, 1000, true, ""},
		{"0.000049", UnitWanYuan, 0, true, ""},
		{"-", UnitWanYuan, 0, false, ""},
		{"-3", UnitWanYuan, 0, false, "不能为负数"},
		{"-0", UnitWanYuan, 0, true, ""},
		{"abc", UnitWanYuan, 0, false, "不是数字"},
		{"#DIV/0!", UnitWanYuan, 0, false, "不是数字"},
		{"1e30", UnitYuan, 0, false, "数额过大"},
		{"100000000001", UnitWanYuan, 0, false, "数额过大"},
	}
	for _, tc := range money {
		v, ok, verr := parseMoney(tc.in, tc.unit)
		if v != tc.want || ok != tc.ok || (verr == nil) != (tc.err == "") || verr != nil && !strings.Contains(verr.zh, tc.err) {
			t.Errorf("money %q %s: got %d %v %v, want %d %v %q", tc.in, tc.unit, v, ok, verr, tc.want, tc.ok, tc.err)
		}
	}
	progress := []struct {
		in        string
		pct       bool
		want      int
		ok, ambig bool
	}{
		{"54", false, 54, true, false}, {"54%", false, 54, true, false}, {"0.54", false, 54, true, false},
		{"54.5", false, 55, true, false}, {"1", false, 1, true, true}, {"1", true, 1, true, false},
		{"0", false, 0, true, false}, {"100", false, 100, true, false}, {"101", false, 0, false, false},
		{"0.54", true, 54, true, false}, {"１００％", false, 100, true, false}, {"-5", false, 0, false, false},
	}
	for _, tc := range progress {
		v, ok, ambig, _ := parseProgressValue(tc.in, tc.pct)
		if v != tc.want || ok != tc.ok || ambig != tc.ambig {
			t.Errorf("progress %q: got %d %v %v, want %d %v %v", tc.in, v, ok, ambig, tc.want, tc.ok, tc.ambig)
		}
	}
	dates := []struct {
		in   string
		want store.Date
		ok   bool
	}{
		{"45017", "2023-04-01", true}, {"45017.75", "2023-04-01", true}, {"2023-03-01", "2023-03-01", true},
		{"2023/3/1", "2023-03-01", true}, {"2023年3月1日", "2023-03-01", true}, {"2023.3", "2023-03-01", true},
		{"2023.10", "2023-10-01", true}, {"2023-3", "2023-03-01", true}, {"2023年3月", "2023-03-01", true},
		{"20230301", "2023-03-01", true}, {"2023-03-01 00:00:00", "2023-03-01", true}, {"2023.03.01", "2023-03-01", true},
		{"２０２３－０３－０１", "2023-03-01", true}, {"无", "", true}, {"-", "", true},
		{"2023-02-29", "", false}, {"2023-13-01", "", false}, {"3/1/2023", "", false}, {"1905-01-01", "", false},
		{"100", "", false}, {"明年", "", false}, {"2023", "", false},
	}
	for _, tc := range dates {
		v, ok, verr := parseDate(tc.in, false)
		if v != tc.want || ok != tc.ok || (verr != nil) == tc.ok {
			t.Errorf("date %q: got %q %v %v, want %q %v", tc.in, v, ok, verr, tc.want, tc.ok)
		}
	}
	if v, _, _ := parseDate("43555", true); v != "2023-04-01" {
		t.Errorf("1904 serial 43555: got %q, want 2023-04-01", v)
	}
	for in, want := range map[string]store.Stage{"在建": store.StageUnderConstruction, "开复工": store.StageUnderConstruction,
		"续建": store.StageUnderConstruction, "前期手续": store.StagePreparing, "投产": store.StageOperating, "运营": store.StageOperating,
		"Under_Construction": store.StageUnderConstruction, " 竣 工 ": store.StageCompleted, "洽谈": store.StageNegotiating} {
		if got, ok, _ := parseStage(in); !ok || got != want {
			t.Errorf("stage %q: got %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]store.Category{"计划外新开工": store.CategoryUnplanned, "重点项目": store.CategoryPlanned,
		"招商": store.CategoryAttraction, "PLANNED": store.CategoryPlanned} {
		if got, ok, _ := parseCategory(in); !ok || got != want {
			t.Errorf("category %q: got %q, want %q", in, got, want)
		}
	}
	if _, _, verr := parseStage("正常"); verr == nil || !strings.Contains(verr.zh, "在建") {
		t.Errorf("stage 正常: got %v", verr)
	}
	for in, want := range map[string]bool{"是": true, "否": false, "Y": true, "false": false, "1": true, "0": false, "停建": true} {
		if got, ok, _ := parseBool(in); !ok || got != want {
			t.Errorf("bool %q: got %v, want %v", in, got, want)
		}
	}
}

// TestReadTextChecks: free text goes through the store's one check, per cell.
func TestReadTextChecks(t *testing.T) {
	csv := "项目名称,备注,行业\n" +
		"\"A\u202Eevil\",ok,x\n" + // a bidirectional override
		"b,\"line\r\nbreak\",\"x\u200by\"\n" + // a Windows line break in a note is fine; a zero-width space is not
		"c,\"\x01\",\"" + strings.Repeat("长", 51) + "\"\n"
	tab := mustRead(t, "a.csv", []byte(csv))
	if len(tab.Rows) != 3 {
		t.Fatalf("got %d rows", len(tab.Rows))
	}
	if e := tab.Rows[0].Errors; len(e) != 1 || e[0].Field != FieldName || !strings.Contains(e[0].Message, "U+202E") {
		t.Errorf("row 2: %+v", e)
	}
	if e := tab.Rows[1].Errors; len(e) != 1 || e[0].Field != FieldSector || *tab.Rows[1].Patch.Note != "line\nbreak" {
		t.Errorf("row 3: %+v", e)
	}
	if e := tab.Rows[2].Errors; len(e) != 2 || !strings.Contains(e[0].Message, "U+0001") || !strings.Contains(e[1].Message, "超过 50 个字符") {
		t.Errorf("row 4: %+v", e)
	}
}

// TestReadProgressColumn: a bare 1 is 100 % in a column of fractions (percent cells) and
// 1 % in a column of whole percents.
func TestReadProgressColumn(t *testing.T) {
	tab := mustRead(t, "a.csv", []byte("项目名称,形象进度\na,0.5\nb,1\nc,0\n"))
	if *tab.Rows[1].Patch.Progress != 100 {
		t.Errorf("fractions: got %d, want 100", *tab.Rows[1].Patch.Progress)
	}
	tab = mustRead(t, "a.csv", []byte("项目名称,形象进度\na,50\nb,1\n"))
	if *tab.Rows[1].Patch.Progress != 1 {
		t.Errorf("percents: got %d, want 1", *tab.Rows[1].Patch.Progress)
	}
}

func TestReadNoHeader(t *testing.T) {
	for name, data := range map[string]string{
		"title only":      "2023年项目台账\n",
		"name only":       "项目名称\n甲\n",
		"no name":         "类别,推进阶段\n计划内,在建\n",
		"header too deep": strings.Repeat("标题\n", HeaderSearchRows) + "项目名称,推进阶段\n甲,在建\n",
		"empty":           "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read("a.csv", []byte(data), Limits{})
			wantRefusal(t, err, ErrNoHeader)
		})
	}
}

// TestReadDuplicateColumn: a second column for the same field is ignored with a note.
func TestReadDuplicateColumn(t *testing.T) {
	tab := mustRead(t, "a.csv", []byte("项目名称,总投资,计划总投资\n甲,1,2\n"))
	if len(tab.Columns) != 2 || len(tab.Unmatched) != 1 || tab.Unmatched[0].Letter != "C" || *tab.Rows[0].Patch.InvestmentYuan != 10_000 {
		t.Fatalf("got %+v %+v", tab.Columns, tab.Unmatched)
	}
	if len(tab.Notes) != 1 || !strings.Contains(tab.Notes[0].Message, "只读取 B 列") {
		t.Fatalf("notes %+v", tab.Notes)
	}
}

// TestReadEmptyRows: blank rows and rows with only a 序号 are skipped; line numbers stay
// those of the sheet.
func TestReadEmptyRows(t *testing.T) {
	data := book(t, func(f *excelize.File, s string) {
		setRows(t, f, s, [][]any{{"序号", "项目名称", "形象进度"}, {1, "甲", 5}, {2}, {}, {3, nil, nil, "stray"}, {4, "乙", 6}})
	})
	tab := mustRead(t, "a.xlsx", data)
	if len(tab.Rows) != 2 || tab.Rows[0].Line != 2 || tab.Rows[1].Line != 6 {
		t.Fatalf("got %+v", tab.Rows)
	}
}

func TestReadNotSpreadsheet(t *testing.T) {
	docx := withPart(t, book(t, func(*excelize.File, string) {}), "xl/workbook.xml", func(w io.Writer) {})
	for name, tc := range map[string]struct {
		file     string
		data     []byte
		sentinel error
		msg      string
	}{
		"xls":           {"台账.xls", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 100)...), ErrNotSpreadsheet, ".xlsx"},
		"pdf":           {"台账.pdf", []byte("%PDF-1.7\n..."), ErrNotSpreadsheet, "XLSX 或 CSV"},
		"png":           {"a.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ErrNotSpreadsheet, "XLSX 或 CSV"},
		"utf16":         {"a.txt", []byte{0xFF, 0xFE, '1', 0}, ErrNotSpreadsheet, "UTF-16"},
		"xlsx not zip":  {"a.xlsx", []byte("项目名称,类别\n"), ErrBrokenFile, "zip"},
		"zip no book":   {"a.xlsx", docx, ErrBrokenFile, ""},
		"truncated zip": {"a.xlsx", officeRegister(t)[:3000], ErrBrokenFile, "zip"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(tc.file, tc.data, Limits{})
			fe := wantRefusal(t, err, tc.sentinel)
			if !strings.Contains(fe.Message, tc.msg) {
				t.Errorf("message %q lacks %q", fe.Message, tc.msg)
			}
		})
	}
}

// TestReadStrictXLSX: a workbook saved as "Strict Open XML" names its relationships in
// another namespace; the sheet is found all the same.
func TestReadStrictXLSX(t *testing.T) {
	base := book(t, func(f *excelize.File, s string) {
		setRows(t, f, s, [][]any{{"项目名称", "形象进度"}, {"甲", 5}})
	})
	strict := withPart(t, base, "xl/workbook.xml", func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main" `+
			`xmlns:r="http://purl.oclc.org/ooxml/officeDocument/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	})
	tab := mustRead(t, "strict.xlsx", strict)
	if len(tab.Rows) != 1 || *tab.Rows[0].Patch.Progress != 5 {
		t.Fatalf("got %+v", tab.Rows)
	}
}
