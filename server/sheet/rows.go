package sheet

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"projectboard/store"
)

// maxSkipNotes bounds the notes about skipped rows; further ones are counted in one note.
const maxSkipNotes = 50

// rowReader turns data rows into Rows.
type rowReader struct {
	t          *Table
	h          *header
	ms         *mergeState
	date1904   bool
	lim        Limits
	blankRun   int
	lastLine   int
	dataRows   int
	skipped    int
	ambiguous  []int // rows whose 形象进度 is a bare 1
	over1      bool  // the progress column has a plain number above 1
	nameIndex  int
	checkIndex []int // columns where 合计 / 小计 mark a summary row: 序号, id, name
}

func newRowReader(t *Table, h *header, merges []mergeRange, date1904 bool, lim Limits) *rowReader {
	r := &rowReader{t: t, h: h, ms: newMergeState(merges), date1904: date1904, lim: lim, nameIndex: -1}
	r.checkIndex = append(r.checkIndex, h.ignored...)
	for _, c := range t.Columns {
		switch c.Field {
		case FieldName:
			r.nameIndex = c.index
			r.checkIndex = append(r.checkIndex, c.index)
		case FieldID:
			r.checkIndex = append(r.checkIndex, c.index)
		}
	}
	return r
}

// row handles one sheet row; done means stop reading (after MaxBlankRun blank rows).
func (r *rowReader) row(cells []string, line int) (done bool, err error) {
	cells = r.ms.apply(cells, line, line <= r.h.lastLine)
	if line <= r.h.lastLine {
		return false, nil
	}
	r.lastLine = line
	filled := 0
	for _, c := range r.t.Columns {
		if cell(cells, c.index) != "" {
			filled++
		}
	}
	if filled == 0 {
		r.blankRun++
		if r.blankRun >= MaxBlankRun {
			r.t.Notes = append(r.t.Notes, Note{Line: line,
				Message:   fmt.Sprintf("第 %d 行起连续 %d 行为空，停止读取；其后如还有数据，请删除空行后重新导入", line-MaxBlankRun+1, MaxBlankRun),
				MessageEn: fmt.Sprintf("%d blank rows in a row from row %d: reading stopped there; if data follows, delete the blank rows and import again", MaxBlankRun, line-MaxBlankRun+1)})
			return true, nil
		}
		return false, nil
	}
	r.blankRun = 0
	if why, whyEn := r.skipReason(cells, filled); why != "" {
		r.skip(line, why, whyEn)
		return false, nil
	}
	r.dataRows++
	if r.dataRows > r.lim.MaxRows {
		return true, fileErr(ErrTooManyRows, "数据超过 %d 行，请分多个文件导入", "more than %d data rows; split the file", r.lim.MaxRows)
	}
	r.t.Rows = append(r.t.Rows, r.parse(cells, line))
	return false, nil
}

// skipReason recognises rows that are not projects: totals (合计, 小计) and group headings
// ("一、计划内重点项目" with nothing else in the row).
func (r *rowReader) skipReason(cells []string, filled int) (string, string) {
	for _, i := range r.checkIndex {
		v := cell(cells, i)
		if len(v) > 24 { // the words below, even spaced out, are short
			continue
		}
		switch labelKey(v) {
		case "合计", "总计", "小计", "共计", "全部合计":
			return "合计行", "a total row"
		}
	}
	if filled == 1 && r.nameIndex >= 0 {
		if name := cell(cells, r.nameIndex); name != "" && isGroupHeading(name) {
			return "分组标题行", "a group heading"
		}
	}
	return "", ""
}

// isGroupHeading: "一、计划内重点项目（15个）", "（二）招商项目", "二. 续建项目".
func isGroupHeading(s string) bool {
	s = strings.TrimLeft(s, "(（")
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !strings.ContainsRune("一二三四五六七八九十", r) {
			break
		}
		n += size
	}
	if n == 0 {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[n:])
	return strings.ContainsRune("、.．)）", r)
}

func (r *rowReader) skip(line int, why, whyEn string) {
	r.skipped++
	if r.skipped <= maxSkipNotes {
		r.t.Notes = append(r.t.Notes, Note{Line: line, Message: fmt.Sprintf("第 %d 行是%s，已跳过", line, why),
			MessageEn: fmt.Sprintf("row %d is %s and was skipped", line, whyEn)})
	}
}

// finish decides ambiguous progress values and totals the skipped rows.
func (r *rowReader) finish() {
	if !r.over1 {
		// Every plain number in the column is 0 or 1 or a fraction: the column holds
		// percent-formatted cells, so 1 is 100 %.
		for _, i := range r.ambiguous {
			v := 100
			r.t.Rows[i].Patch.Progress = &v
		}
	}
	if r.skipped > maxSkipNotes {
		r.t.Notes = append(r.t.Notes, Note{Message: fmt.Sprintf("另有 %d 行合计或标题行已跳过", r.skipped-maxSkipNotes),
			MessageEn: fmt.Sprintf("%d more total or heading rows were skipped", r.skipped-maxSkipNotes)})
	}
}

// parse reads the recognised cells of one data row.
func (r *rowReader) parse(cells []string, line int) Row {
	row := Row{Line: line}
	p := &row.Patch
	var dates []int // columns holding a parsed date, for Values
	for ci, c := range r.t.Columns {
		raw := cell(cells, c.index)
		if raw == "" {
			continue
		}
		var verr *valueError
		switch c.Field {
		case FieldID:
			var v string
			var ok bool
			if v, ok, verr = parseText(FieldID, raw); ok {
				row.ID = v
			}
		case FieldName, FieldSector, FieldDepartment, FieldLeader, FieldNote:
			var v string
			var ok bool
			if v, ok, verr = parseText(c.Field, raw); ok {
				setText(p, c.Field, v)
			}
		case FieldCategory:
			var v store.Category
			var ok bool
			if v, ok, verr = parseCategory(raw); ok {
				p.Category = &v
			}
		case FieldStage:
			var v store.Stage
			var ok bool
			if v, ok, verr = parseStage(raw); ok {
				p.Stage = &v
			}
		case FieldYear:
			var v int
			var ok bool
			if v, ok, verr = parseYear(raw); ok {
				p.Year = &v
			}
		case FieldInvestmentYuan, FieldAnnualPlanYuan, FieldInvestmentCompletedYuan:
			var v int64
			var ok bool
			if v, ok, verr = parseMoney(raw, c.Unit); ok {
				switch c.Field {
				case FieldInvestmentYuan:
					p.InvestmentYuan = &v
				case FieldAnnualPlanYuan:
					p.AnnualPlanYuan = &v
				default:
					p.InvestmentCompletedYuan = &v
				}
			}
		case FieldProgress:
			var pv progressValue
			if pv, verr = parseProgress(raw, c.Unit == UnitPercent); pv.ok {
				p.Progress = &pv.v
				if pv.ambiguous {
					r.ambiguous = append(r.ambiguous, len(r.t.Rows))
				}
				r.over1 = r.over1 || pv.whole
			}
		case FieldPlannedStart, FieldStartedAt, FieldResumedAt, FieldPlannedCompletion, FieldCompletedAt:
			var v store.Date
			var ok bool
			if v, ok, verr = parseDate(raw, r.date1904); ok {
				setDate(p, c.Field, v)
				dates = append(dates, ci)
			}
		case FieldOnHold:
			var v, ok bool
			if v, ok, verr = parseBool(raw); ok {
				p.OnHold = &v
			}
		}
		if verr != nil {
			row.Errors = append(row.Errors, CellError{Column: c.Header, Letter: c.Letter, Field: c.Field,
				Message:   "「" + c.Header + "」：" + verr.zh,
				MessageEn: c.Header + ": " + verr.en})
		}
	}
	if len(row.Errors) > 0 {
		row.Values = make([]string, len(r.t.Columns))
		for ci, c := range r.t.Columns {
			row.Values[ci] = cell(cells, c.index)
		}
		for _, ci := range dates {
			row.Values[ci] = string(*datePtr(p, r.t.Columns[ci].Field))
		}
	}
	return row
}

func setText(p *store.Patch, field, v string) {
	switch field {
	case FieldName:
		p.Name = &v
	case FieldSector:
		p.Sector = &v
	case FieldDepartment:
		p.Department = &v
	case FieldLeader:
		p.Leader = &v
	case FieldNote:
		p.Note = &v
	}
}

// dateSlot is the Patch field holding a date column's value (nil for a field that is not a date).
func dateSlot(p *store.Patch, field string) **store.Date {
	switch field {
	case FieldPlannedStart:
		return &p.PlannedStart
	case FieldStartedAt:
		return &p.StartedAt
	case FieldResumedAt:
		return &p.ResumedAt
	case FieldPlannedCompletion:
		return &p.PlannedCompletion
	case FieldCompletedAt:
		return &p.CompletedAt
	}
	return nil
}

func setDate(p *store.Patch, field string, v store.Date) {
	if slot := dateSlot(p, field); slot != nil {
		*slot = &v
	}
}

func datePtr(p *store.Patch, field string) *store.Date {
	if slot := dateSlot(p, field); slot != nil {
		return *slot
	}
	return nil
}
