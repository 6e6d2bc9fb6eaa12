package sheet

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

// guide is the 填写说明 sheet: per column whether a new project needs it, what it holds and
// the forms accepted.
var guide = []struct{ field, required, meaning, accepted string }{
	{FieldID, "否", "系统中的项目编号。填写时按编号更新该项目；留空时按“年度 + 项目名称”匹配，匹配不到则新建项目。",
		"字母、数字、- _ .，最多 64 个字符"},
	{FieldName, "新建时必填", "项目全称。", "最多 200 个字"},
	{FieldCategory, "新建时必填", "项目所属类别。", "计划内重点项目（计划内、重点项目）、计划外新开工（计划外）、招商引资（招商、招商项目）"},
	{FieldYear, "新建时必填", "项目所属年度。", "2023 或 2023年"},
	{FieldSector, "新建时必填", "所属行业或产业。", "最多 50 个字"},
	{FieldDepartment, "新建时必填", "责任单位（牵头单位），请从下拉列表中选择。", "最多 50 个字"},
	{FieldLeader, "否", "包保领导（包保责任人）。", "最多 100 个字"},
	{FieldStage, "新建时必填", "项目推进阶段。", "洽谈、签约、落位、前期（前期手续）、在建（开工、复工、开复工、续建）、竣工、投产（运营）"},
	{FieldInvestmentYuan, "否", "计划总投资。", "数字，单位见表头（元、万元、亿元，未注明时为万元）；可带千位分隔符，如 12,000.5；不能为负数"},
	{FieldAnnualPlanYuan, "否", "本年度计划完成投资。", "同总投资"},
	{FieldInvestmentCompletedYuan, "否", "本年度已完成投资。", "同总投资"},
	{FieldProgress, "否", "形象进度，0 到 100。", "54、54% 或百分比格式的单元格"},
	{FieldPlannedStart, "否", "计划开工日期。", "2023-03-01、2023/3/1、2023年3月1日、2023.3、2023-3（按当月 1 日）或 Excel 日期；填“无”或“-”表示清空"},
	{FieldStartedAt, "否", "实际开工日期。", "同上"},
	{FieldResumedAt, "否", "续建项目（上一年度已开工）本年度复工的日期。", "同上"},
	{FieldPlannedCompletion, "否", "计划竣工日期。", "同上"},
	{FieldCompletedAt, "否", "实际竣工日期。", "同上"},
	{FieldOnHold, "否", "是否停建或缓建。", "是 / 否"},
	{FieldNote, "否", "备注，可多行。", "最多 2000 个字"},
}

// guideNotes are the general rules at the top of 填写说明.
var guideNotes = []string{
	"1. 第一行为表头，请勿修改列名；不需要的列可以删除，列的顺序可以调整。",
	"2. 空白单元格表示“不修改”；导入前会先显示将要修改的内容，确认后才写入。",
	"3. 金额单位以表头括号中的单位为准（元、万元、亿元），未注明时按万元计。",
	"4. 自己的台账也可以直接导入：表头可在前 10 行内，上方可有标题行；两行表头（如“投资情况（万元）”下分“总投资 / 年度计划 / 年度完成”）可以识别；合计行和“一、……”分组标题行会被跳过。",
	"5. 支持 .xlsx 和 CSV（UTF-8 或 Excel 默认的 GBK/GB18030 编码）；旧版 .xls 请先另存为 .xlsx。",
	"6. 第 2 行是示例，导入前请删除。",
}

// WriteTemplate writes the import template: the projects sheet with its header, drop-downs
// (departments from the list given) and one example row of the given year, and a second
// sheet 填写说明 with every column, what it needs and the forms accepted.
func WriteTemplate(w io.Writer, departments []string, year int) error {
	departments = cleanList(departments)
	f, sw, st, err := newProjectsBook(departments)
	if err != nil {
		return err
	}
	defer f.Close()
	dept := "经济发展局"
	if len(departments) > 0 {
		dept = departments[0]
	}
	example := store.Project{Name: "（示例，导入前请删除）XX 新材料产业园项目", Category: store.CategoryPlanned, Year: year,
		Sector: "新材料", Department: dept, Leader: "张三", Stage: store.StageUnderConstruction,
		InvestmentYuan: 1_200_000_000, AnnualPlanYuan: 300_000_000, InvestmentCompletedYuan: 125_000_000, Progress: 35,
		PlannedStart: store.Date(fmt.Sprintf("%d-03-01", year)), StartedAt: store.Date(fmt.Sprintf("%d-03-15", year)),
		PlannedCompletion: store.Date(fmt.Sprintf("%d-10-31", year+1)), Note: "主体结构施工中"}
	row := make([]any, len(fields))
	projectRow(row, &example)
	for i, v := range row {
		if v != nil {
			style := st.example
			if isMoney(fields[i].field) || isDate(fields[i].field) {
				style = 0 // keep the column's number format
			}
			if style != 0 {
				row[i] = excelize.Cell{StyleID: style, Value: v}
			}
		}
	}
	if err := sw.SetRow("A2", row); err != nil {
		return err
	}
	if err := finishProjectsBook(f, sw, 1); err != nil {
		return err
	}
	if err := writeGuide(f, st); err != nil {
		return err
	}
	return writeTo(f, w)
}

func writeGuide(f *excelize.File, st *styles) error {
	if _, err := f.NewSheet(GuideSheet); err != nil {
		return err
	}
	set := func(cellName string, v any) error { return f.SetCellValue(GuideSheet, cellName, v) }
	r := 1
	if err := set("A1", "填写说明"); err != nil {
		return err
	}
	for _, n := range guideNotes {
		r++
		if err := set("A"+strconv.Itoa(r), n); err != nil {
			return err
		}
	}
	r += 2
	head := r
	for i, h := range []string{"列名", "可用的列名", "是否必填", "说明", "可填写的格式"} {
		cellName, _ := excelize.CoordinatesToCellName(i+1, r)
		if err := set(cellName, h); err != nil {
			return err
		}
	}
	for _, g := range guide {
		r++
		fd := fieldByName[g.field]
		vals := []string{exportHeader(g.field, ""), strings.Join(fd.names, "、"), g.required, g.meaning, g.accepted}
		for i, v := range vals {
			cellName, _ := excelize.CoordinatesToCellName(i+1, r)
			if err := set(cellName, v); err != nil {
				return err
			}
		}
	}
	for i, width := range []float64{22, 40, 12, 44, 60} {
		col := columnLetter(i + 1)
		if err := f.SetColWidth(GuideSheet, col, col, width); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(GuideSheet, fmt.Sprintf("A%d", head), fmt.Sprintf("E%d", head), st.header); err != nil {
		return err
	}
	if err := f.SetCellStyle(GuideSheet, fmt.Sprintf("A%d", head+1), fmt.Sprintf("E%d", r), st.wrap); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	if err != nil {
		return err
	}
	return f.SetCellStyle(GuideSheet, "A1", "A1", bold)
}

// WriteErrorsXLSX writes the rows of t that have errors, for the office to correct and import
// again: the recognised columns (headers as Read matches them, in each column's unit), then
// 原行号 (the row in the uploaded file) and 错误 (every message of the row). Rows keep the
// values as read; a row without Values (its errors were added by the caller after Read,
// e.g. a rule of the store) is written from its Patch. Callers may append CellErrors to
// t.Rows[i].Errors first; Column and Letter may be empty for a row-wide error.
func WriteErrorsXLSX(w io.Writer, t *Table) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", ErrorsSheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(ErrorsSheet)
	if err != nil {
		return err
	}
	n := len(t.Columns)
	if err := sw.SetColStyle(n+2, n+2, st.wrap); err != nil {
		return err
	}
	widths := make([]float64, n+2)
	for i, c := range t.Columns {
		widths[i] = columnWidths[c.Field]
	}
	widths[n], widths[n+1] = 8, 60
	if err := setWidths(sw, widths); err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	head := make([]any, n+2)
	for i, c := range t.Columns {
		head[i] = excelize.Cell{StyleID: st.header, Value: exportHeader(c.Field, c.Unit)}
	}
	head[n] = excelize.Cell{StyleID: st.header, Value: "原行号"}
	head[n+1] = excelize.Cell{StyleID: st.header, Value: "错误"}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 32}); err != nil {
		return err
	}
	out := 1
	row := make([]any, n+2)
	for i := range t.Rows {
		r := &t.Rows[i]
		if len(r.Errors) == 0 {
			continue
		}
		for ci, c := range t.Columns {
			v := ""
			if r.Values != nil {
				v = r.Values[ci]
			} else {
				v = patchValue(r, c)
			}
			row[ci] = text(v)
		}
		row[n] = r.Line
		msgs := make([]string, len(r.Errors))
		for k, e := range r.Errors {
			msgs[k] = e.Message
		}
		row[n+1] = strings.Join(msgs, "\n")
		out++
		if err := sw.SetRow("A"+strconv.Itoa(out), row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return writeTo(f, w)
}

// patchValue writes a parsed cell back as text in its column's unit.
func patchValue(r *Row, c Column) string {
	p := &r.Patch
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	money := func(v *int64) string {
		if v == nil {
			return ""
		}
		return scaledText(*v, unitScale(c.Unit))
	}
	switch c.Field {
	case FieldID:
		return r.ID
	case FieldName:
		return str(p.Name)
	case FieldSector:
		return str(p.Sector)
	case FieldDepartment:
		return str(p.Department)
	case FieldLeader:
		return str(p.Leader)
	case FieldNote:
		return str(p.Note)
	case FieldCategory:
		if p.Category != nil {
			return CategoryLabel(*p.Category)
		}
	case FieldStage:
		if p.Stage != nil {
			return StageLabel(*p.Stage)
		}
	case FieldYear:
		if p.Year != nil {
			return strconv.Itoa(*p.Year)
		}
	case FieldInvestmentYuan:
		return money(p.InvestmentYuan)
	case FieldAnnualPlanYuan:
		return money(p.AnnualPlanYuan)
	case FieldInvestmentCompletedYuan:
		return money(p.InvestmentCompletedYuan)
	case FieldProgress:
		if p.Progress != nil {
			return strconv.Itoa(*p.Progress)
		}
	case FieldOnHold:
		if p.OnHold != nil {
			return yesNo(*p.OnHold)
		}
	default:
		if d := datePtr(p, c.Field); d != nil {
			return string(*d)
		}
	}
	return ""
}
