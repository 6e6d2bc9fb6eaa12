package server

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

const (
	mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	mimeCSV  = "text/csv; charset=utf-8"
)

// exportFormat reads ?format=xlsx|csv (default xlsx).
func exportFormat(c *fiber.Ctx) (string, error) {
	switch f := c.Query("format", "xlsx"); f {
	case "xlsx", "csv":
		return f, nil
	}
	return "", errorf(fiber.StatusBadRequest, "bad_request", "format", "format must be xlsx or csv")
}

// sendFile answers with a download named name (UTF-8 names as RFC 6266 allows).
func sendFile(c *fiber.Ctx, name, format string, body []byte) error {
	ct := mimeXLSX
	if format == "csv" {
		ct = mimeCSV
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`,
		asciiName(name), url.PathEscape(name)))
	return c.Send(body)
}

// asciiName is a file name's fallback for clients without filename*: non-ASCII dropped.
func asciiName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 0x7f && r >= 0x20 && r != '"' && r != '\\' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// projectFilter is the register's filters, as query parameters.
type projectFilter struct {
	year       int
	category   store.Category
	department string
	sector     string
	stage      store.Stage
	q          string
}

func parseProjectFilter(c *fiber.Ctx) (projectFilter, error) {
	year, err := queryInt(c, "year", 0, 2000, 2100)
	if err != nil {
		return projectFilter{}, err
	}
	f := projectFilter{year: int(year), category: store.Category(c.Query("category")), department: c.Query("department"),
		sector: c.Query("sector"), stage: store.Stage(c.Query("stage")), q: strings.ToLower(strings.TrimSpace(c.Query("q")))}
	if f.category != "" && !validCategory(f.category) {
		return f, errorf(fiber.StatusBadRequest, "bad_request", "category", "category must be planned, unplanned or attraction")
	}
	if f.stage != "" && f.stage.Index() < 0 {
		return f, errorf(fiber.StatusBadRequest, "bad_request", "stage", "unknown stage")
	}
	return f, nil
}

func (f projectFilter) match(p *store.Project) bool {
	return (f.year == 0 || p.Year == f.year) && (f.category == "" || p.Category == f.category) &&
		(f.department == "" || p.Department == f.department) && (f.stage == "" || p.Stage == f.stage) &&
		(f.sector == "" || p.Sector == f.sector) &&
		(f.q == "" || strings.Contains(strings.ToLower(p.Name), f.q) || strings.Contains(strings.ToLower(p.ID), f.q) ||
			strings.Contains(strings.ToLower(p.Leader), f.q))
}

func departmentsOf(projects []store.Project) []string {
	var out []string
	for _, p := range projects {
		out = append(out, p.Department)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// handleExportProjects is GET /api/export/projects: the register, with its filters, as a file
// that opens cleanly in Excel and WPS.
func (s *Server) handleExportProjects(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	f, err := parseProjectFilter(c)
	if err != nil {
		return err
	}
	all, rev := s.store.Projects()
	var projects []store.Project
	for i := range all {
		if f.match(&all[i]) {
			projects = append(projects, all[i])
		}
	}
	var buf bytes.Buffer
	if format == "csv" {
		err = sheet.WriteProjectsCSV(&buf, projects)
	} else {
		err = sheet.WriteProjectsXLSX(&buf, projects, departmentsOf(all))
	}
	if err != nil {
		return err
	}
	c.Set("X-Projectboard-Rev", fmt.Sprint(rev))
	return sendFile(c, fmt.Sprintf("项目台账-%s.%s", s.cfg.Now().In(store.ZoneTime).Format("20060102"), format), format, buf.Bytes())
}

// maxExportChanges bounds a change export (the log is kept forever).
const maxExportChanges = 200_000

// handleExportChanges is GET /api/export/changes: who changed what and when, one row per field.
func (s *Server) handleExportChanges(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	var from, to time.Time
	for _, q := range []struct {
		name string
		dst  *time.Time
		add  int
	}{{"from", &from, 0}, {"to", &to, 1}} {
		v := c.Query(q.name)
		if v == "" {
			continue
		}
		d, err := time.ParseInLocation("2006-01-02", v, store.ZoneTime)
		if err != nil {
			return errorf(fiber.StatusBadRequest, "bad_request", q.name, q.name+" must be a date YYYY-MM-DD")
		}
		*q.dst = d.AddDate(0, 0, q.add)
	}
	var changes []store.Change
	name := "变更记录"
	if id := c.Query("project"); id != "" {
		p, err := s.store.Project(id)
		if err != nil {
			return err
		}
		if changes, err = s.store.ProjectChanges(id, maxExportChanges); err != nil {
			return err
		}
		slices.Reverse(changes) // oldest first, like the log
		name = "变更记录-" + p.ID
	} else {
		for since := uint64(0); len(changes) < maxExportChanges; {
			page, err := s.store.Changes(since, 1000)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			changes = append(changes, page...)
			since = page[len(page)-1].Rev
		}
	}
	kept := changes[:0]
	for _, ch := range changes {
		if (from.IsZero() || !ch.At.Before(from)) && (to.IsZero() || ch.At.Before(to)) {
			ch.At = ch.At.In(store.ZoneTime) // the office reads the zone's time
			kept = append(kept, ch)
		}
	}
	var buf bytes.Buffer
	if format == "csv" {
		err = sheet.WriteChangesCSV(&buf, kept)
	} else {
		err = sheet.WriteChangesXLSX(&buf, kept)
	}
	if err != nil {
		return err
	}
	return sendFile(c, name+"."+format, format, buf.Bytes())
}

// handleExportTemplate is GET /api/export/template: the import template.
func (s *Server) handleExportTemplate(c *fiber.Ctx) error {
	all, _ := s.store.Projects()
	var buf bytes.Buffer
	if err := sheet.WriteTemplate(&buf, departmentsOf(all), s.defaultYear()); err != nil {
		return err
	}
	return sendFile(c, "项目导入模板.xlsx", "xlsx", buf.Bytes())
}
