package sheet

import (
	"strings"
	"unicode"
)

// The store fields a column can hold, by their JSON names; FieldID is the sheet's own (a
// row's id is not part of a store.Patch).
const (
	FieldID                      = "id"
	FieldName                    = "name"
	FieldCategory                = "category"
	FieldYear                    = "year"
	FieldSector                  = "sector"
	FieldDepartment              = "department"
	FieldLeader                  = "leader"
	FieldStage                   = "stage"
	FieldInvestmentYuan          = "investmentYuan"
	FieldAnnualPlanYuan          = "annualPlanYuan"
	FieldInvestmentCompletedYuan = "investmentCompletedYuan"
	FieldProgress                = "progress"
	FieldPlannedStart            = "plannedStart"
	FieldStartedAt               = "startedAt"
	FieldResumedAt               = "resumedAt"
	FieldPlannedCompletion       = "plannedCompletion"
	FieldCompletedAt             = "completedAt"
	FieldOnHold                  = "onHold"
	FieldNote                    = "note"
)

// Units a header can give. Money columns without one are in 万元.
const (
	UnitYuan         = "元"
	UnitWanYuan      = "万元"
	UnitYiYuan       = "亿元"
	UnitPercent      = "%"
	defaultMoneyUnit = UnitWanYuan
)

// fieldDef is one importable field: its export header (Chinese), its English label and the
// header names it is recognised by (before normalisation; see headerKey).
type fieldDef struct {
	field   string
	label   string // the header we write, without unit
	labelEn string
	names   []string
	// yuanNames are header names that imply the unit 元 (the store's own field names).
	yuanNames []string
}

// fields lists the columns in export order. The variants are what registers of zone offices
// use; docs/import-export.md lists them for the offices.
var fields = []fieldDef{
	{field: FieldID, label: "项目编号", labelEn: "Project ID",
		names: []string{"项目编号", "编号", "项目ID", "项目代码", "项目编码", "id", "project id"}},
	{field: FieldName, label: "项目名称", labelEn: "Name",
		names: []string{"项目名称", "名称", "项目", "项目名", "name", "project name", "project"}},
	{field: FieldCategory, label: "项目类别", labelEn: "Category",
		names: []string{"项目类别", "类别", "类型", "项目类型", "项目分类", "分类", "category", "type"}},
	{field: FieldYear, label: "年度", labelEn: "Year",
		names: []string{"年度", "年份", "项目年度", "year"}},
	{field: FieldSector, label: "行业", labelEn: "Sector",
		names: []string{"行业", "产业", "领域", "所属行业", "所属产业", "行业类别", "产业类别", "行业领域", "产业领域", "sector", "industry"}},
	{field: FieldDepartment, label: "责任单位", labelEn: "Department",
		names: []string{"责任单位", "牵头单位", "责任部门", "主责单位", "牵头部门", "department", "dept"}},
	{field: FieldLeader, label: "包保领导", labelEn: "Leader",
		names: []string{"包保领导", "包保责任人", "责任领导", "包保人", "包保", "leader"}},
	{field: FieldStage, label: "推进阶段", labelEn: "Stage",
		names: []string{"推进阶段", "项目状态", "阶段", "状态", "项目阶段", "进展阶段", "建设状态", "stage", "status"}},
	{field: FieldInvestmentYuan, label: "总投资", labelEn: "Total investment",
		names:     []string{"总投资", "计划总投资", "项目总投资", "总投资额", "投资总额", "investment", "total investment"},
		yuanNames: []string{"investmentYuan"}},
	{field: FieldAnnualPlanYuan, label: "年度计划投资", labelEn: "Annual plan",
		names: []string{"年度计划投资", "年度计划", "年计划投资", "年度投资计划", "本年计划投资", "年度计划投资额", "年计划",
			"annual plan", "annual plan investment"},
		yuanNames: []string{"annualPlanYuan"}},
	{field: FieldInvestmentCompletedYuan, label: "年度完成投资", labelEn: "Investment completed",
		names: []string{"年度完成投资", "年度完成", "累计完成投资", "完成投资", "本年完成投资", "已完成投资", "年度完成投资额",
			"年完成投资", "investment completed", "completed investment"},
		yuanNames: []string{"investmentCompletedYuan"}},
	{field: FieldProgress, label: "形象进度", labelEn: "Progress",
		names: []string{"形象进度", "进度", "工程进度", "完成进度", "形象进度百分比", "progress"}},
	{field: FieldPlannedStart, label: "计划开工时间", labelEn: "Planned start",
		names: []string{"计划开工时间", "计划开工", "计划开工日期", "拟开工时间", "planned start", "plannedStart"}},
	{field: FieldStartedAt, label: "实际开工时间", labelEn: "Started",
		names: []string{"实际开工时间", "开工时间", "实际开工", "开工日期", "实际开工日期", "started", "startedAt", "start date"}},
	{field: FieldResumedAt, label: "复工时间", labelEn: "Resumed",
		names: []string{"复工时间", "实际复工时间", "复工日期", "本年复工时间", "resumed", "resumedAt"}},
	{field: FieldPlannedCompletion, label: "计划竣工时间", labelEn: "Planned completion",
		names: []string{"计划竣工时间", "计划竣工", "计划竣工日期", "计划完工时间", "拟竣工时间", "planned completion", "plannedCompletion"}},
	{field: FieldCompletedAt, label: "实际竣工时间", labelEn: "Completed",
		names: []string{"实际竣工时间", "竣工时间", "实际竣工", "竣工日期", "实际竣工日期", "完工时间", "completed", "completedAt", "completion date"}},
	{field: FieldOnHold, label: "是否停缓建", labelEn: "On hold",
		names: []string{"是否停缓建", "停缓建", "停工", "是否停工", "停建缓建", "是否停建", "on hold", "onHold"}},
	{field: FieldNote, label: "备注", labelEn: "Note",
		names: []string{"备注", "说明", "备注说明", "情况说明", "note", "notes", "remark", "remarks", "comment"}},
}

// ignoredHeaders are columns read past in silence: the running number, and the columns our
// own errors file adds.
var ignoredHeaders = []string{"序号", "序", "no", "no.", "#", "行号", "原行号", "错误", "错误信息", "row", "errors"}

// match finds a header's field by its normalised key.
var (
	headerFields  = map[string]*fieldDef{}
	headerYuan    = map[string]bool{} // keys that imply 元
	headerIgnored = map[string]bool{}
	fieldByName   = map[string]*fieldDef{}
)

func init() {
	for i := range fields {
		f := &fields[i]
		fieldByName[f.field] = f
		for _, n := range append(append([]string{}, f.names...), f.yuanNames...) {
			k, _ := headerKey(n)
			headerFields[k] = f
		}
		for _, n := range f.yuanNames {
			k, _ := headerKey(n)
			headerYuan[k] = true
		}
	}
	for _, n := range ignoredHeaders {
		k, _ := headerKey(n)
		headerIgnored[k] = true
	}
}

func isMoney(field string) bool {
	return field == FieldInvestmentYuan || field == FieldAnnualPlanYuan || field == FieldInvestmentCompletedYuan
}

func isDate(field string) bool {
	return field == FieldPlannedStart || field == FieldStartedAt || field == FieldResumedAt ||
		field == FieldPlannedCompletion || field == FieldCompletedAt
}

// Label is the Chinese column name of a field (as exported and in messages), or the field
// itself when it is not one of ours.
func Label(field string) string {
	if f := fieldByName[field]; f != nil {
		return f.label
	}
	return field
}

// halfWidth maps full-width ASCII (Ｆ１, （）, ：) and the ideographic space to their ASCII
// forms, and 【】〔〕 to brackets.
func halfWidth(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	case r == '【' || r == '〔' || r == '［':
		return '['
	case r == '】' || r == '〕' || r == '］':
		return ']'
	}
	return r
}

// headerKey normalises a header for matching: full-width to half-width, units in brackets
// taken out ("总投资（亿元）" → "总投资", "亿元"), other bracketed remarks dropped, spaces,
// line breaks, "*" (required marks), "_", "-" and a trailing ":" removed, ASCII lower-cased.
// A unit written after the name without brackets ("总投资万元") is taken too.
func headerKey(s string) (key, unit string) {
	var b strings.Builder
	depth := 0
	var inner strings.Builder
	for _, r := range s {
		r = halfWidth(r)
		switch {
		case r == '(' || r == '[':
			if depth == 0 {
				inner.Reset()
			}
			depth++
			continue
		case (r == ')' || r == ']') && depth > 0:
			depth--
			if depth == 0 {
				if u := unitOf(inner.String()); u != "" {
					unit = u
				}
			}
			continue
		}
		if depth > 0 {
			inner.WriteRune(r)
			continue
		}
		if unicode.IsSpace(r) || r == '*' || r == '_' || r == '-' || r == '、' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.TrimRight(b.String(), ":"), unit
}

// unitOf recognises a unit in bracket text: "万元", "单位：亿元", "%", "元".
func unitOf(s string) string {
	k := strings.Map(func(r rune) rune {
		r = halfWidth(r)
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	if i := strings.LastIndexByte(k, ':'); i >= 0 {
		k = k[i+1:]
	}
	switch k {
	case "元", "人民币元":
		return UnitYuan
	case "万元", "万":
		return UnitWanYuan
	case "亿元", "亿":
		return UnitYiYuan
	case "%", "百分比", "百分比%":
		return UnitPercent
	}
	return ""
}

// lookupHeader matches one header text. It returns the field (nil for unknown), the unit the
// header gives, and whether the header is one we skip in silence (序号).
func lookupHeader(text string) (f *fieldDef, unit string, ignored bool) {
	key, unit := headerKey(text)
	if key == "" {
		return nil, unit, false
	}
	if headerIgnored[key] {
		return nil, unit, true
	}
	f = headerFields[key]
	if f == nil && unit == "" {
		// A unit written after the name without brackets: "总投资万元", "形象进度%", "总投资/亿元".
		for _, u := range []string{UnitWanYuan, UnitYiYuan, UnitPercent, UnitYuan} {
			if rest, ok := strings.CutSuffix(key, u); ok {
				rest = strings.TrimSuffix(rest, "/")
				if g := headerFields[rest]; g != nil {
					return g, u, false
				}
			}
		}
	}
	if f != nil && unit == "" && headerYuan[key] {
		unit = UnitYuan
	}
	return f, unit, false
}

// sheetUnit finds a money unit stated in a title row, such as "单位：万元" or "金额单位:亿元".
func sheetUnit(text string) string {
	i := strings.Index(text, "单位")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(text[i+len("单位"):], " :：\u3000")
	for _, u := range []string{UnitWanYuan, UnitYiYuan, UnitYuan} {
		if strings.HasPrefix(rest, u) {
			return u
		}
	}
	return ""
}
