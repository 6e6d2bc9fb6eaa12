package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

// The monthly cycle's routes (docs/api.md, "The monthly cycle"): months, their figures and
// comparisons, closing and reopening, and the monthly reports (月报). Problems, the warning
// rules and the yearly lists have files of their own.

// The audit events of the cycle's admin acts.
const (
	auditMonthClosed     store.AuditType = "month.closed"
	auditMonthReopened   store.AuditType = "month.reopened"
	auditSettingsChanged store.AuditType = "settings.changed"
	auditYearStarted     store.AuditType = "year.started"
)

// cycleAuditTypes lists them, beside store.AuditTypes.
var cycleAuditTypes = []store.AuditType{auditMonthClosed, auditMonthReopened, auditSettingsChanged, auditYearStarted}

// maxBatchReports bounds one submit of a month's reports (a unit has tens of projects; the
// whole register a few hundred).
const maxBatchReports = 2000

// monthParam reads the route's :month, "YYYY-MM".
func monthParam(c *fiber.Ctx, name string) (store.Month, error) {
	m, err := store.ParseMonth(c.Params(name))
	if err != nil {
		e := errorf(fiber.StatusUnprocessableEntity, "invalid_value", "month", "month "+err.Error())
		e.MessageZh = "月份应为 YYYY-MM 格式（1990–2100 年）"
		return "", e
	}
	return m, nil
}

// ifMatchVersion reads If-Match for things whose version may be 0 (a report, month or rule
// set not yet stored): `"0"` is allowed, and without required an absent header means 0.
func ifMatchVersion(c *fiber.Ctx, required bool) (uint64, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	switch {
	case h == "" && !required:
		return 0, nil
	case h == `"0"`:
		return 0, nil
	}
	return ifMatch(c)
}

// fieldSet holds the paths of the fields a body gave ("reports[2].monthYuan").
type fieldSet map[string]bool

// require refuses a body that lacks one of the named fields (paths below prefix).
func (fs fieldSet) require(prefix string, names ...string) error {
	for _, n := range names {
		p := joinPath(prefix, n)
		if !fs[p] {
			e := errorf(fiber.StatusUnprocessableEntity, "invalid_value", p, p+" is required")
			e.MessageZh = p + " 必须填写"
			return e
		}
	}
	return nil
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// decodeBody decodes a JSON object body into v (a pointer to a struct) strictly, naming the
// path of what is wrong: a field v does not have is 400 unknown_field (as for a project's
// PATCH), a value of the wrong type or null where a value is needed 422 wrong_type, a value a
// type refuses (a date such as "2022-02-30") 422 invalid_value. Nested fields are named
// "investmentPace.redPoints", list entries "reports[3].monthYuan". An empty body decodes as
// {} when emptyOK. It returns the paths the body gave.
func decodeBody(c *fiber.Ctx, v any, emptyOK bool) (fieldSet, error) {
	body := c.Body()
	if emptyOK && len(bytes.TrimSpace(body)) == 0 {
		return fieldSet{}, nil
	}
	if err := requireJSON(c); err != nil {
		return nil, err
	}
	return decodeJSONBody(body, v)
}

// decodeJSONBody is decodeBody's parser, for a body declared as JSON.
func decodeJSONBody(body []byte, v any) (fieldSet, error) {
	if !utf8.Valid(body) {
		return nil, errorf(fiber.StatusBadRequest, "bad_json", "", "body is not valid UTF-8")
	}
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, errorf(fiber.StatusBadRequest, "bad_json", "", "body is not valid JSON: "+err.Error())
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, errorf(fiber.StatusBadRequest, "bad_json", "", "body is not a JSON object")
	}
	present := fieldSet{}
	if err := decodeValue("", raw, reflect.ValueOf(v).Elem(), present); err != nil {
		return nil, err
	}
	return present, nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func wrongType(path, msg string) error {
	return &store.ValidationError{Field: path, Message: msg, Type: true}
}

func decodeValue(path string, raw json.RawMessage, v reflect.Value, present fieldSet) error {
	raw = bytes.TrimSpace(raw)
	null := string(raw) == "null"
	if path != "" {
		present[path] = true
	}
	// Types that parse themselves (store.Date, time.Time) take null and make their own checks.
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if v.Kind() == reflect.String && !null && raw[0] != '"' {
			return wrongType(path, "has the wrong type")
		}
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) || errors.Is(err, store.ErrWrongType) {
				return wrongType(path, "has the wrong type")
			}
			return &store.ValidationError{Field: path, Message: err.Error()}
		}
		return nil
	}
	if null {
		if v.Kind() == reflect.Pointer && reflect.PointerTo(v.Type().Elem()).Implements(unmarshalerType) {
			nv := reflect.New(v.Type().Elem()) // a *Date given null: clear it
			if err := decodeValue(path, raw, nv.Elem(), present); err != nil {
				return err
			}
			v.Set(nv)
			return nil
		}
		return wrongType(path, "must not be null")
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if err := decodeValue(path, raw, nv.Elem(), present); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return wrongType(path, "must be an object")
		}
		if len(obj) > maxBodyFields {
			return errorf(fiber.StatusBadRequest, "bad_json", "", fmt.Sprintf("an object has more than %d fields", maxBodyFields))
		}
		fields := map[string]reflect.Value{}
		jsonFields(v, fields)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				return &unknownFieldError{Field: joinPath(path, k)}
			}
		}
		for _, k := range keys {
			if err := decodeValue(joinPath(path, k), obj[k], fields[k], present); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return wrongType(path, "must be a list")
		}
		if len(items) > maxBatchReports {
			return &store.ValidationError{Field: path, Message: fmt.Sprintf("has more than %d entries", maxBatchReports)}
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i := range items {
			if err := decodeValue(fmt.Sprintf("%s[%d]", path, i), items[i], s.Index(i), present); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		return wrongType(path, "has the wrong type")
	}
	return nil
}

// jsonFields collects a struct's fields by their JSON names, those of embedded structs
// without a name of their own included.
func jsonFields(v reflect.Value, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			jsonFields(v.Field(i), out)
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = v.Field(i)
	}
}

// noBody refuses a body on a route that takes none but an empty object.
func noBody(c *fiber.Ctx) error {
	var empty struct{}
	_, err := decodeBody(c, &empty, true)
	return err
}

// reasonBody is the body of a return and a reopen.
type reasonBody struct {
	Reason string `json:"reason"`
}

// decodeReason reads {reason}, which must say something.
func decodeReason(c *fiber.Ctx) (string, error) {
	var b reasonBody
	present, err := decodeBody(c, &b, false)
	if err != nil {
		return "", err
	}
	if err := present.require("", "reason"); err != nil {
		return "", err
	}
	if strings.TrimSpace(b.Reason) == "" {
		e := errorf(fiber.StatusUnprocessableEntity, "invalid_value", "reason", "reason is required")
		e.MessageZh = "请填写原因"
		return "", e
	}
	if err := store.CheckLongText("reason", b.Reason, 1, 500); err != nil {
		return "", err
	}
	return b.Reason, nil
}

func (s *Server) today() store.Date {
	return store.Date(s.cfg.Now().In(store.ZoneTime).Format("2006-01-02"))
}

// --- months ---

func (s *Server) handleMonthList(c *fiber.Ctx) error {
	year, err := queryInt(c, "year", 0, 2000, 2100)
	if err != nil {
		return err
	}
	if year == 0 {
		year = int64(s.currentYear())
	}
	months := s.store.Months(int(year))
	if months == nil {
		months = []store.MonthState{}
	}
	trend := s.store.Trend(int(year))
	if trend == nil {
		trend = []store.TrendPoint{}
	}
	return c.JSON(fiber.Map{"year": year, "months": months, "trend": trend})
}

// currentYear is the newest yearly list's, or today's.
func (s *Server) currentYear() int {
	if y := s.store.CurrentYear(); y != 0 {
		return y
	}
	return s.cfg.Now().In(store.ZoneTime).Year()
}

func (s *Server) handleMonthSummary(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	// ?snapshot=N: a month closed, reopened and closed again keeps each close's figures.
	n, err := queryInt(c, "snapshot", 0, 0, 1000)
	if err != nil {
		return err
	}
	var v *store.MonthView
	if n > 0 {
		v, err = s.store.MonthSnapshot(m, int(n))
	} else {
		v, err = s.store.MonthView(m)
	}
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) handleMonthCompare(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	with := m.Add(-1)
	if q := c.Query("with"); q != "" {
		if with, err = store.ParseMonth(q); err != nil {
			return errorf(fiber.StatusBadRequest, "bad_request", "with", "with "+err.Error())
		}
	}
	cmp, err := s.store.CompareMonths(m, with)
	if err != nil {
		return err
	}
	return c.JSON(cmp)
}

func (s *Server) handleMonthClose(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	a := currentActor(c)
	if err := requireOffice(a); err != nil {
		return err
	}
	version, err := ifMatchVersion(c, false)
	if err != nil {
		return err
	}
	if err := noBody(c); err != nil {
		return err
	}
	st, err := s.store.CloseMonth(m, version, a.Name())
	if err != nil {
		return err
	}
	s.audit(c, store.AuditEvent{Type: auditMonthClosed, Target: string(m), Detail: "snapshot " + strconv.Itoa(st.Snapshot)})
	c.Set(fiber.HeaderETag, etag(st.Version))
	return c.JSON(st)
}

func (s *Server) handleMonthReopen(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	version, err := ifMatchVersion(c, true)
	if err != nil {
		return err
	}
	reason, err := decodeReason(c)
	if err != nil {
		return err
	}
	a := currentActor(c)
	st, err := s.store.ReopenMonth(m, version, a.Name(), reason)
	if err != nil {
		return err
	}
	s.audit(c, store.AuditEvent{Type: auditMonthReopened, Target: string(m), Detail: reason})
	c.Set(fiber.HeaderETag, etag(st.Version))
	return c.JSON(st)
}

// --- reports ---

func (s *Server) handleMonthReports(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	dept := c.Query("department")
	if err := store.CheckText("department", dept, 0, 100); err != nil {
		return errorf(fiber.StatusBadRequest, "bad_request", "department", "department must be at most 100 plain characters")
	}
	ms := s.store.MonthState(m)
	units := []store.UnitReport{}
	for _, u := range s.store.UnitReports(m) {
		if dept == "" || u.Department == dept {
			units = append(units, u)
		}
	}
	rows := s.store.Reports(m, dept)
	if rows == nil {
		rows = []store.ReportRow{}
	}
	return c.JSON(fiber.Map{"month": m, "deadline": ms.Deadline, "status": ms.Status, "units": units, "rows": rows})
}

// reportRequired are the fields a report's body must give (the texts may be left out: "").
var reportRequired = []string{"monthYuan", "progress"}

type batchReport struct {
	ProjectID string `json:"projectId"`
	IfMatch   uint64 `json:"ifMatch"`
	store.ReportInput
}

type batchBody struct {
	Reports []batchReport `json:"reports"`
}

// handleMonthReportsSubmit is a unit's "本月填报": its projects' reports of the month, submitted
// together, all or none.
func (s *Server) handleMonthReportsSubmit(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	var b batchBody
	present, err := decodeBody(c, &b, false)
	if err != nil {
		return err
	}
	if err := present.require("", "reports"); err != nil {
		return err
	}
	if len(b.Reports) == 0 {
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "reports", "reports must list at least one report")
	}
	a := currentActor(c)
	seen := map[string]int{}
	edits := make([]store.Edit, len(b.Reports))
	for i, r := range b.Reports {
		prefix := fmt.Sprintf("reports[%d]", i)
		if err := present.require(prefix, append([]string{"projectId"}, reportRequired...)...); err != nil {
			return err
		}
		if j, dup := seen[r.ProjectID]; dup {
			return errorf(fiber.StatusUnprocessableEntity, "invalid_value", prefix+".projectId",
				fmt.Sprintf("%s.projectId also appears in reports[%d]", prefix, j))
		}
		seen[r.ProjectID] = i
		edits[i] = store.Edit{Kind: store.ChangeReport, ProjectID: r.ProjectID, By: a.Name(), Actor: editActor(a),
			Report: &store.ReportEdit{Month: m, Action: store.ReportSubmit, IfMatch: r.IfMatch, Input: r.ReportInput}}
	}
	res, err := s.store.ApplyAtomic(edits)
	if err != nil {
		return batchError(err)
	}
	out := make([]store.Report, len(res))
	for i, r := range res {
		rep, err := s.resultReport(r, b.Reports[i].ProjectID, m)
		if err != nil {
			return err
		}
		out[i] = rep
	}
	return c.JSON(fiber.Map{"reports": out})
}

// batchError names the refused report of a batch in the error's field: the store says which
// edit it refused (*store.EditError).
func batchError(err error) error {
	var ee *store.EditError
	if !errors.As(err, &ee) {
		return err
	}
	e := *toAPIError(err)
	prefix := fmt.Sprintf("reports[%d]", ee.Index)
	switch {
	case e.Status == fiber.StatusPreconditionFailed:
		e.Field = prefix + ".ifMatch"
	case errors.Is(err, store.ErrNotInYear), e.Status == fiber.StatusNotFound, e.Status == fiber.StatusForbidden:
		e.Field = prefix + ".projectId"
	case e.Field != "":
		e.Field = prefix + "." + e.Field
	}
	if e.Status < 500 {
		e.Message = prefix + ": " + e.Message
	}
	return &e
}

// resultReport is the report an edit left (the store's, or read back when it sent none).
func (s *Server) resultReport(r store.Result, id string, m store.Month) (store.Report, error) {
	if r.Report != nil {
		return *r.Report, nil
	}
	return s.store.Report(id, m)
}

func (s *Server) handleProjectReports(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.store.Project(id); err != nil {
		return err
	}
	reports := s.store.ProjectReports(id)
	if reports == nil {
		reports = []store.Report{}
	}
	return c.JSON(fiber.Map{"reports": reports})
}

func (s *Server) handleReportGet(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	r, err := s.store.Report(c.Params("id"), m)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(r.Version))
	return c.JSON(r)
}

func (s *Server) handleReportPut(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	version, err := ifMatchVersion(c, false)
	if err != nil {
		return err
	}
	var in store.ReportInput
	present, err := decodeBody(c, &in, false)
	if err != nil {
		return err
	}
	if err := present.require("", reportRequired...); err != nil {
		return err
	}
	return s.reportStep(c, m, store.ReportEdit{Month: m, Action: store.ReportSubmit, IfMatch: version, Input: in})
}

func (s *Server) handleReportApprove(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	if err := requireOffice(currentActor(c)); err != nil {
		return err
	}
	version, err := ifMatchVersion(c, true)
	if err != nil {
		return err
	}
	if err := noBody(c); err != nil {
		return err
	}
	return s.reportStep(c, m, store.ReportEdit{Month: m, Action: store.ReportApprove, IfMatch: version})
}

func (s *Server) handleReportReturn(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	if err := requireOffice(currentActor(c)); err != nil {
		return err
	}
	version, err := ifMatchVersion(c, true)
	if err != nil {
		return err
	}
	reason, err := decodeReason(c)
	if err != nil {
		return err
	}
	return s.reportStep(c, m, store.ReportEdit{Month: m, Action: store.ReportReturn, IfMatch: version, Reason: reason})
}

// reportStep commits one step of a project's report and answers with the report: 201 when a
// submit created it.
func (s *Server) reportStep(c *fiber.Ctx, m store.Month, re store.ReportEdit) error {
	a := currentActor(c)
	id := c.Params("id")
	r, err := s.store.Apply(store.Edit{Kind: store.ChangeReport, ProjectID: id, Report: &re, By: a.Name(), Actor: editActor(a)})
	if err != nil {
		return err
	}
	rep, err := s.resultReport(r, id, m)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(rep.Version))
	if re.Action == store.ReportSubmit && re.IfMatch == 0 {
		c.Status(fiber.StatusCreated)
		c.Set(fiber.HeaderLocation, "/api/projects/"+id+"/reports/"+string(m))
	}
	return c.JSON(rep)
}

// --- the warnings' clock ---

// startWarnings re-evaluates every project's warning now, then every WarningEvery until
// Shutdown: warnings change at a month boundary or a deadline without any edit. Each run is
// an ordinary commit by "system", published through the feed.
func (s *Server) startWarnings() {
	s.reevaluate()
	s.warnDone = make(chan struct{})
	go func() {
		defer close(s.warnDone)
		t := time.NewTicker(s.cfg.WarningEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stopping:
				return
			case <-t.C:
				if !s.reevaluate() {
					return
				}
			}
		}
	}()
}

// reevaluate runs one re-evaluation; false once the store is closed for good.
func (s *Server) reevaluate() bool {
	n, err := s.store.Reevaluate()
	switch {
	case errors.Is(err, store.ErrClosed):
		return false
	case errors.Is(err, store.ErrUnavailable):
		// The file is handed to a new process (upgrade) or the disk is full: the next tick tries again.
		s.log.Warn("warnings not re-evaluated: the database is unavailable", "err", err)
	case err != nil:
		s.log.Error("warnings not re-evaluated", "err", err)
	case n > 0:
		s.metrics.warningChanges.Add(float64(n))
		s.log.Info("warnings re-evaluated", "changed", n)
	}
	return true
}
