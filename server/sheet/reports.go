package sheet

// The monthly reports (月报) in files: a workbook of one sheet per month read into report
// lines (ReadReports), the template a unit fills in (WriteReportTemplate), the month's
// bulletin (通报) as offices lay it out (WriteBulletinXLSX) and the problems register
// (WriteProblemsXLSX, WriteProblemsCSV). docs/import-export.md describes them for the offices.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"projectboard/store"
)

// The report fields a month sheet's columns can hold (besides FieldID and FieldName), by the
// JSON names of store.ReportInput.
const (
	ReportFieldMonthYuan    = "monthYuan"
	ReportFieldProgress     = "progress"
	ReportFieldProgressText = "progressText"
	ReportFieldProblemsText = "problemsText"
)

// Sheet names of the bulletin and the problems register.
const (
	BulletinSheet         = "通报"
	BulletinProjectsSheet = "项目明细"
	BulletinUnitsSheet    = "责任单位"
	ProblemsSheet         = "问题台账"
)

// Zone is the development zone named in the bulletin's title.
const Zone = "长春净月高新区"

// maxReportSheets bounds the month sheets of one workbook: two years of months.
const maxReportSheets = 24

// reportTextLimit is the store's length of a report's texts (store.ReportInput.Validate).
const reportTextLimit = 2000

// MonthSheet is one sheet of a reports workbook: one month's reports.
type MonthSheet struct {
	Sheet     string      // the worksheet's name (a CSV file's name)
	Month     store.Month // the month the sheet names; "" when Error says it names none
	HeaderRow int
	Columns   []Column // the recognised columns, Field one of FieldID, FieldName, ReportField…
	Unmatched []Column
	Rows      []ReportLine
	Notes     []Note
	// Error is set when the sheet cannot be read as a month at all (no month named, the
	// month of an earlier sheet again, no header); its rows are then empty.
	Error *SheetError
}

// SheetError is why a whole sheet is refused. Code is "unknown_month", "duplicate_month" or
// "no_header".
type SheetError struct {
	Code      string
	Message   string
	MessageEn string
}

// ReportLine is one data row of a month sheet: the project it names and the report cells that
// parsed (nil: blank, or an error in Errors).
type ReportLine struct {
	Line         int
	ID           string
	Name         string
	MonthYuan    *int64
	Progress     *int
	ProgressText *string
	ProblemsText *string
	Errors       []CellError
}

// reportDef is one column of a month sheet.
type reportDef struct {
	field, label, labelEn string
	names                 []string
	yuan                  []string // header names that imply 元
}

var reportDefs = []reportDef{
	{field: FieldID, label: "项目编号", labelEn: "Project ID", names: namesOf(FieldID)},
	{field: FieldName, label: "项目名称", labelEn: "Name", names: namesOf(FieldName)},
	{field: ReportFieldMonthYuan, label: "本月完成投资", labelEn: "Investment this month",
		names: []string{"本月完成投资", "本月完成", "本月完成投资额", "当月完成投资", "当月完成", "本月投资", "月度完成投资",
			"本月实际完成投资", "本月完成额", "本月完成固定资产投资", "investment this month", "month investment"},
		yuan: []string{"monthYuan"}},
	{field: ReportFieldProgress, label: "形象进度", labelEn: "Progress", names: namesOf(FieldProgress)},
	{field: ReportFieldProgressText, label: "进展情况", labelEn: "Progress this month",
		names: []string{"进展情况", "本月进展", "本月进展情况", "项目进展", "项目进展情况", "进展", "推进情况", "工作进展",
			"建设进展", "进展情况说明", "本月工作进展", "项目推进情况", "progress this month", "progress text", "progressText"}},
	{field: ReportFieldProblemsText, label: "存在问题", labelEn: "Problems",
		names: []string{"存在问题", "存在的问题", "问题", "困难问题", "困难和问题", "存在问题及建议", "需协调解决的问题",
			"需协调问题", "存在困难", "问题及建议", "problems", "problemsText"}},
}

// namesOf is the header names a register column is recognised by.
func namesOf(field string) []string {
	for _, f := range fields {
		if f.field == field {
			return f.names
		}
	}
	return nil
}

// reportInfoHeaders are columns a month sheet may show that are not read: the template's
// read-only columns and the bulletin's.
var reportInfoHeaders = []string{"上月累计完成", "上月累计完成投资", "月报状态", "退回原因", "预警", "预警原因", "投资完成率",
	"建设阶段", "填报人", "填报时间"}

var (
	reportHeaders = map[string]*reportDef{}
	reportYuan    = map[string]bool{}
	reportInfo    = map[string]bool{}
)

func init() {
	for i := range reportDefs {
		d := &reportDefs[i]
		for _, n := range append(append([]string{}, d.names...), d.yuan...) {
			k, _ := headerKey(n)
			reportHeaders[k] = d
		}
		for _, n := range d.yuan {
			k, _ := headerKey(n)
			reportYuan[k] = true
		}
	}
	for _, n := range reportInfoHeaders {
		k, _ := headerKey(n)
		reportInfo[k] = true
	}
}

// lookupReportHeader matches a month sheet's header cell: a report column (with its unit), a
// column read past in silence (序号, the project register's other columns, the template's
// read-only ones), or nothing. cumulative marks the register's completed investment, which is
// the year's total and not the month's.
func lookupReportHeader(text string) (d *reportDef, unit string, ignored, cumulative bool) {
	key, unit := headerKey(text)
	if key == "" {
		return nil, unit, false, false
	}
	if d = reportHeaders[key]; d != nil {
		if unit == "" && reportYuan[key] {
			unit = UnitYuan
		}
		return d, unit, false, false
	}
	if unit == "" {
		for _, u := range []string{UnitWanYuan, UnitYiYuan, UnitPercent, UnitYuan} {
			if rest, ok := strings.CutSuffix(key, u); ok {
				if d = reportHeaders[strings.TrimSuffix(rest, "/")]; d != nil {
					return d, u, false, false
				}
			}
		}
	}
	if reportInfo[key] {
		return nil, unit, true, false
	}
	f, _, ign := lookupHeader(text)
	if ign {
		return nil, unit, true, false
	}
	if f != nil {
		return nil, unit, true, f.field == FieldInvestmentCompletedYuan
	}
	return nil, unit, false, false
}

// Month names in sheet names and titles.
var (
	reYearMonth = regexp.MustCompile(`(\d{4})\s*(?:年|[-./_])\s*(\d{1,2})(?:\D|$)`)
	reYearMon6  = regexp.MustCompile(`(?:^|\D)((?:19|20)\d{2})(0[1-9]|1[0-2])(?:\D|$)`)
	reMonthOnly = regexp.MustCompile(`(?:^|\D)(\d{1,2})\s*月`)
	reYearOnly  = regexp.MustCompile(`(?:^|\D)((?:19|20)\d{2})(?:\s*年|\D|$)`)
	zhMonths    = []struct {
		name string
		n    int
	}{{"十二月", 12}, {"十一月", 11}, {"十月", 10}, {"九月", 9}, {"八月", 8}, {"七月", 7}, {"六月", 6}, {"五月", 5},
		{"四月", 4}, {"三月", 3}, {"二月", 2}, {"正月", 1}, {"一月", 1}}
)

// monthIn finds a month named in s: "2022-10", "2022年10月", "2022.10", "202210" give the
// month; "10月" or "十月" give only its number (year 0); a year alone ("2022年重点项目") gives
// year with month 0.
func monthIn(s string) (year, month int) {
	s = strings.Map(halfWidth, s)
	if m := reYearMonth.FindStringSubmatch(s); m != nil {
		if y, mo := atoi(m[1]), atoi(m[2]); mo >= 1 && mo <= 12 {
			return y, mo
		}
	}
	if m := reYearMon6.FindStringSubmatch(s); m != nil {
		return atoi(m[1]), atoi(m[2])
	}
	if m := reYearOnly.FindStringSubmatch(s); m != nil {
		year = atoi(m[1])
	}
	if m := reMonthOnly.FindStringSubmatch(s); m != nil {
		if mo := atoi(m[1]); mo >= 1 && mo <= 12 {
			return year, mo
		}
	}
	for _, z := range zhMonths {
		if strings.Contains(s, z.name) {
			return year, z.n
		}
	}
	return year, 0
}

// monthOf makes a store.Month of a year and a month number, "" when out of range.
func monthOf(year, month int) store.Month {
	m, err := store.ParseMonth(fmt.Sprintf("%04d-%02d", year, month))
	if err != nil {
		return ""
	}
	return m
}

// MonthLabel is a month as offices write it: "2022年10月".
func MonthLabel(m store.Month) string {
	if len(m) != 7 {
		return string(m)
	}
	return fmt.Sprintf("%s年%d月", m[:4], m.Num())
}

// ReadReports reads a workbook of monthly reports: every visible worksheet whose name (or a
// title row above its header) names a month — "2022-10", "2022年10月", or "10月" when the
// sheet's title or the file's name gives the year — is that month's reports, one project per
// row (项目编号 and/or 项目名称; 本月完成投资, 形象进度, 进展情况, 存在问题). A sheet named 填写说明 is
// read past. A CSV file is one sheet, its month named by its title rows or its file name.
// Whole-file refusals are *FileError as for Read; a sheet naming no month, or a month named
// twice, is refused on its own (MonthSheet.Error); cells that do not parse are CellErrors of
// their rows. Limits.MaxRows bounds the data rows of all sheets together.
func ReadReports(fileName string, data []byte, lim Limits) ([]MonthSheet, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fileErr(ErrTooLarge, "文件超过 %d MB", "the file is larger than %d MB", lim.MaxBytes>>20)
	}
	fileYear, _ := monthIn(strings.TrimSuffix(path.Base(fileName), path.Ext(fileName)))
	rr := &reportReader{lim: lim, fileYear: fileYear, seen: map[store.Month]string{}}
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		if err := refuseNonCSV(fileName, data); err != nil {
			return nil, err
		}
		src, _, err := openCSV(data, lim)
		if err != nil {
			return nil, err
		}
		name := path.Base(strings.ReplaceAll(fileName, `\`, "/"))
		ms, err := rr.readSheet(name, src, nil)
		if err != nil {
			return nil, err
		}
		return []MonthSheet{ms}, nil
	}
	f, _, err := openXLSX(data, lim)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sheets, err := monthSheets(data)
	if err != nil {
		return nil, err
	}
	budget := maxCells(lim) / max(len(sheets), 1)
	var out []MonthSheet
	for _, s := range sheets {
		merges, err := scanSheet(s.part, lim.MaxCols, budget)
		if err != nil {
			return nil, err
		}
		rows, err := f.Rows(s.name)
		if err != nil {
			return nil, brokenSheet()
		}
		ms, err := rr.readSheet(s.name, &xlsxSource{rows: rows}, merges)
		rows.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, ms)
	}
	return out, nil
}

// refuseNonCSV refuses, as Read does, what is neither an XLSX nor CSV text.
func refuseNonCSV(fileName string, data []byte) error {
	switch {
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return fileErr(ErrNotSpreadsheet, "这是旧版 .xls 文件或加密的工作簿，无法读取：请在 Excel 中“另存为” .xlsx（不设密码）",
			"this is an old .xls file or a password-protected workbook: save it as .xlsx (without a password)")
	case strings.HasSuffix(strings.ToLower(fileName), ".xlsx") || bytes.HasPrefix(data, []byte("PK")):
		return fileErr(ErrBrokenFile, "XLSX 文件已损坏（不是有效的 zip 压缩包），请在 Excel 中重新保存",
			"the XLSX file is damaged (not a valid zip archive); save it again in Excel")
	case len(data) == 0:
		return fileErr(ErrNoHeader, "文件是空的", "the file is empty")
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return fileErr(ErrNotSpreadsheet, "不支持 UTF-16（Unicode 文本）文件，请另存为“CSV UTF-8”或 XLSX",
			"UTF-16 (Unicode text) files are not read; save as CSV UTF-8 or XLSX")
	case looksBinary(data):
		return fileErr(ErrNotSpreadsheet, "不是表格文件：请上传 XLSX 或 CSV 文件", "not a spreadsheet: upload an XLSX or CSV file")
	}
	return nil
}

// sheetRef is a visible worksheet of a workbook.
type sheetRef struct {
	name string
	part *zipPart
}

// monthSheets lists the visible worksheets in workbook order, without the guide sheet; the
// zip has passed openXLSX's checks.
func monthSheets(data []byte) ([]sheetRef, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, brokenPart()
	}
	parts := map[string]*zipPart{}
	for _, f := range zr.File {
		p := &zipPart{f: f, name: strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/")), size: int64(f.UncompressedSize64)}
		parts[p.name] = p
	}
	_, sheets, ok, err := readWorkbook(parts)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fileErr(ErrNotSpreadsheet, "该 zip 文件不是 Excel 工作簿（.xlsx），请上传 XLSX 文件",
			"the zip file is not an Excel workbook (.xlsx); upload an XLSX file")
	}
	var out []sheetRef
	for _, s := range sheets {
		if k := labelKey(s.name); k == GuideSheet || k == "说明" {
			continue
		}
		out = append(out, sheetRef{name: s.name, part: parts[strings.ToLower(s.path)]})
	}
	switch {
	case len(out) == 0:
		return nil, fileErr(ErrNotSpreadsheet, "XLSX 文件中没有可见的工作表", "the XLSX file has no visible worksheet")
	case len(out) > maxReportSheets:
		return nil, fileErr(ErrInflatedTooLarge, "工作簿有 %d 个工作表，月报最多 %d 个（每月一个）",
			"the workbook has %d worksheets; a reports workbook has at most %d (one per month)", len(out), maxReportSheets)
	}
	return out, nil
}

// reportReader reads the sheets of one file.
type reportReader struct {
	lim      Limits
	fileYear int
	seen     map[store.Month]string // month → the sheet that named it
	rows     int                    // data rows of all sheets so far
}

// reportColumn is a recognised column of a month sheet.
type reportColumn struct {
	Column
	def *reportDef
}

// readSheet reads one month sheet.
func (rr *reportReader) readSheet(name string, src source, merges []mergeRange) (MonthSheet, error) {
	ms := MonthSheet{Sheet: name}
	var buf []bufferedRow
	for {
		cells, line, ok, err := src.next()
		if err != nil {
			return ms, err
		}
		if !ok {
			break
		}
		if cells, err = trimRow(cells, line, rr.lim.MaxCols); err != nil {
			return ms, err
		}
		buf = append(buf, bufferedRow{cells: append([]string(nil), cells...), line: line})
		if line >= HeaderSearchRows {
			break
		}
	}
	mst := newMergeState(merges)
	headerAt := -1
	var head []string
	var titles []string
	sheetMoney := ""
	for i, b := range buf {
		cells := mst.apply(append([]string(nil), b.cells...), b.line, true)
		if isReportHeader(cells) {
			headerAt, head = i, cells
			break
		}
		for _, c := range cells {
			if c = strings.TrimSpace(c); c != "" {
				titles = append(titles, c)
				if u := sheetUnit(c); u != "" {
					sheetMoney = u
				}
			}
		}
	}
	// The month: the sheet's name, else a title row; a month without its year takes the year
	// from the name, the titles or the file's name.
	year, month := monthIn(name)
	for _, t := range titles {
		if month != 0 && year != 0 {
			break
		}
		y, mo := monthIn(t)
		if month == 0 && mo != 0 {
			month = mo
			if y != 0 {
				year = y
			}
		}
		if year == 0 && y != 0 {
			year = y
		}
	}
	if year == 0 {
		year = rr.fileYear
	}
	switch {
	case month == 0:
		ms.Error = &SheetError{Code: "unknown_month",
			Message:   fmt.Sprintf("工作表「%s」没有写明月份：请把工作表命名为“2022年10月”或“2022-10”，或在标题行中写明", clip(name)),
			MessageEn: fmt.Sprintf("sheet 「%s」 names no month: name it like 2022年10月 or 2022-10, or state the month in a title row", clip(name))}
		return ms, nil
	case year == 0 || monthOf(year, month) == "":
		ms.Error = &SheetError{Code: "unknown_month",
			Message:   fmt.Sprintf("工作表「%s」的月份没有年份：请把工作表命名为“2022年%d月”，或在标题行或文件名中写明年份", clip(name), month),
			MessageEn: fmt.Sprintf("sheet 「%s」 names month %d without its year: name it like 2022年%d月, or state the year in a title row or the file's name", clip(name), month, month)}
		return ms, nil
	}
	ms.Month = monthOf(year, month)
	if other, dup := rr.seen[ms.Month]; dup {
		ms.Error = &SheetError{Code: "duplicate_month",
			Message:   fmt.Sprintf("工作表「%s」与工作表「%s」是同一个月（%s），每个月只能有一个工作表", clip(name), clip(other), MonthLabel(ms.Month)),
			MessageEn: fmt.Sprintf("sheet 「%s」 is the same month (%s) as sheet 「%s」: one sheet per month", clip(name), ms.Month, clip(other))}
		return ms, nil
	}
	rr.seen[ms.Month] = name
	if headerAt < 0 {
		ms.Error = &SheetError{Code: "no_header",
			Message:   fmt.Sprintf("工作表「%s」的前 %d 行中没有表头：表头应含有“项目编号”或“项目名称”，以及“本月完成投资”“形象进度”“进展情况”“存在问题”中的至少一列", clip(name), HeaderSearchRows),
			MessageEn: fmt.Sprintf("sheet 「%s」 has no header in its first %d rows: it must name the project (项目编号 or 项目名称) and at least one of 本月完成投资, 形象进度, 进展情况, 存在问题", clip(name), HeaderSearchRows)}
		return ms, nil
	}
	ms.HeaderRow = buf[headerAt].line
	cols := ms.buildColumns(head, sheetMoney)

	// The data rows: the buffered ones after the header, then the rest.
	r := &reportRows{ms: &ms, cols: cols, lim: rr.lim, rr: rr}
	for _, b := range buf[headerAt+1:] {
		if done, err := r.row(mst.apply(b.cells, b.line, false), b.line); done || err != nil {
			return ms, err
		}
	}
	for {
		cells, line, ok, err := src.next()
		if err != nil {
			return ms, err
		}
		if !ok {
			break
		}
		if cells, err = trimRow(cells, line, rr.lim.MaxCols); err != nil {
			return ms, err
		}
		if done, err := r.row(mst.apply(cells, line, false), line); done || err != nil {
			return ms, err
		}
	}
	r.finish()
	return ms, nil
}

// isReportHeader: a row naming the project (id or name) and at least one report column.
func isReportHeader(cells []string) bool {
	seen := map[string]bool{}
	for _, c := range cells {
		if d, _, _, _ := lookupReportHeader(c); d != nil {
			seen[d.field] = true
		}
	}
	return (seen[FieldID] || seen[FieldName]) && (seen[ReportFieldMonthYuan] || seen[ReportFieldProgress] ||
		seen[ReportFieldProgressText] || seen[ReportFieldProblemsText])
}

// buildColumns recognises the header's columns.
func (ms *MonthSheet) buildColumns(head []string, sheetMoney string) []reportColumn {
	var cols []reportColumn
	seen := map[string]Column{}
	for c, raw := range head {
		text := strings.TrimSpace(raw)
		if text == "" {
			continue
		}
		letter := columnLetter(c + 1)
		d, unit, ignored, cumulative := lookupReportHeader(text)
		switch {
		case cumulative:
			ms.Notes = append(ms.Notes, Note{
				Message:   fmt.Sprintf("「%s」（%s 列）是累计数，不导入：累计完成投资由各月的“本月完成投资”累加得出", text, letter),
				MessageEn: fmt.Sprintf("column %s 「%s」 is a cumulative figure and is not imported: the year's total is the sum of the months' 本月完成投资", letter, text)})
			continue
		case ignored:
			continue
		case d == nil:
			ms.Unmatched = append(ms.Unmatched, Column{Letter: letter, Header: text, index: c})
			ms.Notes = append(ms.Notes, Note{Message: fmt.Sprintf("「%s」（%s 列）不是月报的列，已忽略", text, letter),
				MessageEn: fmt.Sprintf("column %s 「%s」 is not a column of the monthly report and was ignored", letter, text)})
			continue
		}
		switch d.field {
		case ReportFieldMonthYuan:
			if unit == "" || unit == UnitPercent {
				unit = sheetMoney
			}
			if unit == "" {
				unit = defaultMoneyUnit
			}
		case ReportFieldProgress:
			if unit != UnitPercent {
				unit = ""
			}
		default:
			unit = ""
		}
		col := Column{Letter: letter, Header: text, Field: d.field, Unit: unit, index: c}
		if first, dup := seen[d.field]; dup {
			ms.Unmatched = append(ms.Unmatched, Column{Letter: letter, Header: text, index: c})
			ms.Notes = append(ms.Notes, Note{
				Message: fmt.Sprintf("「%s」（%s 列）与「%s」（%s 列）是同一字段，只读取 %s 列", text, letter,
					first.Header, first.Letter, first.Letter),
				MessageEn: fmt.Sprintf("column %s 「%s」 holds the same field as column %s 「%s」; only column %s is read",
					letter, text, first.Letter, first.Header, first.Letter)})
			continue
		}
		seen[d.field] = col
		ms.Columns = append(ms.Columns, col)
		cols = append(cols, reportColumn{Column: col, def: d})
	}
	return cols
}

// reportRows reads the data rows of one month sheet.
type reportRows struct {
	ms        *MonthSheet
	cols      []reportColumn
	lim       Limits
	rr        *reportReader
	blankRun  int
	unfilled  int   // rows naming a project with no report cell filled
	skipped   int   // total and heading rows
	ambiguous []int // rows whose 形象进度 is a bare 1
	over1     bool
}

func (r *reportRows) row(cells []string, line int) (done bool, err error) {
	var id, name string
	filled, reportFilled := 0, 0
	for _, c := range r.cols {
		v := cell(cells, c.index)
		if v == "" {
			continue
		}
		filled++
		switch c.Field {
		case FieldID:
			id = v
		case FieldName:
			name = v
		default:
			reportFilled++
		}
	}
	if filled == 0 {
		if r.blankRun++; r.blankRun >= MaxBlankRun {
			r.ms.Notes = append(r.ms.Notes, Note{Line: line,
				Message:   fmt.Sprintf("第 %d 行起连续 %d 行为空，停止读取", line-MaxBlankRun+1, MaxBlankRun),
				MessageEn: fmt.Sprintf("%d blank rows in a row from row %d: reading stopped there", MaxBlankRun, line-MaxBlankRun+1)})
			return true, nil
		}
		return false, nil
	}
	r.blankRun = 0
	for _, v := range []string{id, name} {
		if len(v) <= 24 {
			switch labelKey(v) {
			case "合计", "总计", "小计", "共计", "全部合计":
				r.skipped++
				return false, nil
			}
		}
	}
	if reportFilled == 0 {
		if id == "" && isGroupHeading(name) {
			r.skipped++
		} else {
			r.unfilled++
		}
		return false, nil
	}
	if r.rr.rows++; r.rr.rows > r.lim.MaxRows {
		return true, fileErr(ErrTooManyRows, "月报数据超过 %d 行，请分多个文件导入", "more than %d rows of reports; split the file", r.lim.MaxRows)
	}
	r.ms.Rows = append(r.ms.Rows, r.parse(cells, line))
	return false, nil
}

// parse reads one data row's cells.
func (r *reportRows) parse(cells []string, line int) ReportLine {
	l := ReportLine{Line: line}
	for _, c := range r.cols {
		raw := cell(cells, c.index)
		if raw == "" {
			continue
		}
		var verr *valueError
		switch c.Field {
		case FieldID, FieldName:
			var v string
			var ok bool
			if v, ok, verr = parseText(c.Field, raw); ok {
				if c.Field == FieldID {
					l.ID = v
				} else {
					l.Name = v
				}
			}
		case ReportFieldMonthYuan:
			var v int64
			var ok bool
			if v, ok, verr = parseMoney(raw, c.Unit); ok {
				l.MonthYuan = &v
			}
		case ReportFieldProgress:
			var pv progressValue
			if pv, verr = parseProgress(raw, c.Unit == UnitPercent); pv.ok {
				l.Progress = &pv.v
				if pv.ambiguous {
					r.ambiguous = append(r.ambiguous, len(r.ms.Rows))
				}
				r.over1 = r.over1 || pv.whole
			}
		case ReportFieldProgressText, ReportFieldProblemsText:
			var v string
			var ok bool
			if v, ok, verr = parseText(FieldNote, raw); ok {
				if c.Field == ReportFieldProgressText {
					l.ProgressText = &v
				} else {
					l.ProblemsText = &v
				}
			}
		}
		if verr != nil {
			l.Errors = append(l.Errors, CellError{Column: c.Header, Letter: c.Letter, Field: c.Field,
				Message: "「" + c.Header + "」：" + verr.zh, MessageEn: c.Header + ": " + verr.en})
		}
	}
	if l.ID == "" && l.Name == "" && !r.hasError(l, FieldID, FieldName) {
		c := r.cols[0]
		for _, k := range r.cols {
			if k.Field == FieldID || k.Field == FieldName {
				c = k
				break
			}
		}
		l.Errors = append(l.Errors, CellError{Column: c.Header, Letter: c.Letter, Field: c.Field,
			Message: "「" + c.Header + "」：没有填写项目", MessageEn: c.Header + ": names no project"})
	}
	return l
}

func (r *reportRows) hasError(l ReportLine, fields ...string) bool {
	for _, e := range l.Errors {
		for _, f := range fields {
			if e.Field == f {
				return true
			}
		}
	}
	return false
}

// finish decides bare 1s in 形象进度 (as Read does) and notes the rows read past.
func (r *reportRows) finish() {
	if !r.over1 {
		for _, i := range r.ambiguous {
			v := 100
			r.ms.Rows[i].Progress = &v
		}
	}
	if r.unfilled > 0 {
		r.ms.Notes = append(r.ms.Notes, Note{Message: fmt.Sprintf("%d 行只有项目、没有填写月报内容，未导入", r.unfilled),
			MessageEn: fmt.Sprintf("%d rows name a project but report nothing and were not imported", r.unfilled)})
	}
	if r.skipped > 0 {
		r.ms.Notes = append(r.ms.Notes, Note{Message: fmt.Sprintf("%d 行合计或分组标题行已跳过", r.skipped),
			MessageEn: fmt.Sprintf("%d total or heading rows were skipped", r.skipped)})
	}
}

// ---- Writing ----

// reportStatusLabel is a report status as offices say it.
func reportStatusLabel(s store.ReportStatus, lang string) string {
	zh, en := map[store.ReportStatus]string{store.ReportSubmitted: "已报", store.ReportReturned: "退回",
		store.ReportApproved: "已审核"}[s], map[store.ReportStatus]string{store.ReportSubmitted: "submitted",
		store.ReportReturned: "returned", store.ReportApproved: "approved"}[s]
	if zh == "" {
		zh, en = "未报", "missing"
	}
	return tr(lang, zh, en)
}

// levelLabel is a warning level as offices say it.
func levelLabel(l store.WarningLevel, lang string) string {
	switch l {
	case store.LevelRed:
		return tr(lang, "红", "red")
	case store.LevelYellow:
		return tr(lang, "黄", "yellow")
	}
	return tr(lang, "绿", "green")
}

func tr(lang, zh, en string) string {
	if lang == "en" {
		return en
	}
	return zh
}

// bulletinStyles are the bulletin's cell styles.
type bulletinStyles struct {
	*styles
	title, subtitle, label, pct, pct1, points, count, total, totalMoney, totalPct int
	level                                                                         map[store.WarningLevel]int
}

func newBulletinStyles(f *excelize.File) (*bulletinStyles, error) {
	base, err := newStyles(f)
	if err != nil {
		return nil, err
	}
	s := &bulletinStyles{styles: base, level: map[store.WarningLevel]int{}}
	pct0, pct1, points, money := "0%", "0.0%", "0.0", "#,##0.00"
	bold := &excelize.Font{Bold: true}
	totalFill := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"F3F4F6"}}
	for _, def := range []struct {
		dst   *int
		style *excelize.Style
	}{
		{&s.title, &excelize.Style{Font: &excelize.Font{Bold: true, Size: 16},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"}}},
		{&s.subtitle, &excelize.Style{Font: &excelize.Font{Color: "4B5563"}, Alignment: &excelize.Alignment{Horizontal: "center"}}},
		{&s.label, &excelize.Style{Font: bold}},
		{&s.pct, &excelize.Style{CustomNumFmt: &pct0}},
		{&s.pct1, &excelize.Style{CustomNumFmt: &pct1}},
		{&s.points, &excelize.Style{CustomNumFmt: &points}},
		{&s.count, &excelize.Style{NumFmt: 1}},
		{&s.total, &excelize.Style{Font: bold, Fill: totalFill}},
		{&s.totalMoney, &excelize.Style{Font: bold, Fill: totalFill, CustomNumFmt: &money}},
		{&s.totalPct, &excelize.Style{Font: bold, Fill: totalFill, CustomNumFmt: &pct1}},
	} {
		if *def.dst, err = f.NewStyle(def.style); err != nil {
			return nil, err
		}
	}
	for l, c := range map[store.WarningLevel]string{store.LevelRed: "F8B4B4", store.LevelYellow: "FDE68A", store.LevelGreen: "BBF7D0"} {
		if s.level[l], err = f.NewStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{c}},
			Alignment: &excelize.Alignment{Horizontal: "center"}}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// rate is num/den, or nil (an empty cell) when den is 0.
func rate(num, den int64) any {
	if den <= 0 {
		return nil
	}
	return float64(num) / float64(den)
}

// BulletinTitle is the bulletin's title: "长春净月高新区重点项目建设情况通报（截至2022年10月）".
func BulletinTitle(m store.Month, lang string) string {
	if lang == "en" {
		return fmt.Sprintf("Key projects of %s: progress report (as of %s)", "Changchun Jingyue High-tech Zone", m)
	}
	return Zone + "重点项目建设情况通报（截至" + MonthLabel(m) + "）"
}

// unitLine is one responsible unit's line of the bulletin.
type unitLine struct {
	department                             string
	projects, submitted, missing, returned int
	approved, red, yellow                  int
	planYuan, completedYuan, monthYuan     int64
	status                                 store.ReportStatus
	hasReportCounts                        bool
}

// WriteBulletinXLSX writes a month's bulletin (通报) as offices lay it out: a sheet 通报 with
// the merged title "长春净月高新区重点项目建设情况通报（截至2022年10月）", whether the figures are
// frozen, and the totals (projects, 红/黄/绿, investment against 序时进度, 开复工率, 竣工率, the
// report status per unit); a sheet 项目明细 with one row per project of view.Projects (in
// their order) and a total; a sheet 责任单位 with one row per unit. reports gives each
// project's 存在问题 (the month's report). Amounts are numbers in 万元 shown with two
// decimals, rates numbers shown as percentages, headers frozen. lang "en" writes English
// labels, anything else Chinese.
func WriteBulletinXLSX(w io.Writer, view *store.MonthView, reports []store.ReportRow, lang string) error {
	f := excelize.NewFile()
	defer f.Close()
	sheets := []string{tr(lang, BulletinSheet, "Bulletin"), tr(lang, BulletinProjectsSheet, "Projects"), tr(lang, BulletinUnitsSheet, "Units")}
	if err := f.SetSheetName("Sheet1", sheets[0]); err != nil {
		return err
	}
	for _, s := range sheets[1:] {
		if _, err := f.NewSheet(s); err != nil {
			return err
		}
	}
	st, err := newBulletinStyles(f)
	if err != nil {
		return err
	}
	byID := map[string]*store.ReportRow{}
	for i := range reports {
		byID[reports[i].Project.ID] = &reports[i]
	}
	units := bulletinUnits(view)
	if err := writeBulletinTotals(f, sheets[0], st, view, units, lang); err != nil {
		return err
	}
	if err := writeBulletinProjects(f, sheets[1], st, view, byID, lang); err != nil {
		return err
	}
	if err := writeBulletinUnits(f, sheets[2], st, view, units, lang); err != nil {
		return err
	}
	return writeTo(f, w)
}

// bulletinUnits totals the projects per unit, with the units' report counts, in the order of
// view.Units and then of the departments' names.
func bulletinUnits(view *store.MonthView) []*unitLine {
	by := map[string]*unitLine{}
	var order []string
	get := func(d string) *unitLine {
		u := by[d]
		if u == nil {
			u = &unitLine{department: d, status: store.ReportMissing}
			by[d] = u
			order = append(order, d)
		}
		return u
	}
	for _, ur := range view.Units {
		u := get(ur.Department)
		u.submitted, u.missing, u.returned, u.approved, u.status = ur.Submitted, ur.Missing, ur.Returned, ur.Approved, ur.Status
		u.hasReportCounts = true
	}
	for i := range view.Projects {
		p := &view.Projects[i]
		u := get(p.Department)
		u.projects++
		u.planYuan += p.AnnualPlanYuan
		u.completedYuan += p.InvestmentCompletedYuan
		u.monthYuan += p.MonthYuan
		switch p.Warning.Level {
		case store.LevelRed:
			u.red++
		case store.LevelYellow:
			u.yellow++
		}
	}
	out := make([]*unitLine, 0, len(order))
	for _, d := range order {
		u := by[d]
		if !u.hasReportCounts {
			// No unit line from the store: count the projects' report statuses.
			for i := range view.Projects {
				if p := &view.Projects[i]; p.Department == d {
					switch p.Report {
					case store.ReportSubmitted:
						u.submitted++
					case store.ReportReturned:
						u.returned++
					case store.ReportApproved:
						u.approved++
					default:
						u.missing++
					}
				}
			}
			u.status = unitStatusOf(u)
		}
		out = append(out, u)
	}
	return out
}

func unitStatusOf(u *unitLine) store.ReportStatus {
	switch {
	case u.missing > 0:
		return store.ReportMissing
	case u.returned > 0:
		return store.ReportReturned
	case u.approved == u.projects && u.projects > 0:
		return store.ReportApproved
	}
	return store.ReportSubmitted
}

// styled is a value with a style.
func styled(style int, v any) excelize.Cell { return excelize.Cell{StyleID: style, Value: v} }

// sheetOut streams one sheet: the column widths and the frozen pane first, then the rows in
// order from row 1.
type sheetOut struct {
	f    *excelize.File
	name string
	sw   *excelize.StreamWriter
	st   *bulletinStyles
	cols int
	next int // the row the next call writes
}

// newSheetOut starts a sheet of len(widths) columns whose rows up to freezeRow stay in view.
func newSheetOut(f *excelize.File, name string, st *bulletinStyles, widths []float64, freezeRow int) (*sheetOut, error) {
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	if err := setWidths(sw, widths); err != nil {
		return nil, err
	}
	if freezeRow > 0 {
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: freezeRow, TopLeftCell: "A" + strconv.Itoa(freezeRow+1),
			ActivePane: "bottomLeft"}); err != nil {
			return nil, err
		}
	}
	return &sheetOut{f: f, name: name, sw: sw, st: st, cols: len(widths), next: 1}, nil
}

// row writes the next row.
func (o *sheetOut) row(values []any, opts ...excelize.RowOpts) error {
	err := o.sw.SetRow("A"+strconv.Itoa(o.next), values, opts...)
	o.next++
	return err
}

// merged writes a row of one value merged over every column.
func (o *sheetOut) merged(style int, v any, height float64) error {
	r := o.next
	if err := o.row([]any{styled(style, v)}, excelize.RowOpts{Height: height}); err != nil {
		return err
	}
	return o.sw.MergeCell("A"+strconv.Itoa(r), columnLetter(o.cols)+strconv.Itoa(r))
}

// title writes the merged title and, if any, a merged subtitle below it.
func (o *sheetOut) title(title, subtitle string) error {
	if err := o.merged(o.st.title, title, 30); err != nil {
		return err
	}
	if subtitle == "" {
		return nil
	}
	return o.merged(o.st.subtitle, subtitle, 18)
}

// header writes a styled header row.
func (o *sheetOut) header(heads []string) error {
	row := make([]any, len(heads))
	for i, h := range heads {
		row[i] = styled(o.st.header, h)
	}
	return o.row(row, excelize.RowOpts{Height: 30})
}

// subtitleOf says what the figures are: frozen at a close, or live.
func subtitleOf(view *store.MonthView, lang string) string {
	if view.Status == store.MonthClosed {
		at := ""
		if view.ClosedAt != nil {
			at = view.ClosedAt.In(store.ZoneTime).Format("2006-01-02")
		}
		return tr(lang, fmt.Sprintf("已关账（第 %d 版，%s 关账）· 金额单位：万元", view.Snapshot, at),
			fmt.Sprintf("closed (snapshot %d, %s) · amounts in 万元 (10,000 yuan)", view.Snapshot, at))
	}
	return tr(lang, "未关账（实时数据）· 金额单位：万元", "open (live figures) · amounts in 万元 (10,000 yuan)")
}

// BulletinTotals are the figures of the bulletin's first sheet (通报), over view.Projects:
// the XLSX and the printed bulletin both take them from here. A rate without a denominator
// is nil; the zone's figures (序时进度, 开复工率, 竣工率) are nil without view.Summary (a
// department's bulletin) or when nothing is due.
type BulletinTotals struct {
	Projects      int   `json:"projects"`
	Red           int   `json:"red"`
	Yellow        int   `json:"yellow"`
	Green         int   `json:"green"`
	PlanYuan      int64 `json:"planYuan"`      // 年度计划投资
	MonthYuan     int64 `json:"monthYuan"`     // 本月完成投资
	CompletedYuan int64 `json:"completedYuan"` // 累计完成投资
	// InvestmentRate is 投资完成率: CompletedYuan / PlanYuan.
	InvestmentRate *float64 `json:"investmentRate"`
	ElapsedShare   *float64 `json:"elapsedShare"` // 序时进度
	ElapsedMonths  int      `json:"elapsedMonths"`
	// GapPoints is (InvestmentRate − ElapsedShare) × 100: points ahead of 序时进度 (behind when negative).
	GapPoints *float64 `json:"gapPoints"`
	StartRate *float64 `json:"startRate"` // 开复工率 = Started / StartDue
	Started   int      `json:"started"`
	StartDue  int      `json:"startDue"`
	// CompletionRate is 竣工率 = Completed / CompletionDue.
	CompletionRate *float64 `json:"completionRate"`
	Completed      int      `json:"completed"`
	CompletionDue  int      `json:"completionDue"`
}

// BulletinTotalsOf counts the bulletin's totals.
func BulletinTotalsOf(view *store.MonthView) BulletinTotals {
	var t BulletinTotals
	for i := range view.Projects {
		p := &view.Projects[i]
		t.PlanYuan += p.AnnualPlanYuan
		t.CompletedYuan += p.InvestmentCompletedYuan
		t.MonthYuan += p.MonthYuan
		switch p.Warning.Level {
		case store.LevelRed:
			t.Red++
		case store.LevelYellow:
			t.Yellow++
		default:
			t.Green++
		}
	}
	t.Projects = len(view.Projects)
	ptr := func(f float64) *float64 { return &f }
	if t.PlanYuan > 0 {
		t.InvestmentRate = ptr(float64(t.CompletedYuan) / float64(t.PlanYuan))
	}
	if s := view.Summary; s != nil {
		t.ElapsedShare, t.ElapsedMonths = ptr(s.ElapsedShare), s.ElapsedMonths
		if t.InvestmentRate != nil {
			t.GapPoints = ptr((*t.InvestmentRate - s.ElapsedShare) * 100)
		}
		if s.Planned.StartDue > 0 {
			t.StartRate, t.Started, t.StartDue = ptr(s.Planned.StartRate), s.Planned.Started, s.Planned.StartDue
		}
		if s.Completion.Due > 0 {
			t.CompletionRate, t.Completed, t.CompletionDue = ptr(s.CompletionRate), s.Completion.Completed, s.Completion.Due
		}
	}
	return t
}

// BulletinUnit is one responsible unit's line of the bulletin (责任单位).
type BulletinUnit struct {
	Department    string             `json:"department"`
	Projects      int                `json:"projects"`
	Submitted     int                `json:"submitted"`
	Missing       int                `json:"missing"`
	Returned      int                `json:"returned"`
	Approved      int                `json:"approved"`
	Status        store.ReportStatus `json:"status"`
	PlanYuan      int64              `json:"planYuan"`
	MonthYuan     int64              `json:"monthYuan"`
	CompletedYuan int64              `json:"completedYuan"`
	// InvestmentRate is the unit's 投资完成率, nil without a plan.
	InvestmentRate *float64 `json:"investmentRate"`
	Red            int      `json:"red"`
	Yellow         int      `json:"yellow"`
}

// BulletinUnits are the lines of the bulletin's sheet 责任单位, in its order.
func BulletinUnits(view *store.MonthView) []BulletinUnit {
	lines := bulletinUnits(view)
	out := make([]BulletinUnit, 0, len(lines))
	for _, u := range lines {
		b := BulletinUnit{Department: u.department, Projects: u.projects, Submitted: u.submitted, Missing: u.missing,
			Returned: u.returned, Approved: u.approved, Status: u.status, PlanYuan: u.planYuan, MonthYuan: u.monthYuan,
			CompletedYuan: u.completedYuan, Red: u.red, Yellow: u.yellow}
		if r, ok := rate(u.completedYuan, u.planYuan).(float64); ok {
			b.InvestmentRate = &r
		}
		out = append(out, b)
	}
	return out
}

func writeBulletinTotals(f *excelize.File, sheet string, st *bulletinStyles, view *store.MonthView, units []*unitLine, lang string) error {
	o, err := newSheetOut(f, sheet, st, []float64{26, 16, 30, 10, 10, 10, 12}, 4)
	if err != nil {
		return err
	}
	if err := o.title(BulletinTitle(view.Month, lang), subtitleOf(view, lang)); err != nil {
		return err
	}
	t := BulletinTotalsOf(view)
	type line struct {
		label string
		value any
		style int
		note  string
	}
	orNil := func(f *float64) any {
		if f == nil {
			return nil
		}
		return *f
	}
	lines := []line{
		{tr(lang, "项目数", "Projects"), t.Projects, st.count, ""},
		{tr(lang, "红色预警", "Red"), t.Red, st.count, ""},
		{tr(lang, "黄色预警", "Yellow"), t.Yellow, st.count, ""},
		{tr(lang, "绿色", "Green"), t.Green, st.count, ""},
		{tr(lang, "年度计划投资（万元）", "Annual plan (万元)"), wan(t.PlanYuan), st.money, ""},
		{tr(lang, "本月完成投资（万元）", "Completed this month (万元)"), wan(t.MonthYuan), st.money, ""},
		{tr(lang, "累计完成投资（万元）", "Completed this year (万元)"), wan(t.CompletedYuan), st.money, ""},
		{tr(lang, "投资完成率", "Investment completion rate"), orNil(t.InvestmentRate), st.pct1, ""},
	}
	if t.ElapsedShare != nil {
		lines = append(lines, line{tr(lang, "序时进度", "Elapsed share of the year"), *t.ElapsedShare, st.pct1,
			tr(lang, fmt.Sprintf("%d / 12 个月", t.ElapsedMonths), fmt.Sprintf("%d of 12 months", t.ElapsedMonths))})
	}
	if g := t.GapPoints; g != nil {
		note := tr(lang, "超过序时进度", "ahead of the year's pace")
		if *g < 0 {
			note = tr(lang, "落后于序时进度", "behind the year's pace")
		}
		lines = append(lines, line{tr(lang, "与序时进度相差（百分点）", "Against the pace (points)"), *g, st.points, note})
	}
	if t.StartRate != nil {
		lines = append(lines, line{tr(lang, "开复工率", "Start rate (开复工率)"), *t.StartRate, st.pct1,
			tr(lang, fmt.Sprintf("已开复工 %d 个 / 计划开复工 %d 个", t.Started, t.StartDue),
				fmt.Sprintf("%d started of %d due", t.Started, t.StartDue))})
	}
	if t.CompletionRate != nil {
		lines = append(lines, line{tr(lang, "竣工率", "Completion rate (竣工率)"), *t.CompletionRate, st.pct1,
			tr(lang, fmt.Sprintf("已竣工 %d 个 / 计划竣工 %d 个", t.Completed, t.CompletionDue),
				fmt.Sprintf("%d completed of %d due", t.Completed, t.CompletionDue))})
	}
	o.next++ // a blank row under the titles
	if err := o.header([]string{tr(lang, "指标", "Figure"), tr(lang, "数值", "Value"), tr(lang, "说明", "Note")}); err != nil {
		return err
	}
	for _, l := range lines {
		if err := o.row([]any{styled(st.label, l.label), styled(l.style, l.value), text(l.note)}); err != nil {
			return err
		}
	}
	o.next++
	if err := o.row([]any{styled(st.label, tr(lang, "各责任单位月报情况", "Reports by unit"))}); err != nil {
		return err
	}
	if err := o.header([]string{tr(lang, "责任单位", "Unit"), tr(lang, "项目数", "Projects"), tr(lang, "月报状态", "Status"),
		tr(lang, "已报", "Submitted"), tr(lang, "未报", "Missing"), tr(lang, "退回", "Returned"), tr(lang, "已审核", "Approved")}); err != nil {
		return err
	}
	for _, u := range units {
		if err := o.row([]any{u.department, u.projects, reportStatusLabel(u.status, lang),
			u.submitted, u.missing, u.returned, u.approved}); err != nil {
			return err
		}
	}
	return o.sw.Flush()
}

// bulletinProjectHeads are the columns of 项目明细.
func bulletinProjectHeads(lang string) []string {
	if lang == "en" {
		return []string{"No.", "Name", "Unit", "Leader", "Stage", "Total investment (万元)", "Annual plan (万元)",
			"This month (万元)", "This year (万元)", "Completion rate", "Progress", "Warning", "Why", "Report", "Problems"}
	}
	return []string{"序号", "项目名称", "责任单位", "包保领导", "建设阶段", "总投资（万元）", "年度计划（万元）", "本月完成（万元）",
		"累计完成（万元）", "投资完成率", "形象进度", "预警", "预警原因", "月报状态", "存在问题"}
}

func writeBulletinProjects(f *excelize.File, sheet string, st *bulletinStyles, view *store.MonthView, byID map[string]*store.ReportRow, lang string) error {
	heads := bulletinProjectHeads(lang)
	o, err := newSheetOut(f, sheet, st, []float64{6, 36, 16, 10, 8, 14, 14, 14, 14, 11, 9, 6, 40, 9, 40}, 3)
	if err != nil {
		return err
	}
	if err := o.title(BulletinTitle(view.Month, lang), subtitleOf(view, lang)); err != nil {
		return err
	}
	if err := o.header(heads); err != nil {
		return err
	}
	var inv, plan, month, done int64
	for i := range view.Projects {
		p := &view.Projects[i]
		lv := p.Warning.Level
		if lv == "" {
			lv = store.LevelGreen
		}
		var reasons []string
		for _, re := range p.Warning.Reasons {
			reasons = append(reasons, re.Text(lang))
		}
		problems := ""
		if rr := byID[p.ID]; rr != nil && rr.Report != nil {
			problems = rr.Report.ProblemsText
		}
		if p.OpenProblems > 0 {
			extra := tr(lang, fmt.Sprintf("问题台账中有 %d 个未解决问题", p.OpenProblems), fmt.Sprintf("%d open problems in the register", p.OpenProblems))
			if problems != "" {
				problems += "\n"
			}
			problems += extra
		}
		stage := StageLabel(p.Stage)
		if lang == "en" {
			stage = string(p.Stage)
		}
		row := []any{i + 1, text(p.Name), text(p.Department), text(p.Leader), text(stage),
			styled(st.money, wan(p.InvestmentYuan)), styled(st.money, wan(p.AnnualPlanYuan)), styled(st.money, wan(p.MonthYuan)),
			styled(st.money, wan(p.InvestmentCompletedYuan)), styled(st.pct1, rate(p.InvestmentCompletedYuan, p.AnnualPlanYuan)),
			styled(st.pct, float64(p.Progress)/100), styled(st.level[lv], levelLabel(lv, lang)),
			styled(st.wrap, text(strings.Join(reasons, tr(lang, "；", "; ")))), reportStatusLabel(p.Report, lang),
			styled(st.wrap, text(problems))}
		if err := o.row(row); err != nil {
			return err
		}
		inv += p.InvestmentYuan
		plan += p.AnnualPlanYuan
		month += p.MonthYuan
		done += p.InvestmentCompletedYuan
	}
	last := o.next - 1
	total := []any{styled(st.total, nil), styled(st.total, tr(lang, "合计", "Total")), styled(st.total, nil), styled(st.total, nil),
		styled(st.total, nil), styled(st.totalMoney, wan(inv)), styled(st.totalMoney, wan(plan)), styled(st.totalMoney, wan(month)),
		styled(st.totalMoney, wan(done)), styled(st.totalPct, rate(done, plan))}
	if err := o.row(total); err != nil {
		return err
	}
	if err := f.AutoFilter(sheet, fmt.Sprintf("A3:%s%d", columnLetter(len(heads)), max(last, 4)), nil); err != nil {
		return err
	}
	return o.sw.Flush()
}

func writeBulletinUnits(f *excelize.File, sheet string, st *bulletinStyles, view *store.MonthView, units []*unitLine, lang string) error {
	heads := []string{"序号", "责任单位", "项目数", "已报", "未报", "退回", "已审核", "月报状态", "年度计划（万元）",
		"本月完成（万元）", "累计完成（万元）", "投资完成率", "红色预警", "黄色预警"}
	if lang == "en" {
		heads = []string{"No.", "Unit", "Projects", "Submitted", "Missing", "Returned", "Approved", "Status",
			"Annual plan (万元)", "This month (万元)", "This year (万元)", "Completion rate", "Red", "Yellow"}
	}
	o, err := newSheetOut(f, sheet, st, []float64{6, 20, 8, 8, 8, 8, 8, 10, 16, 16, 16, 11, 9, 9}, 3)
	if err != nil {
		return err
	}
	if err := o.title(BulletinTitle(view.Month, lang), subtitleOf(view, lang)); err != nil {
		return err
	}
	if err := o.header(heads); err != nil {
		return err
	}
	var t unitLine
	for i, u := range units {
		row := []any{i + 1, u.department, u.projects, u.submitted, u.missing, u.returned, u.approved,
			reportStatusLabel(u.status, lang), styled(st.money, wan(u.planYuan)), styled(st.money, wan(u.monthYuan)),
			styled(st.money, wan(u.completedYuan)), styled(st.pct1, rate(u.completedYuan, u.planYuan)), u.red, u.yellow}
		if err := o.row(row); err != nil {
			return err
		}
		t.projects += u.projects
		t.submitted += u.submitted
		t.missing += u.missing
		t.returned += u.returned
		t.approved += u.approved
		t.planYuan += u.planYuan
		t.monthYuan += u.monthYuan
		t.completedYuan += u.completedYuan
		t.red += u.red
		t.yellow += u.yellow
	}
	total := []any{styled(st.total, nil), styled(st.total, tr(lang, "合计", "Total")), styled(st.total, t.projects),
		styled(st.total, t.submitted), styled(st.total, t.missing), styled(st.total, t.returned), styled(st.total, t.approved),
		styled(st.total, nil), styled(st.totalMoney, wan(t.planYuan)), styled(st.totalMoney, wan(t.monthYuan)),
		styled(st.totalMoney, wan(t.completedYuan)), styled(st.totalPct, rate(t.completedYuan, t.planYuan)),
		styled(st.total, t.red), styled(st.total, t.yellow)}
	if err := o.row(total); err != nil {
		return err
	}
	return o.sw.Flush()
}

// ---- The problems register ----

// problemHeads are the columns of the problems export.
var problemHeads = []string{"问题编号", "项目编号", "项目名称", "项目责任单位", "问题描述", "需解决单位", "协调领导", "状态",
	"完成时限", "是否逾期", "提出人", "提出时间", "解决情况", "解决人", "解决时间", "最后修改"}

// ProblemStatusLabel is a problem's status as offices say it.
func ProblemStatusLabel(s store.ProblemStatus) string {
	switch s {
	case store.ProblemPending:
		return "待协调"
	case store.ProblemCoordinating:
		return "协调中"
	case store.ProblemResolved:
		return "已解决"
	}
	return string(s)
}

// problemRecord gives one problem's cells as text (times in the zone's time) and its
// times as values for XLSX.
func problemRecord(p *store.Problem, today store.Date) []string {
	overdue := "否"
	if p.Overdue(today) {
		overdue = "是"
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(store.ZoneTime).Format("2006-01-02 15:04")
	}
	resolvedAt := ""
	if p.ResolvedAt != nil {
		resolvedAt = at(*p.ResolvedAt)
	}
	return []string{p.ID, p.ProjectID, p.ProjectName, p.Department, p.Description, p.Unit, p.Leader, ProblemStatusLabel(p.Status),
		string(p.Due), overdue, actor(p.RaisedBy), at(p.RaisedAt), p.Resolution, actor(p.ResolvedBy), resolvedAt, at(p.UpdatedAt)}
}

// WriteProblemsXLSX writes the problems register (问题台账), one row per problem in the order
// given; 是否逾期 is judged on day today. Dates are dates, times date-times in the zone's
// time; the header is frozen and filtered, overdue problems marked.
func WriteProblemsXLSX(w io.Writer, problems []store.Problem, today store.Date) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", ProblemsSheet); err != nil {
		return err
	}
	st, err := newBulletinStyles(f)
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(ProblemsSheet)
	if err != nil {
		return err
	}
	for _, c := range []int{9} {
		if err := sw.SetColStyle(c, c, st.date); err != nil {
			return err
		}
	}
	for _, c := range []int{12, 15, 16} {
		if err := sw.SetColStyle(c, c, st.dateTime); err != nil {
			return err
		}
	}
	if err := setWidths(sw, []float64{16, 12, 30, 16, 40, 16, 10, 8, 12, 8, 10, 18, 30, 10, 18, 18}); err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	head := make([]any, len(problemHeads))
	for i, h := range problemHeads {
		head[i] = excelize.Cell{StyleID: st.header, Value: h}
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 24}); err != nil {
		return err
	}
	zoned := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return localTime(t.In(store.ZoneTime))
	}
	for i := range problems {
		p := &problems[i]
		rec := problemRecord(p, today)
		row := make([]any, len(rec))
		for j, v := range rec {
			row[j] = text(v)
		}
		row[8] = dateCell(p.Due)
		row[11] = zoned(p.RaisedAt)
		row[14] = nil
		if p.ResolvedAt != nil {
			row[14] = zoned(*p.ResolvedAt)
		}
		row[15] = zoned(p.UpdatedAt)
		if p.Overdue(today) {
			row[9] = excelize.Cell{StyleID: st.level[store.LevelYellow], Value: "是"}
		}
		if err := sw.SetRow("A"+strconv.Itoa(i+2), row); err != nil {
			return err
		}
	}
	if err := f.AutoFilter(ProblemsSheet, fmt.Sprintf("A1:%s%d", columnLetter(len(problemHeads)), max(len(problems)+1, 2)), nil); err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return writeTo(f, w)
}

// WriteProblemsCSV is WriteProblemsXLSX as CSV (UTF-8 with BOM, CRLF, times YYYY-MM-DD HH:MM
// in the zone's time, text cells neutralised as in WriteProjectsCSV).
func WriteProblemsCSV(w io.Writer, problems []store.Problem, today store.Date) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(problemHeads); err != nil {
		return err
	}
	for i := range problems {
		rec := problemRecord(&problems[i], today)
		for j := range rec {
			rec[j] = safe(rec[j])
		}
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

// ---- The report template ----

// reportTemplateHeads are the template's columns; the read-only ones (责任单位, 年度计划投资,
// 上月累计完成, 月报状态, 退回原因) are read past by ReadReports.
var reportTemplateHeads = []string{"序号", "项目编号", "项目名称", "责任单位", "年度计划投资（万元）", "上月累计完成（万元）",
	"本月完成投资（万元）", "形象进度（%）", "进展情况", "存在问题", "月报状态", "退回原因"}

// The template's columns the unit fills in (1-based).
const (
	tplMonthCol    = 7
	tplProgressCol = 8
)

var reportGuideNotes = []string{
	"1. 每个工作表是一个月的月报，工作表名称就是月份（如“2022年10月”“2022-10”）；可以在同一个文件中放几个月，每月一个工作表。",
	"2. 只填写“本月完成投资（万元）”“形象进度（%）”“进展情况”“存在问题”四列；灰色的列只供参考，导入时不读取。",
	"3. 本月完成投资是当月完成的投资额，不是累计数：累计完成投资由各月相加得出。金额单位为万元。",
	"4. 形象进度填 0 到 100 的数字（或百分比）。",
	"5. 一行按“项目编号”对应项目（没有编号时按项目名称）；没有填写任何月报内容的行不导入。",
	"6. 已填报的月报再次导入会更新为新的内容并重新提交；已审核的月报和已关账月份不能再修改。",
	"7. 导入前会先显示每个工作表、每一行将要新建、更新或不变的月报以及错误；有任何错误时整个文件都不会写入。",
}

// WriteReportTemplate writes the reports template of a month: one sheet named for the month
// (“2022年10月”) with a merged title, a frozen header and one row per project of rows (a
// unit's list), pre-filled with the month's report where there is one, read-only columns in
// grey, checks on the figures; and a sheet 填写说明.
func WriteReportTemplate(w io.Writer, month store.Month, rows []store.ReportRow) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := MonthLabel(month)
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	st, err := newBulletinStyles(f)
	if err != nil {
		return err
	}
	grey, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "6B7280"}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"F3F4F6"}}})
	if err != nil {
		return err
	}
	greyMoney, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "6B7280"}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"F3F4F6"}},
		CustomNumFmt: func() *string { s := "#,##0.00"; return &s }()})
	if err != nil {
		return err
	}
	departments := map[string]bool{}
	for _, r := range rows {
		departments[r.Project.Department] = true
	}
	title := Zone + "重点项目月报（" + MonthLabel(month) + "）"
	if len(departments) == 1 {
		title += " · " + rows[0].Project.Department
	}
	o, err := newSheetOut(f, sheet, st, []float64{6, 14, 36, 16, 14, 14, 14, 12, 40, 40, 9, 24}, 3)
	if err != nil {
		return err
	}
	if err := o.title(title, "金额单位：万元 · 请填写白色的四列，灰色的列不导入"); err != nil {
		return err
	}
	if err := o.header(reportTemplateHeads); err != nil {
		return err
	}
	for i, rr := range rows {
		p := &rr.Project
		opening := p.InvestmentCompletedYuan
		status := store.ReportMissing
		var monthV, progress, progText, probText, reason any
		if r := rr.Report; r != nil {
			opening, status = r.OpeningYuan, r.Status
			monthV, progress = wan(r.MonthYuan), r.Progress
			progText, probText, reason = text(r.ProgressText), text(r.ProblemsText), text(r.ReturnReason)
		}
		row := []any{styled(grey, i+1), styled(grey, p.ID), styled(grey, p.Name), styled(grey, text(p.Department)),
			styled(greyMoney, wan(p.AnnualPlanYuan)), styled(greyMoney, wan(opening)), styled(st.money, monthV), progress,
			styled(st.wrap, progText), styled(st.wrap, probText), styled(grey, reportStatusLabel(status, "")), styled(grey, reason)}
		if err := o.row(row); err != nil {
			return err
		}
	}
	last := max(len(rows)+3, 4)
	for _, dv := range []struct {
		col int
		max float64
		zh  string
	}{{tplMonthCol, float64(store.MaxYuan) / 10000, "本月完成投资应为不小于 0 的数字（万元）"}, {tplProgressCol, 100, "形象进度应为 0 到 100 的数字"}} {
		v := excelize.NewDataValidation(true)
		c := columnLetter(dv.col)
		v.SetSqref(fmt.Sprintf("%s4:%s%d", c, c, max(last, 200)))
		if err := v.SetRange(0, dv.max, excelize.DataValidationTypeDecimal, excelize.DataValidationOperatorBetween); err != nil {
			return err
		}
		v.SetError(excelize.DataValidationErrorStyleStop, "数值无效", dv.zh)
		if err := f.AddDataValidation(sheet, v); err != nil {
			return err
		}
	}
	if err := o.sw.Flush(); err != nil {
		return err
	}
	if _, err := f.NewSheet(GuideSheet); err != nil {
		return err
	}
	if err := f.SetColWidth(GuideSheet, "A", "A", 110); err != nil {
		return err
	}
	if err := f.SetCellValue(GuideSheet, "A1", "月报填写说明"); err != nil {
		return err
	}
	if err := f.SetCellStyle(GuideSheet, "A1", "A1", st.label); err != nil {
		return err
	}
	for i, n := range reportGuideNotes {
		if err := f.SetCellValue(GuideSheet, "A"+strconv.Itoa(i+2), n); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	return writeTo(f, w)
}
