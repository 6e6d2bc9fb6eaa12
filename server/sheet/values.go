package sheet

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"projectboard/store"
)

// valueError is why one cell did not parse, in both languages, without the column.
type valueError struct{ zh, en string }

func bad(zh, en string, args ...any) *valueError {
	return &valueError{zh: fmt.Sprintf(zh, args...), en: fmt.Sprintf(en, args...)}
}

// isPlaceholder reports a cell that says "none" in the way registers do: "-", "—", "/", "无".
// Such a cell in a number column counts as empty; in a date column it clears the date.
func isPlaceholder(s string) bool {
	switch s {
	case "-", "--", "—", "——", "－", "/", "／", "无", "暂无", "n/a", "N/A":
		return true
	}
	return false
}

// numberText tidies a number typed as text: full-width digits and signs to ASCII, thousands
// separators, spaces, a currency sign and a leading "+" removed ("１２,０００.５ " → "12000.5").
func numberText(s string) string {
	plain := true // the common case: nothing to tidy, no copy
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= '0' && c <= '9' || c == '.' || c == '-' || c == 'E' || c == 'e'
	}
	if plain {
		return s
	}
	var b []byte
	for _, r := range s {
		r = halfWidth(r)
		switch {
		case r == ',' || r == '，' || r == '、' || unicode.IsSpace(r) || r == '¥' || r == '￥' || r == '\u00a0':
			continue
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	s = string(b)
	return strings.TrimPrefix(s, "+")
}

// decimal is an exact decimal number: the value is digits × 10^exp (digits without sign).
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal reads "12000.5", "-3", ".5", "1.2E+3" exactly (no float rounding).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s == "" {
		return d, false
	}
	if s[0] == '-' {
		d.neg, s = true, s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > 400 || e < -400 {
			return d, false
		}
		d.exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" {
		return d, false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return d, false
			}
		}
	}
	d.digits = strings.TrimLeft(intPart+frac, "0")
	d.exp -= len(frac)
	return d, true
}

// scaled returns the decimal × 10^scale rounded half up to an integer; ok is false when it
// does not fit in 18 digits.
func (d decimal) scaled(scale int) (int64, bool) {
	if d.digits == "" {
		return 0, true
	}
	e := d.exp + scale
	digits := d.digits
	roundUp := false
	if e < 0 {
		cut := len(digits) + e
		if cut < 0 {
			return 0, true
		}
		roundUp = cut < len(digits) && digits[cut] >= '5'
		digits = digits[:cut]
		e = 0
	}
	if len(digits)+e > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		v = v*10 + int64(digits[i]-'0')
	}
	for ; e > 0; e-- {
		v *= 10
	}
	if roundUp {
		v++
	}
	return v, true
}

func (d decimal) float() float64 {
	f, _ := strconv.ParseFloat(d.digits+"e"+strconv.Itoa(d.exp), 64)
	if d.digits == "" {
		f = 0
	}
	if d.neg {
		f = -f
	}
	return f
}

// unitScale is the power of ten from a money unit to yuan.
func unitScale(unit string) int {
	switch unit {
	case UnitYuan:
		return 0
	case UnitYiYuan:
		return 8
	}
	return 4
}

// parseMoney reads an amount in the column's unit (or a unit written in the cell: "3.5亿",
// "1200万元", "500元") into whole yuan, rounded half up. ok is false for an empty cell.
func parseMoney(s, unit string) (yuan int64, ok bool, verr *valueError) {
	s = numberText(s)
	if s == "" || isPlaceholder(s) {
		return 0, false, nil
	}
	for _, u := range []struct{ suffix, unit string }{{"万元", UnitWanYuan}, {"亿元", UnitYiYuan},
		{"万", UnitWanYuan}, {"亿", UnitYiYuan}, {"元", UnitYuan}} {
		if rest, cut := strings.CutSuffix(s, u.suffix); cut && rest != "" {
			s, unit = rest, u.unit
			break
		}
	}
	d, okNum := parseDecimal(s)
	if !okNum {
		return 0, false, bad("不是数字（%s）", "is not a number (%s)", clip(s))
	}
	if d.neg && d.digits != "" {
		return 0, false, bad("不能为负数", "must not be negative")
	}
	v, fits := d.scaled(unitScale(unit))
	if !fits || v > store.MaxYuan {
		return 0, false, bad("数额过大（超过 %d 元）", "is larger than %d yuan", store.MaxYuan)
	}
	return v, true, nil
}

// progressValue is a parsed 形象进度 cell.
type progressValue struct {
	v         int
	ok        bool
	ambiguous bool // a bare 1: 1 % or a percent cell holding 100 %; the column decides
	whole     bool // a plain number above 1 as written: the column holds whole percents
}

// parseProgress reads 形象进度: 54, "54%", or a fraction from a percent-formatted cell (0.54).
func parseProgress(s string, percentUnit bool) (progressValue, *valueError) {
	v, ok, ambiguous, verr := parseProgressValue(s, percentUnit)
	pv := progressValue{v: v, ok: ok, ambiguous: ambiguous}
	if d, okNum := parseDecimal(numberText(s)); ok && okNum && d.float() > 1 {
		pv.whole = true
	}
	return pv, verr
}

func parseProgressValue(s string, percentUnit bool) (v int, ok, ambiguous bool, verr *valueError) {
	s = numberText(s)
	if s == "" || isPlaceholder(s) {
		return 0, false, false, nil
	}
	pct := false
	if rest, cut := strings.CutSuffix(s, "%"); cut {
		s, pct = rest, true
	}
	d, okNum := parseDecimal(s)
	if !okNum {
		return 0, false, false, bad("不是百分比（%s）", "is not a percentage (%s)", clip(s))
	}
	f := d.float()
	if d.neg && f != 0 {
		return 0, false, false, bad("不能为负数", "must not be negative")
	}
	switch {
	case pct:
	case f > 0 && f < 1:
		f *= 100 // a percent-formatted cell
	case f == 1 && !percentUnit:
		return 1, true, true, nil
	}
	r := math.Round(f)
	if r > 100 || math.IsNaN(r) {
		return 0, false, false, bad("应在 0 到 100 之间", "must be between 0 and 100")
	}
	return int(r), true, false, nil
}

// parseYear reads 2023, "2023年" or 2023.0.
func parseYear(s string) (int, bool, *valueError) {
	s = strings.TrimSuffix(numberText(s), "年")
	if s == "" || isPlaceholder(s) {
		return 0, false, nil
	}
	d, okNum := parseDecimal(s)
	if okNum && !d.neg {
		if v, fits := d.scaled(0); fits && float64(v) == d.float() && v < 10000 {
			return int(v), true, nil
		}
	}
	return 0, false, bad("不是年份（%s）", "is not a year (%s)", clip(s))
}

// dateFormats is the list quoted in date errors.
const (
	dateFormatsZh = "可用 2023-03-01、2023/3/1、2023年3月1日、2023.3、2023-3 或 Excel 日期"
	dateFormatsEn = "use 2023-03-01, 2023/3/1, 2023年3月1日, 2023.3, 2023-3 or an Excel date"
)

// parseDate reads a date cell: an Excel serial number (from a date-formatted cell read raw),
// 20230301, "2023-03-01", "2023/3/1", "2023年3月1日", "2023.3" and "2023-3" (the first of the
// month), with or without a time after it. A placeholder ("-", "无") clears the date: ok is
// true and the date empty.
func parseDate(s string, date1904 bool) (store.Date, bool, *valueError) {
	s = strings.TrimSpace(strings.Map(halfWidth, s))
	if s == "" {
		return "", false, nil
	}
	if isPlaceholder(s) {
		return "", true, nil
	}
	if d, okNum := parseDecimal(s); okNum && !d.neg {
		f := d.float()
		switch {
		case d.exp >= 0 && f >= 1900 && f < 2200: // a year alone: a serial would be in 1905
			return "", false, notDate(s)
		case d.exp == 0 && len(d.digits) == 8: // 20230301
			return checkDate(atoi(s[:4]), atoi(s[4:6]), atoi(s[6:8]), s)
		case f >= 1900 && f < 2200 && d.exp < 0 && !strings.ContainsAny(s, "eE"): // 2023.3 typed as a number
			y, m, _ := strings.Cut(s, ".")
			return checkDate(atoi(y), atoi(m), 1, s)
		case f >= 1 && f < 2958466: // an Excel serial (up to 9999-12-31); the time of day is dropped
			base := excelEpoch
			if date1904 {
				base = excelEpoch1904
			}
			y, m, d := base.AddDate(0, 0, int(math.Floor(f+1e-9))).Date()
			return checkDate(y, int(m), d, s)
		}
		return "", false, notDate(s)
	}
	if i := strings.IndexAny(s, " T"); i > 0 {
		s = s[:i] // "2023-03-01 00:00:00"
	}
	t := strings.NewReplacer("年", "-", "月", "-", "日", "", "号", "", "/", "-", ".", "-").Replace(s)
	t = strings.TrimSuffix(t, "-")
	parts := strings.Split(t, "-")
	if len(parts) < 2 || len(parts) > 3 || len(parts[0]) != 4 {
		return "", false, notDate(s)
	}
	for _, p := range parts {
		if p == "" || len(p) > 4 || strings.Trim(p, "0123456789") != "" {
			return "", false, notDate(s)
		}
	}
	day := 1
	if len(parts) == 3 {
		day = atoi(parts[2])
	}
	return checkDate(atoi(parts[0]), atoi(parts[1]), day, s)
}

func notDate(s string) *valueError {
	return &valueError{zh: "不是日期（" + clip(s) + "），" + dateFormatsZh, en: "is not a date (" + clip(s) + "); " + dateFormatsEn}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// checkDate checks that y-m-d is a real date within the store's range.
// Day 0 of Excel's date systems. Serials of the 1900 system count from 1899-12-30 for every
// date after February 1900 (Excel's phantom 1900-02-29 makes earlier ones differ, and those
// are outside the store's range anyway).
var (
	excelEpoch     = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	excelEpoch1904 = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkDate checks that y-m-d is a real date within the store's range (store.ParseDate's:
// 1990 to 2100) and writes it as a store.Date.
func checkDate(y, m, d int, orig string) (store.Date, bool, *valueError) {
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return "", false, bad("不是有效日期（%s）", "is not a real date (%s)", clip(orig))
	}
	if y < 1990 || y > 2100 {
		return "", false, bad("日期应在 1990 年到 2100 年之间（%s）", "must be between 1990 and 2100 (%s)", clip(orig))
	}
	b := make([]byte, 0, 10)
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
	return store.Date(b), true, nil
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Labels of categories and stages as offices write them; the codes are accepted too.
var (
	categoryLabels = map[string]store.Category{
		"计划内": store.CategoryPlanned, "计划内项目": store.CategoryPlanned, "计划内重点项目": store.CategoryPlanned,
		"重点项目": store.CategoryPlanned, "计划内重点": store.CategoryPlanned, "省市重点项目": store.CategoryPlanned,
		"计划外": store.CategoryUnplanned, "计划外项目": store.CategoryUnplanned, "计划外新开工": store.CategoryUnplanned,
		"计划外新开工项目": store.CategoryUnplanned, "新开工项目": store.CategoryUnplanned,
		"招商": store.CategoryAttraction, "招商引资": store.CategoryAttraction, "招商项目": store.CategoryAttraction,
		"招商引资项目": store.CategoryAttraction,
	}
	stageLabels = map[string]store.Stage{
		"洽谈": store.StageNegotiating, "洽谈中": store.StageNegotiating, "在谈": store.StageNegotiating,
		"签约": store.StageSigned, "已签约": store.StageSigned,
		"落位": store.StageLanded, "已落位": store.StageLanded, "落地": store.StageLanded, "已落地": store.StageLanded,
		"前期": store.StagePreparing, "前期手续": store.StagePreparing, "前期阶段": store.StagePreparing,
		"前期工作": store.StagePreparing, "办理前期手续": store.StagePreparing,
		"在建": store.StageUnderConstruction, "开工": store.StageUnderConstruction, "复工": store.StageUnderConstruction,
		"开复工": store.StageUnderConstruction, "续建": store.StageUnderConstruction, "新开工": store.StageUnderConstruction,
		"已开工": store.StageUnderConstruction, "已复工": store.StageUnderConstruction, "施工": store.StageUnderConstruction,
		"施工中": store.StageUnderConstruction, "建设中": store.StageUnderConstruction,
		"竣工": store.StageCompleted, "已竣工": store.StageCompleted, "完工": store.StageCompleted, "已完工": store.StageCompleted,
		"投产": store.StageOperating, "运营": store.StageOperating, "已投产": store.StageOperating,
		"投产运营": store.StageOperating, "达产": store.StageOperating, "投用": store.StageOperating,
	}
	// CategoryLabel and StageLabel give the label we write for each code.
	categoryNames = map[store.Category]string{store.CategoryPlanned: "计划内重点项目",
		store.CategoryUnplanned: "计划外新开工", store.CategoryAttraction: "招商引资"}
	stageNames = map[store.Stage]string{store.StageNegotiating: "洽谈", store.StageSigned: "签约",
		store.StageLanded: "落位", store.StagePreparing: "前期", store.StageUnderConstruction: "在建",
		store.StageCompleted: "竣工", store.StageOperating: "投产"}
)

// CategoryLabel is the Chinese label written for a category ("计划内重点项目").
func CategoryLabel(c store.Category) string {
	if l, ok := categoryNames[c]; ok {
		return l
	}
	return string(c)
}

// StageLabel is the Chinese label written for a stage ("在建").
func StageLabel(s store.Stage) string {
	if l, ok := stageNames[s]; ok {
		return l
	}
	return string(s)
}

// labelKey normalises a label cell: half-width, no spaces, lower case.
func labelKey(s string) string {
	return strings.Map(func(r rune) rune {
		r = halfWidth(r)
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

func parseCategory(s string) (store.Category, bool, *valueError) {
	k := labelKey(s)
	if k == "" {
		return "", false, nil
	}
	if c, ok := categoryLabels[k]; ok {
		return c, true, nil
	}
	for _, c := range store.Categories {
		if k == string(c) {
			return c, true, nil
		}
	}
	return "", false, bad("不是项目类别（%s），可用 计划内重点项目、计划外新开工、招商引资",
		"is not a category (%s); use 计划内重点项目, 计划外新开工, 招商引资 or planned, unplanned, attraction", clip(s))
}

func parseStage(s string) (store.Stage, bool, *valueError) {
	k := labelKey(s)
	if k == "" {
		return "", false, nil
	}
	if st, ok := stageLabels[k]; ok {
		return st, true, nil
	}
	for _, st := range store.Stages {
		if k == string(st) || k == strings.ReplaceAll(string(st), "_", "") {
			return st, true, nil
		}
	}
	return "", false, bad("不是推进阶段（%s），可用 洽谈、签约、落位、前期、在建、竣工、投产",
		"is not a stage (%s); use 洽谈, 签约, 落位, 前期, 在建, 竣工, 投产 or their codes", clip(s))
}

func parseBool(s string) (bool, bool, *valueError) {
	switch labelKey(s) {
	case "":
		return false, false, nil
	case "是", "y", "yes", "true", "1", "√", "✓", "停工", "停建", "缓建", "停缓建", "已停工":
		return true, true, nil
	case "否", "n", "no", "false", "0", "×", "✗", "正常", "-", "—", "/", "无":
		return false, true, nil
	}
	return false, false, bad("应填 是 或 否（%s）", "must be 是 or 否 (yes or no) (%s)", clip(s))
}

// textLimits are the store's lengths for free text (store.Project.Validate is the authority;
// they are checked here too so the dry run names the cell).
var textLimits = map[string]int{FieldID: 64, FieldName: 200, FieldSector: 50, FieldDepartment: 50,
	FieldLeader: 100, FieldNote: 2000}

// parseText checks free text with the store's one check: valid UTF-8, at most the field's
// length, no control or invisible characters (newlines and tabs only in notes).
func parseText(field, s string) (string, bool, *valueError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false, nil
	}
	multiline := field == FieldNote
	if multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n") // Windows line breaks in a note are line breaks
	}
	max := textLimits[field]
	var err error
	if multiline {
		err = store.CheckLongText(field, s, 0, max)
	} else {
		err = store.CheckText(field, s, 0, max)
	}
	if err == nil {
		return s, true, nil
	}
	switch {
	case !utf8.ValidString(s):
		return "", false, bad("含有无效字符", "is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return "", false, bad("超过 %d 个字符", "has more than %d characters", max)
	}
	for _, r := range s {
		if r == '\n' || r == '\t' {
			if !multiline {
				return "", false, bad("不能含有换行或制表符", "must be one line (no line breaks or tabs)")
			}
			continue
		}
		if store.CheckLongText(field, string(r), 0, 1) != nil {
			return "", false, bad("含有控制字符或不可见字符（U+%04X）", "contains a control or invisible character (U+%04X)", r)
		}
	}
	return "", false, bad("不是有效文本：%s", "%s", err.Error())
}

// clip shortens a cell quoted in a message.
func clip(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}
