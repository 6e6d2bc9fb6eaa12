package server

// The monthly reports (月报) as files: the bulletin (通报) and the problems register out, the
// reports template out, and a workbook of reports (one sheet per month) in. The files
// themselves are server/sheet's; docs/import-export.md describes them.

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

// queryMonth reads ?month=YYYY-MM; without one, the month being reported.
func (s *Server) queryMonth(c *fiber.Ctx) (store.Month, error) {
	v := c.Query("month")
	if v == "" {
		if m := s.store.ReportingMonth(); m != "" {
			return m, nil
		}
		return store.MonthAt(s.cfg.Now()), nil
	}
	m, err := store.ParseMonth(v)
	if err != nil {
		return "", errorf(fiber.StatusBadRequest, "bad_request", "month", "month must be a month YYYY-MM")
	}
	return m, nil
}

// handleExportBulletin is GET /api/export/reports?month=YYYY-MM[&department=][&lang=en]: the
// month's bulletin as XLSX (frozen figures for a closed month, live ones for an open month).
// With a department, its projects and its report status only; the zone's 开复工率 and 竣工率
// are then left out (they are the zone's).
func (s *Server) handleExportBulletin(c *fiber.Ctx) error {
	m, err := s.queryMonth(c)
	if err != nil {
		return err
	}
	view, err := s.store.MonthView(m)
	if err != nil {
		return err
	}
	dept := c.Query("department")
	view = departmentBulletin(view, dept)
	lang := "zh"
	if c.Query("lang") == "en" {
		lang = "en"
	}
	var buf bytes.Buffer
	if err := sheet.WriteBulletinXLSX(&buf, view, s.store.Reports(m, dept), lang); err != nil {
		return err
	}
	name := "重点项目建设情况通报-" + sheet.MonthLabel(m)
	if dept != "" {
		name += "-" + dept
	}
	c.Set("X-Projectboard-Rev", fmt.Sprint(view.Rev))
	return sendFile(c, name+".xlsx", "xlsx", buf.Bytes())
}

// handleExportProblems is GET /api/export/problems?format=xlsx|csv: the problems register,
// with the register's filters (department, unit, status, open=true, overdue=true, year).
func (s *Server) handleExportProblems(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	year, err := queryInt(c, "year", 0, 2000, 2100)
	if err != nil {
		return err
	}
	f := store.ProblemFilter{Department: c.Query("department"), Unit: c.Query("unit"), Status: store.ProblemStatus(c.Query("status")),
		Open: c.Query("open") == "true", Overdue: c.Query("overdue") == "true", Year: int(year), ProjectID: c.Query("project")}
	switch f.Status {
	case "", store.ProblemPending, store.ProblemCoordinating, store.ProblemResolved:
	default:
		return errorf(fiber.StatusBadRequest, "bad_request", "status", "status must be pending, coordinating or resolved")
	}
	now := s.cfg.Now().In(store.ZoneTime)
	today := store.Date(now.Format("2006-01-02"))
	problems := s.store.Problems(f)
	var buf bytes.Buffer
	if format == "csv" {
		err = sheet.WriteProblemsCSV(&buf, problems, today)
	} else {
		err = sheet.WriteProblemsXLSX(&buf, problems, today)
	}
	if err != nil {
		return err
	}
	return sendFile(c, "问题台账-"+now.Format("20060102")+"."+format, format, buf.Bytes())
}

// handleExportReportTemplate is GET /api/export/report-template?month=&department=: the
// month's reports sheet of a unit's projects, pre-filled with what is reported. Without a
// department, an editor of some units gets the projects of those units.
func (s *Server) handleExportReportTemplate(c *fiber.Ctx) error {
	m, err := s.queryMonth(c)
	if err != nil {
		return err
	}
	dept := c.Query("department")
	rows := s.store.Reports(m, dept)
	if a := currentActor(c); dept == "" && a != nil && a.User != nil && a.User.Role == store.RoleEditor && len(a.User.Departments) > 0 {
		kept := rows[:0]
		for _, r := range rows {
			if a.User.CanEdit(r.Project.Department) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	var buf bytes.Buffer
	if err := sheet.WriteReportTemplate(&buf, m, rows); err != nil {
		return err
	}
	name := "月报模板-" + sheet.MonthLabel(m)
	if dept != "" {
		name += "-" + dept
	}
	return sendFile(c, name+".xlsx", "xlsx", buf.Bytes())
}

// The answer of a reports import.
type (
	reportImportResult struct {
		FileName string              `json:"fileName"`
		DryRun   bool                `json:"dryRun"`
		Applied  bool                `json:"applied"`
		Counts   reportImportCounts  `json:"counts"`
		Sheets   []reportImportSheet `json:"sheets"`
	}
	reportImportCounts struct {
		Create    int `json:"create"`
		Update    int `json:"update"`
		Unchanged int `json:"unchanged"`
		Error     int `json:"error"`
	}
	reportImportSheet struct {
		Sheet       string              `json:"sheet"`
		Month       store.Month         `json:"month,omitempty"`
		MonthStatus store.MonthStatus   `json:"monthStatus,omitempty"`
		HeaderRow   int                 `json:"headerRow,omitempty"`
		Columns     []importColumn      `json:"columns"`
		Unmatched   []string            `json:"unmatched"`
		Notes       []importNote        `json:"notes"`
		Error       *reportImportError  `json:"error"`
		Counts      reportImportCounts  `json:"counts"`
		Rows        []reportImportRow   `json:"rows"`
		edits       []reportImportEdit  // create and update rows, for the apply
		byProject   map[string]struct{} // projects of the sheet's rows, for duplicates
	}
	reportImportRow struct {
		Line        int                 `json:"line"`
		ProjectID   string              `json:"projectId,omitempty"`
		ProjectName string              `json:"projectName,omitempty"`
		Action      string              `json:"action"` // create, update, unchanged or error
		Input       *store.ReportInput  `json:"input,omitempty"`
		Before      *store.ReportInput  `json:"before,omitempty"`
		Status      store.ReportStatus  `json:"status,omitempty"` // the report's status before the import
		Errors      []reportImportError `json:"errors"`
	}
	// reportImportError is one error of a row or a whole sheet. Code: invalid_value (a cell),
	// not_found, not_in_year, forbidden, duplicate, report_state, month_closed, unknown_month,
	// duplicate_month, no_header, month_not_begun.
	reportImportError struct {
		Code      string `json:"code"`
		Column    string `json:"column,omitempty"`
		Letter    string `json:"letter,omitempty"`
		Field     string `json:"field,omitempty"`
		Message   string `json:"message"`
		MessageEn string `json:"messageEn"`
	}
	reportImportEdit struct {
		projectID string
		month     store.Month
		ifMatch   uint64
		input     store.ReportInput
	}
)

// handleImportReports is POST /api/imports/reports?dryRun=true|false: a workbook of monthly
// reports (one sheet per month; see sheet.ReadReports). The dry run answers what each row of
// each sheet would do (create, update, unchanged) or why it cannot (error); dryRun=false
// submits every created or changed report in one transaction, or none: a file with any error
// is refused (403 when a row is another unit's project, 409 month_closed when a sheet is a
// closed month, 409 import_has_errors otherwise), with the same answer as the dry run.
func (s *Server) handleImportReports(c *fiber.Ctx) error {
	var dryRun bool
	switch c.Query("dryRun") {
	case "true":
		dryRun = true
	case "false":
	default:
		return errorf(fiber.StatusBadRequest, "bad_request", "dryRun", "say dryRun=true to see what the file would change, dryRun=false to apply it")
	}
	name, data, err := uploadedFile(c)
	if err != nil {
		return err
	}
	sheets, err := sheet.ReadReports(name, data, sheet.Limits{MaxBytes: maxUpload})
	var fe *sheet.FileError
	switch {
	case errors.As(err, &fe) && errors.Is(err, sheet.ErrTooLarge):
		return errorf(fiber.StatusRequestEntityTooLarge, "too_large", "file", fe.MessageEn)
	case errors.As(err, &fe):
		return &apiError{Status: fiber.StatusUnprocessableEntity, Code: "bad_file", Field: "file", Message: fe.MessageEn, MessageZh: fe.Message}
	case err != nil:
		return err
	}
	a := currentActor(c)
	res := s.planReports(a, name, sheets)
	res.DryRun = dryRun
	if dryRun {
		return c.JSON(res)
	}
	if res.Counts.Error > 0 {
		status, code := fiber.StatusConflict, "import_has_errors"
		msg, zh := "the file has errors: nothing was imported; correct them and import again", "文件中有错误，未导入任何内容；请改正后重新导入"
		switch {
		case res.has("forbidden"):
			status, code = fiber.StatusForbidden, "forbidden"
			msg, zh = "the file has reports of projects of a unit you may not change: nothing was imported", "文件中有您无权修改的责任单位的项目，未导入任何内容"
		case res.has("month_closed"):
			code = "month_closed"
			msg, zh = "the file has reports of a closed month: nothing was imported", "文件中有已关账月份的月报，未导入任何内容"
		}
		return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": code, "message": msg, "messageZh": zh}, "result": res})
	}
	var edits []store.Edit
	var all []reportImportEdit
	for _, sh := range res.Sheets {
		all = append(all, sh.edits...)
	}
	// Earlier months first: a month's report cannot be made after a later one of the year.
	sort.SliceStable(all, func(i, j int) bool { return all[i].month < all[j].month })
	for _, e := range all {
		edits = append(edits, store.Edit{Kind: store.ChangeReport, ProjectID: e.projectID,
			Report: &store.ReportEdit{Month: e.month, Action: store.ReportSubmit, IfMatch: e.ifMatch, Input: e.input},
			By:     a.Name(), Comment: "导入 " + name, Actor: editActor(a)})
	}
	if len(edits) > 0 {
		var stale *store.StaleError
		_, err := s.store.ApplyAtomic(edits)
		switch {
		case err == nil:
		case errors.As(err, &stale):
			return &apiError{Status: fiber.StatusConflict, Code: "import_stale",
				Message:   "reports of this file were changed since it was read; run the dry run again",
				MessageZh: "文件中的月报在读取后已被修改，请重新预览"}
		case errors.Is(err, store.ErrMonthClosed):
			return &apiError{Status: fiber.StatusConflict, Code: "month_closed",
				Message: "a month of the file was closed meanwhile: nothing was imported", MessageZh: "文件中的月份已关账，未导入任何内容"}
		default:
			return err
		}
	}
	res.Applied = true
	return c.JSON(res)
}

func (r *reportImportResult) has(code string) bool {
	for _, sh := range r.Sheets {
		if sh.Error != nil && sh.Error.Code == code {
			return true
		}
		for _, row := range sh.Rows {
			for _, e := range row.Errors {
				if e.Code == code {
					return true
				}
			}
		}
	}
	return false
}

// planReports decides what every row of every sheet would do, from the store as it is now.
func (s *Server) planReports(a *actor, fileName string, sheets []sheet.MonthSheet) *reportImportResult {
	res := &reportImportResult{FileName: fileName, Sheets: []reportImportSheet{}}
	thisMonth := store.MonthAt(s.cfg.Now())
	for i := range sheets {
		ms := &sheets[i]
		out := reportImportSheet{Sheet: ms.Sheet, Month: ms.Month, HeaderRow: ms.HeaderRow, Columns: []importColumn{},
			Unmatched: []string{}, Notes: []importNote{}, Rows: []reportImportRow{}, byProject: map[string]struct{}{}}
		for _, c := range ms.Columns {
			out.Columns = append(out.Columns, importColumn{Letter: c.Letter, Header: c.Header, Field: c.Field, Unit: c.Unit})
		}
		for _, c := range ms.Unmatched {
			out.Unmatched = append(out.Unmatched, c.Header)
		}
		for _, n := range ms.Notes {
			out.Notes = append(out.Notes, importNote{Row: n.Line, Message: n.Message, MessageEn: n.MessageEn})
		}
		switch {
		case ms.Error != nil:
			out.Error = &reportImportError{Code: ms.Error.Code, Message: ms.Error.Message, MessageEn: ms.Error.MessageEn}
		case ms.Month > thisMonth:
			out.Error = &reportImportError{Code: "month_not_begun",
				Message:   fmt.Sprintf("工作表「%s」是 %s，该月尚未开始", ms.Sheet, sheet.MonthLabel(ms.Month)),
				MessageEn: fmt.Sprintf("sheet 「%s」 is %s, which has not begun", ms.Sheet, ms.Month)}
		default:
			out.MonthStatus = s.store.MonthState(ms.Month).Status
			if out.MonthStatus == store.MonthClosed {
				out.Error = &reportImportError{Code: "month_closed",
					Message:   fmt.Sprintf("工作表「%s」：%s 已关账，月报不能再修改", ms.Sheet, sheet.MonthLabel(ms.Month)),
					MessageEn: fmt.Sprintf("sheet 「%s」: %s is closed; its reports cannot change", ms.Sheet, ms.Month)}
			}
		}
		if out.Error != nil {
			out.Counts.Error++ // the sheet itself
		}
		if ms.Error == nil && out.Error == nil || out.Error != nil && out.Error.Code == "month_closed" {
			s.planSheet(a, ms, &out)
		}
		res.Counts.Create += out.Counts.Create
		res.Counts.Update += out.Counts.Update
		res.Counts.Unchanged += out.Counts.Unchanged
		res.Counts.Error += out.Counts.Error
		res.Sheets = append(res.Sheets, out)
	}
	return res
}

// planSheet plans the rows of one month's sheet.
func (s *Server) planSheet(a *actor, ms *sheet.MonthSheet, out *reportImportSheet) {
	list := s.store.Reports(ms.Month, "")
	byID := map[string]*store.ReportRow{}
	byName := map[string][]*store.ReportRow{}
	for i := range list {
		r := &list[i]
		byID[r.Project.ID] = r
		byName[r.Project.Name] = append(byName[r.Project.Name], r)
	}
	closed := out.Error != nil && out.Error.Code == "month_closed"
	for _, l := range ms.Rows {
		row := reportImportRow{Line: l.Line, ProjectID: l.ID, ProjectName: l.Name, Errors: []reportImportError{}}
		fail := func(code, zh, en string) {
			row.Errors = append(row.Errors, reportImportError{Code: code, Message: fmt.Sprintf("第 %d 行：%s", l.Line, zh),
				MessageEn: fmt.Sprintf("row %d: %s", l.Line, en)})
		}
		for _, e := range l.Errors {
			row.Errors = append(row.Errors, reportImportError{Code: "invalid_value", Column: e.Column, Letter: e.Letter, Field: e.Field,
				Message: fmt.Sprintf("第 %d 行%s", l.Line, e.Message), MessageEn: fmt.Sprintf("row %d, %s", l.Line, e.MessageEn)})
		}
		rr := s.findReportProject(l, byID, byName, fail)
		if rr != nil {
			p := &rr.Project
			row.ProjectID, row.ProjectName = p.ID, p.Name
			if _, dup := out.byProject[p.ID]; dup {
				fail("duplicate", fmt.Sprintf("项目 %s 在本工作表中出现了不止一次", p.ID), fmt.Sprintf("project %s appears more than once in the sheet", p.ID))
			}
			out.byProject[p.ID] = struct{}{}
			if a.User == nil || !a.User.CanEdit(p.Department) {
				fail("forbidden", fmt.Sprintf("项目属于您无权修改的责任单位（%s）", p.Department),
					fmt.Sprintf("the project is of a unit you may not change (%s)", p.Department))
			}
			if closed {
				fail("month_closed", sheet.MonthLabel(ms.Month)+" 已关账", string(ms.Month)+" is closed")
			}
		}
		if len(row.Errors) == 0 {
			s.planRow(&row, rr, l, ms.Month, out, fail)
		}
		if len(row.Errors) > 0 {
			row.Action = "error"
			row.Input = nil
			out.Counts.Error++
		} else {
			switch row.Action {
			case "create":
				out.Counts.Create++
			case "update":
				out.Counts.Update++
			default:
				out.Counts.Unchanged++
			}
		}
		out.Rows = append(out.Rows, row)
	}
}

// findReportProject finds the project a row names: by 项目编号, else by name among the
// month's list; a name that is not the 编号's project's is an error.
func (s *Server) findReportProject(l sheet.ReportLine, byID map[string]*store.ReportRow, byName map[string][]*store.ReportRow,
	fail func(code, zh, en string)) *store.ReportRow {
	switch {
	case l.ID != "":
		rr := byID[l.ID]
		if rr == nil {
			if p, err := s.store.Project(l.ID); err == nil {
				if !p.Category.Construction() {
					fail("not_in_year", fmt.Sprintf("项目 %s 是招商引资项目，不填报月报", l.ID), fmt.Sprintf("project %s is an investment-attraction project and does not report monthly", l.ID))
				} else {
					fail("not_in_year", fmt.Sprintf("项目 %s 不在该月所属年度的项目库中（它在 %d 年的项目库中）", l.ID, p.Year),
						fmt.Sprintf("project %s is not in the list of the month's year (it is in the %d list)", l.ID, p.Year))
				}
			} else {
				fail("not_found", fmt.Sprintf("没有编号为 %s 的项目", l.ID), fmt.Sprintf("no project has the id %s", l.ID))
			}
			return nil
		}
		if l.Name != "" && l.Name != rr.Project.Name {
			fail("invalid_value", fmt.Sprintf("项目名称「%s」与编号 %s 的项目「%s」不一致", l.Name, l.ID, rr.Project.Name),
				fmt.Sprintf("the name 「%s」 is not that of project %s 「%s」", l.Name, l.ID, rr.Project.Name))
			return nil
		}
		return rr
	case l.Name != "":
		switch found := byName[l.Name]; len(found) {
		case 0:
			fail("not_found", fmt.Sprintf("该月所属年度的项目库中没有名为「%s」的项目", l.Name), fmt.Sprintf("no project of the month's year is called 「%s」", l.Name))
		case 1:
			return found[0]
		default:
			fail("duplicate", fmt.Sprintf("名为「%s」的项目不止一个，请填写项目编号", l.Name), fmt.Sprintf("more than one project is called 「%s」: give the project id", l.Name))
		}
	}
	return nil
}

// planRow decides create, update or unchanged for a row naming project rr: blank cells keep
// the report's values (a new report: 0 invested, the project's 形象进度, no texts).
func (s *Server) planRow(row *reportImportRow, rr *store.ReportRow, l sheet.ReportLine, m store.Month, out *reportImportSheet,
	fail func(code, zh, en string)) {
	p := &rr.Project
	in := store.ReportInput{Progress: p.Progress}
	var ifMatch uint64
	cur := rr.Report
	if cur != nil {
		in = store.ReportInput{MonthYuan: cur.MonthYuan, Progress: cur.Progress, ProgressText: cur.ProgressText, ProblemsText: cur.ProblemsText}
		before := in
		row.Before, row.Status, ifMatch = &before, cur.Status, cur.Version
	}
	if l.MonthYuan != nil {
		in.MonthYuan = *l.MonthYuan
	}
	if l.Progress != nil {
		in.Progress = *l.Progress
	}
	if l.ProgressText != nil {
		in.ProgressText = strings.TrimSpace(*l.ProgressText)
	}
	if l.ProblemsText != nil {
		in.ProblemsText = strings.TrimSpace(*l.ProblemsText)
	}
	row.Input = &in
	switch {
	case cur == nil:
		row.Action = "create"
	case *row.Before == in && cur.Status != store.ReportReturned:
		row.Action = "unchanged"
		return
	case cur.Status == store.ReportApproved:
		fail("report_state", "该月报已审核，不能再修改；如需修改，请办公室先退回", "the report is approved and cannot change; the office must return it first")
		return
	default:
		row.Action = "update"
	}
	if err := in.Validate(); err != nil {
		fail("invalid_value", zhMessage(err.Error()), err.Error())
		return
	}
	opening := p.InvestmentCompletedYuan
	if cur != nil {
		opening = cur.OpeningYuan
	}
	if opening+in.MonthYuan > store.MaxYuan {
		fail("invalid_value", "累计完成投资超过上限", "the cumulative investment would be too large")
		return
	}
	for _, r := range s.store.ProjectReports(p.ID) {
		if r.Month > m && r.Month.Year() == m.Year() {
			fail("report_state", fmt.Sprintf("该项目已有 %s 的月报，不能再提交更早月份的月报", sheet.MonthLabel(r.Month)),
				fmt.Sprintf("the project already has the report of %s; an earlier month cannot be submitted", r.Month))
			return
		}
	}
	out.edits = append(out.edits, reportImportEdit{projectID: p.ID, month: m, ifMatch: ifMatch, input: in})
}
