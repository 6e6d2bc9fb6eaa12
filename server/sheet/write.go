package sheet

import (
	"archive/zip"
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

// Sheet names of the files we write.
const (
	ProjectsSheet = "项目台账"
	ChangesSheet  = "修改记录"
	ErrorsSheet   = "导入错误"
	GuideSheet    = "填写说明"
	listsSheet    = "选项" // hidden: the drop-down lists
)

// lastRow is Excel's last row: drop-downs cover the whole column below the header.
const lastRow = 1048576

// exportHeader is the header we write for a field: the label with the unit the reader
// takes back ("总投资（万元）", "形象进度（%）").
func exportHeader(field, unit string) string {
	l := Label(field)
	switch {
	case isMoney(field):
		if unit == "" {
			unit = UnitWanYuan
		}
		return l + "（" + unit + "）"
	case field == FieldProgress:
		return l + "（%）"
	}
	return l
}

// ProjectHeaders are the columns of the projects export and the import template, in order.
func ProjectHeaders() []string {
	h := make([]string, len(fields))
	for i, f := range fields {
		h[i] = exportHeader(f.field, "")
	}
	return h
}

// columnWidths of the projects export, by field.
var columnWidths = map[string]float64{FieldID: 14, FieldName: 36, FieldCategory: 16, FieldYear: 8,
	FieldSector: 14, FieldDepartment: 18, FieldLeader: 12, FieldStage: 10, FieldInvestmentYuan: 16,
	FieldAnnualPlanYuan: 18, FieldInvestmentCompletedYuan: 18, FieldProgress: 14, FieldPlannedStart: 14,
	FieldStartedAt: 14, FieldResumedAt: 14, FieldPlannedCompletion: 14, FieldCompletedAt: 14, FieldOnHold: 12, FieldNote: 40}

// styles are the cell styles of a written workbook.
type styles struct {
	header, money, date, dateTime, wrap, example int
}

func newStyles(f *excelize.File) (*styles, error) {
	border := []excelize.Border{{Type: "left", Color: "9BA3AF", Style: 1}, {Type: "right", Color: "9BA3AF", Style: 1},
		{Type: "top", Color: "9BA3AF", Style: 1}, {Type: "bottom", Color: "9BA3AF", Style: 1}}
	money, date, dateTime := "#,##0.00", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"
	var s styles
	var err error
	for _, def := range []struct {
		dst   *int
		style *excelize.Style
	}{
		{&s.header, &excelize.Style{Font: &excelize.Font{Bold: true}, Border: border,
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}}},
		{&s.money, &excelize.Style{CustomNumFmt: &money}},
		{&s.date, &excelize.Style{CustomNumFmt: &date}},
		{&s.dateTime, &excelize.Style{CustomNumFmt: &dateTime}},
		{&s.wrap, &excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}}},
		{&s.example, &excelize.Style{Font: &excelize.Font{Italic: true, Color: "6B7280"}}},
	} {
		if *def.dst, err = f.NewStyle(def.style); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// setWidths sets the widths of the first columns, after any column styles. excelize's stream
// writer moves each column it touches to the front of the <cols> list and writes the list as
// it stands, while Excel wants it in ascending order: setting the widths last and from the
// right leaves it so.
func setWidths(sw *excelize.StreamWriter, widths []float64) error {
	for c := len(widths); c >= 1; c-- {
		if err := sw.SetColWidth(c, c, widths[c-1]); err != nil {
			return err
		}
	}
	return nil
}

// writeTo writes a finished workbook straight to w. excelize's Write builds the whole zip in
// a buffer first; handing it a zip writer on w streams it instead (the zip of 100,000
// projects is some 10 MB we need not hold).
func writeTo(f *excelize.File, w io.Writer) error {
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	_, err := f.WriteToBuffer()
	return err
}

// WriteProjectsXLSX streams projects (in the order given) as a register workbook: one sheet
// with a styled, frozen header and a filter, money in 万元 as numbers shown with two decimals
// but holding the exact amount (a re-import gives the same yuan), 形象进度 as a number,
// dates as dates, and drop-downs for category, stage, department (the list given) and
// 是否停缓建. The headers are the names Read matches.
func WriteProjectsXLSX(w io.Writer, projects []store.Project, departments []string) error {
	f, sw, _, err := newProjectsBook(departments)
	if err != nil {
		return err
	}
	defer f.Close()
	row := make([]any, len(fields))
	for i := range projects {
		projectRow(row, &projects[i])
		if err := sw.SetRow("A"+strconv.Itoa(i+2), row); err != nil {
			return err
		}
	}
	if err := finishProjectsBook(f, sw, len(projects)); err != nil {
		return err
	}
	return writeTo(f, w)
}

// newProjectsBook makes the workbook, the lists sheet and the stream writer with the columns
// set up and the header written.
func newProjectsBook(departments []string) (*excelize.File, *excelize.StreamWriter, *styles, error) {
	departments = cleanList(departments)
	f := excelize.NewFile()
	fail := func(err error) (*excelize.File, *excelize.StreamWriter, *styles, error) {
		_ = f.Close()
		return nil, nil, nil, err
	}
	if err := f.SetSheetName("Sheet1", ProjectsSheet); err != nil {
		return fail(err)
	}
	st, err := newStyles(f)
	if err != nil {
		return fail(err)
	}
	if err := writeLists(f, departments); err != nil {
		return fail(err)
	}
	sw, err := f.NewStreamWriter(ProjectsSheet)
	if err != nil {
		return fail(err)
	}
	for i, fd := range fields {
		col := i + 1
		style := 0
		switch {
		case isMoney(fd.field):
			style = st.money
		case isDate(fd.field):
			style = st.date
		}
		if style != 0 {
			if err := sw.SetColStyle(col, col, style); err != nil {
				return fail(err)
			}
		}
	}
	widths := make([]float64, len(fields))
	for i, fd := range fields {
		widths[i] = columnWidths[fd.field]
	}
	if err := setWidths(sw, widths); err != nil {
		return fail(err)
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fail(err)
	}
	head := make([]any, len(fields))
	for i, h := range ProjectHeaders() {
		head[i] = excelize.Cell{StyleID: st.header, Value: h}
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 32}); err != nil {
		return fail(err)
	}
	return f, sw, st, nil
}

// finishProjectsBook adds the filter and the drop-downs, ends the stream and leaves the
// workbook ready to write.
func finishProjectsBook(f *excelize.File, sw *excelize.StreamWriter, n int) error {
	last := columnLetter(len(fields))
	if err := f.AutoFilter(ProjectsSheet, fmt.Sprintf("A1:%s%d", last, max(n+1, 2)), nil); err != nil {
		return err
	}
	if err := addDropDowns(f, ProjectsSheet); err != nil {
		return err
	}
	return sw.Flush()
}

// projectRow fills row with one project's cells (nil for nothing), in the order of fields.
func projectRow(row []any, p *store.Project) {
	i := 0
	put := func(v any) { row[i] = v; i++ }
	put(text(p.ID))
	put(text(p.Name))
	put(text(CategoryLabel(p.Category)))
	put(p.Year)
	put(text(p.Sector))
	put(text(p.Department))
	put(text(p.Leader))
	put(text(StageLabel(p.Stage)))
	put(wan(p.InvestmentYuan))
	put(wan(p.AnnualPlanYuan))
	put(wan(p.InvestmentCompletedYuan))
	put(p.Progress)
	put(dateCell(p.PlannedStart))
	put(dateCell(p.StartedAt))
	put(dateCell(p.ResumedAt))
	put(dateCell(p.PlannedCompletion))
	put(dateCell(p.CompletedAt))
	put(yesNo(p.OnHold))
	put(text(p.Note))
}

// projectRecord fills rec with one project's CSV cells, in the order of fields.
func projectRecord(rec []string, p *store.Project) {
	i := 0
	put := func(v string) { rec[i] = v; i++ }
	put(safe(p.ID))
	put(safe(p.Name))
	put(CategoryLabel(p.Category))
	put(strconv.Itoa(p.Year))
	put(safe(p.Sector))
	put(safe(p.Department))
	put(safe(p.Leader))
	put(StageLabel(p.Stage))
	put(wanText(p.InvestmentYuan))
	put(wanText(p.AnnualPlanYuan))
	put(wanText(p.InvestmentCompletedYuan))
	put(strconv.Itoa(p.Progress))
	put(string(p.PlannedStart))
	put(string(p.StartedAt))
	put(string(p.ResumedAt))
	put(string(p.PlannedCompletion))
	put(string(p.CompletedAt))
	put(yesNo(p.OnHold))
	put(safe(p.Note))
}

func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// wan is an amount in 万元 as the float nearest to yuan/10,000: written with up to 15
// significant digits, it reads back as the same yuan for any amount under store.MaxYuan.
func wan(yuan int64) float64 { return float64(yuan) / 10000 }

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

// dateCell is a date as a time.Time (excelize writes it as a serial with our date style).
func dateCell(d store.Date) any {
	if len(d) != 10 {
		return nil
	}
	y, m, day := atoi(string(d[:4])), atoi(string(d[5:7])), atoi(string(d[8:10]))
	return time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
}

// writeLists writes the hidden sheet the drop-downs take their lists from: a list longer
// than 255 characters cannot be written into the validation itself.
func writeLists(f *excelize.File, departments []string) error {
	if _, err := f.NewSheet(listsSheet); err != nil {
		return err
	}
	cols := [][]string{nil, nil, departments, {"是", "否"}}
	for _, c := range store.Categories {
		cols[0] = append(cols[0], CategoryLabel(c))
	}
	for _, s := range store.Stages {
		cols[1] = append(cols[1], StageLabel(s))
	}
	for c, list := range cols {
		for r, v := range list {
			cellName, _ := excelize.CoordinatesToCellName(c+1, r+1)
			if err := f.SetCellStr(listsSheet, cellName, v); err != nil {
				return err
			}
		}
	}
	return f.SetSheetVisible(listsSheet, false)
}

// addDropDowns adds the list validations to a sheet laid out as ProjectHeaders.
func addDropDowns(f *excelize.File, sheet string) error {
	lists := []struct {
		field, listCol string
		n              int
		strict         bool
	}{
		{FieldCategory, "A", len(store.Categories), true},
		{FieldStage, "B", len(store.Stages), true},
		{FieldDepartment, "C", 0, false},
		{FieldOnHold, "D", 2, true},
	}
	for _, l := range lists {
		n := l.n
		if l.field == FieldDepartment {
			n = departmentCount(f)
		}
		if n == 0 {
			continue
		}
		col := columnLetter(fieldIndex(l.field) + 1)
		dv := excelize.NewDataValidation(true)
		dv.Sqref = fmt.Sprintf("%s2:%s%d", col, col, lastRow)
		dv.SetSqrefDropList(fmt.Sprintf("'%s'!$%s$1:$%s$%d", listsSheet, l.listCol, l.listCol, n))
		style := excelize.DataValidationErrorStyleStop
		if !l.strict {
			style = excelize.DataValidationErrorStyleWarning
		}
		dv.SetError(style, "请从列表中选择", "请从下拉列表中选择「"+Label(l.field)+"」")
		if err := f.AddDataValidation(sheet, dv); err != nil {
			return err
		}
	}
	return nil
}

// departmentCount is the length of the department list on the lists sheet.
func departmentCount(f *excelize.File) int {
	n := 0
	for {
		v, err := f.GetCellValue(listsSheet, "C"+strconv.Itoa(n+1))
		if err != nil || v == "" {
			return n
		}
		n++
	}
}

// cleanList drops blank and repeated entries of a list.
func cleanList(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func fieldIndex(field string) int {
	for i, f := range fields {
		if f.field == field {
			return i
		}
	}
	return -1
}

// WriteProjectsCSV writes projects as CSV for Excel: UTF-8 with a BOM, the same columns as
// WriteProjectsXLSX, money in 万元 with up to four decimals (exact), dates YYYY-MM-DD. A text
// cell starting with = + - @, a tab or a carriage return gets a leading ' so that Excel shows
// it rather than running it as a formula (OWASP CSV injection); Read removes the ' again.
func WriteProjectsCSV(w io.Writer, projects []store.Project) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(ProjectHeaders()); err != nil {
		return err
	}
	rec := make([]string, len(fields))
	for i := range projects {
		projectRecord(rec, &projects[i])
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// safe neutralises a text cell for CSV (see WriteProjectsCSV); a plain number such as
// "-5" is left as it is.
func safe(s string) string {
	if s == "" || strings.IndexByte("=+-@\t\r", s[0]) < 0 {
		return s
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	return "'" + s
}

// wanText is an amount in 万元 written exactly: 12345678 yuan → "1234.5678".
func wanText(yuan int64) string { return scaledText(yuan, 4) }

// scaledText writes v / 10^scale exactly, without trailing zeros.
func scaledText(v int64, scale int) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		intPart, frac := s[:len(s)-scale], strings.TrimRight(s[len(s)-scale:], "0")
		s = intPart
		if frac != "" {
			s += "." + frac
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}

// changeHeaders are the columns of the changes export.
var changeHeaders = []string{"时间", "操作人", "项目编号", "项目名称", "字段", "原值", "新值", "备注"}

// changeRows turns a change into its rows, one per changed field in column order; a change
// without fields (a deletion) is one row naming its kind.
func changeRows(c *store.Change, emit func(field, from, to string) error) error {
	if len(c.Fields) == 0 {
		return emit(kindLabel(c.Kind), "", "")
	}
	names := make([]string, 0, len(c.Fields))
	for k := range c.Fields {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := fieldIndex(names[i]), fieldIndex(names[j])
		if a < 0 {
			a = len(fields)
		}
		if b < 0 {
			b = len(fields)
		}
		return a < b || a == b && names[i] < names[j]
	})
	for _, k := range names {
		fc := c.Fields[k]
		if err := emit(Label(k), changeValue(k, fc.From), changeValue(k, fc.To)); err != nil {
			return err
		}
	}
	return nil
}

func kindLabel(k store.ChangeKind) string {
	switch k {
	case store.ChangeCreate:
		return "（新建）"
	case store.ChangeDelete:
		return "（删除）"
	}
	return "（修改）"
}

// actor shows an api token's changes as the UI does: "token:导入脚本" → "令牌 导入脚本".
func actor(by string) string {
	if name, ok := strings.CutPrefix(by, "token:"); ok {
		return "令牌 " + name
	}
	return by
}

// changeValue shows a field's value as the office reads it: amounts in 万元, progress in
// percent, labels for category and stage, 是/否. Values come typed (fresh changes) or as
// JSON decoded them (float64, string, bool, nil).
func changeValue(field string, v any) string {
	if v == nil {
		return ""
	}
	switch {
	case isMoney(field):
		if y, ok := asInt(v); ok {
			return wanText(y) + "万元"
		}
	case field == FieldProgress:
		if n, ok := asInt(v); ok {
			return strconv.FormatInt(n, 10) + "%"
		}
	case field == FieldCategory:
		return CategoryLabel(store.Category(fmt.Sprint(v)))
	case field == FieldStage:
		return StageLabel(store.Stage(fmt.Sprint(v)))
	case field == FieldOnHold:
		if b, ok := v.(bool); ok {
			return yesNo(b)
		}
	}
	return fmt.Sprint(v)
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<62 {
			return int64(n), true
		}
	}
	return 0, false
}

// WriteChangesXLSX writes change-log entries, one row per changed field: 时间 (as a date and
// time, in the times' own location: convert them first), 操作人, 项目编号, 项目名称, 字段
// (Chinese labels), 原值, 新值, 备注.
func WriteChangesXLSX(w io.Writer, changes []store.Change) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", ChangesSheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(ChangesSheet)
	if err != nil {
		return err
	}
	if err := sw.SetColStyle(1, 1, st.dateTime); err != nil {
		return err
	}
	if err := setWidths(sw, []float64{20, 14, 14, 32, 14, 24, 24, 32}); err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	head := make([]any, len(changeHeaders))
	for i, h := range changeHeaders {
		head[i] = excelize.Cell{StyleID: st.header, Value: h}
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 24}); err != nil {
		return err
	}
	n := 1
	row := make([]any, len(changeHeaders))
	for i := range changes {
		c := &changes[i]
		if err := changeRows(c, func(field, from, to string) error {
			n++
			row[0], row[1], row[2], row[3] = localTime(c.At), text(actor(c.By)), text(c.ProjectID), text(c.ProjectName)
			row[4], row[5], row[6], row[7] = field, text(from), text(to), text(c.Comment)
			return sw.SetRow("A"+strconv.Itoa(n), row)
		}); err != nil {
			return err
		}
	}
	if err := f.AutoFilter(ChangesSheet, fmt.Sprintf("A1:H%d", max(n, 2)), nil); err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return writeTo(f, w)
}

// localTime keeps the wall clock of t's location (excelize writes times as they read).
func localTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// WriteChangesCSV is WriteChangesXLSX as CSV (UTF-8 with BOM, 时间 as YYYY-MM-DD HH:MM:SS,
// text cells neutralised as in WriteProjectsCSV).
func WriteChangesCSV(w io.Writer, changes []store.Change) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(changeHeaders); err != nil {
		return err
	}
	rec := make([]string, len(changeHeaders))
	for i := range changes {
		c := &changes[i]
		if err := changeRows(c, func(field, from, to string) error {
			rec[0] = ""
			if !c.At.IsZero() {
				rec[0] = c.At.Format("2006-01-02 15:04:05")
			}
			rec[1], rec[2], rec[3] = safe(actor(c.By)), safe(c.ProjectID), safe(c.ProjectName)
			rec[4], rec[5], rec[6], rec[7] = field, safe(from), safe(to), safe(c.Comment)
			return cw.Write(rec)
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
