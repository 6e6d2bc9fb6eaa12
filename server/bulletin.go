package server

// The month's bulletin (通报) as JSON, for the printed bulletin (/bulletin in the UI). The
// figures are the XLSX bulletin's (GET /api/export/reports, reportsheet.go), counted by the
// same code in server/sheet; docs/api.md describes the answer.

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

// bulletinJSON is the answer of GET /api/months/:month/bulletin.
type bulletinJSON struct {
	Month    store.Month       `json:"month"`
	Status   store.MonthStatus `json:"status"`
	Snapshot int               `json:"snapshot"` // 0 for an open month's live figures
	ClosedAt *time.Time        `json:"closedAt"`
	ClosedBy string            `json:"closedBy"`
	Rev      uint64            `json:"rev"`
	// Department is set for one unit's bulletin; the zone's rates are then absent.
	Department string `json:"department,omitempty"`
	// GeneratedAt is the server's clock when the bulletin was put together (its date is printed).
	GeneratedAt time.Time            `json:"generatedAt"`
	Title       bulletinTitle        `json:"title"`
	Totals      sheet.BulletinTotals `json:"totals"`
	Units       []sheet.BulletinUnit `json:"units"`
	Projects    []bulletinProject    `json:"projects"`
}

// bulletinTitle is the XLSX bulletin's title in both languages.
type bulletinTitle struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

// bulletinProject is a line of 项目明细: the month's figures of the project, its 投资完成率
// and the 存在问题 of its report (the sheet also lists OpenProblems, the register's count).
type bulletinProject struct {
	store.ProjectFigures
	InvestmentRate *float64 `json:"investmentRate"`
	ProblemsText   string   `json:"problemsText"`
}

// handleMonthBulletin is GET /api/months/:month/bulletin[?department=]: what the XLSX bulletin
// of the month holds (frozen figures for a closed month, live ones for an open month).
func (s *Server) handleMonthBulletin(c *fiber.Ctx) error {
	m, err := monthParam(c, "month")
	if err != nil {
		return err
	}
	view, err := s.store.MonthView(m)
	if err != nil {
		return err
	}
	dept := c.Query("department")
	view = departmentBulletin(view, dept)
	problems := map[string]string{}
	for _, r := range s.store.Reports(m, dept) {
		if r.Report != nil && r.Report.ProblemsText != "" {
			problems[r.Project.ID] = r.Report.ProblemsText
		}
	}
	out := bulletinJSON{Month: view.Month, Status: view.Status, Snapshot: view.Snapshot, ClosedAt: view.ClosedAt,
		ClosedBy: view.ClosedBy, Rev: view.Rev, Department: dept, GeneratedAt: s.cfg.Now(),
		Title:  bulletinTitle{Zh: sheet.BulletinTitle(m, "zh"), En: sheet.BulletinTitle(m, "en")},
		Totals: sheet.BulletinTotalsOf(view), Units: sheet.BulletinUnits(view), Projects: make([]bulletinProject, 0, len(view.Projects))}
	for _, p := range view.Projects {
		line := bulletinProject{ProjectFigures: p, ProblemsText: problems[p.ID]}
		if p.AnnualPlanYuan > 0 {
			r := float64(p.InvestmentCompletedYuan) / float64(p.AnnualPlanYuan)
			line.InvestmentRate = &r
		}
		out.Projects = append(out.Projects, line)
	}
	c.Set("X-Projectboard-Rev", fmt.Sprint(view.Rev))
	return c.JSON(out)
}

// departmentBulletin narrows a month's figures to one unit's projects and report status; the
// zone's 开复工率 and 竣工率 are left out (they are the zone's), 序时进度 stays. An empty
// department is the whole zone: view itself.
func departmentBulletin(view *store.MonthView, dept string) *store.MonthView {
	if dept == "" {
		return view
	}
	v := *view
	v.Projects = nil
	for _, p := range view.Projects {
		if p.Department == dept {
			v.Projects = append(v.Projects, p)
		}
	}
	v.Units = nil
	for _, u := range view.Units {
		if u.Department == dept {
			v.Units = append(v.Units, u)
		}
	}
	if view.Summary != nil {
		v.Summary = &store.Summary{ElapsedShare: view.Summary.ElapsedShare, ElapsedMonths: view.Summary.ElapsedMonths}
	}
	return &v
}
