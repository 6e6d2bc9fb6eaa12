package server

import (
	"github.com/gofiber/fiber/v2"
)

// Access is who may call a route.
type Access int

// The access levels, from most open to most closed.
const (
	Public Access = iota // anyone
	Reader               // any session or token, display tokens included
	Editor               // editors and admins (department limits are checked per project)
	Admin                // admins
)

// Route is one entry of the route table.
type Route struct {
	Method  string
	Path    string
	Access  Access
	Handler fiber.Handler
}

// Routes is the whole API, in one readable block. The role-matrix test walks it, so a new
// route cannot be forgotten.
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", "/healthz", Public, s.handleHealth},
		{"POST", "/api/session", Public, s.handleLogin},
		{"DELETE", "/api/session", Reader, s.handleLogout},
		{"GET", "/api/me", Reader, s.handleMe},
		{"GET", "/api/meta", Reader, s.handleMeta},

		{"GET", "/api/projects", Reader, s.handleProjectList},
		{"POST", "/api/projects", Editor, s.handleProjectCreate},
		{"GET", "/api/projects/:id", Reader, s.handleProjectGet},
		{"PATCH", "/api/projects/:id", Editor, s.handleProjectUpdate},
		{"DELETE", "/api/projects/:id", Admin, s.handleProjectDelete},
		{"GET", "/api/projects/:id/changes", Reader, s.handleProjectChanges},
		{"GET", "/api/changes", Reader, s.handleChanges},
		{"GET", "/api/summary", Reader, s.handleSummary},

		// The monthly cycle (docs/api.md, "The monthly cycle"). Office-only steps (approve,
		// return, close) are Editor routes whose handlers check the office (actor.office).
		{"GET", "/api/years", Reader, s.handleYearList},
		{"POST", "/api/years/:year/start", Admin, s.handleYearStart},
		{"GET", "/api/months", Reader, s.handleMonthList},
		{"GET", "/api/months/:month/summary", Reader, s.handleMonthSummary},
		{"GET", "/api/months/:month/compare", Reader, s.handleMonthCompare},
		{"GET", "/api/months/:month/bulletin", Reader, s.handleMonthBulletin},
		{"POST", "/api/months/:month/close", Editor, s.handleMonthClose},
		{"POST", "/api/months/:month/reopen", Admin, s.handleMonthReopen},
		{"GET", "/api/months/:month/reports", Reader, s.handleMonthReports},
		{"POST", "/api/months/:month/reports", Editor, s.handleMonthReportsSubmit},
		{"GET", "/api/projects/:id/reports", Reader, s.handleProjectReports},
		{"GET", "/api/projects/:id/reports/:month", Reader, s.handleReportGet},
		{"PUT", "/api/projects/:id/reports/:month", Editor, s.handleReportPut},
		{"POST", "/api/projects/:id/reports/:month/approve", Editor, s.handleReportApprove},
		{"POST", "/api/projects/:id/reports/:month/return", Editor, s.handleReportReturn},
		{"GET", "/api/settings/warnings", Reader, s.handleWarningRulesGet},
		{"PUT", "/api/settings/warnings", Admin, s.handleWarningRulesPut},
		{"GET", "/api/settings/webhooks", Admin, s.handleWebhooksGet},
		{"PUT", "/api/settings/webhooks", Admin, s.handleWebhooksPut},
		{"POST", "/api/settings/webhooks/test", Admin, s.handleWebhookTest},
		{"GET", "/api/webhooks/deliveries", Admin, s.handleWebhookDeliveries},
		{"GET", "/api/projects/:id/problems", Reader, s.handleProjectProblems},
		{"POST", "/api/projects/:id/problems", Editor, s.handleProblemCreate},
		{"GET", "/api/problems", Reader, s.handleProblemList},
		{"GET", "/api/problems/:id", Reader, s.handleProblemGet},
		{"PATCH", "/api/problems/:id", Editor, s.handleProblemUpdate},

		{"POST", "/api/imports", Editor, s.handleImportDryRun},
		{"POST", "/api/imports/:id/apply", Editor, s.handleImportApply},
		{"GET", "/api/imports/:id/errors", Editor, s.handleImportErrors},
		{"GET", "/api/export/projects", Reader, s.handleExportProjects},
		{"GET", "/api/export/changes", Reader, s.handleExportChanges},
		{"GET", "/api/export/template", Reader, s.handleExportTemplate},
		{"GET", "/api/export/reports", Reader, s.handleExportBulletin},
		{"GET", "/api/export/problems", Reader, s.handleExportProblems},
		{"GET", "/api/export/report-template", Reader, s.handleExportReportTemplate},
		{"POST", "/api/imports/reports", Editor, s.handleImportReports},

		{"GET", "/api/users", Admin, s.handleUserList},
		{"POST", "/api/users", Admin, s.handleUserCreate},
		{"PATCH", "/api/users/:username", Admin, s.handleUserUpdate},
		{"DELETE", "/api/users/:username", Admin, s.handleUserDelete},
		{"GET", "/api/tokens", Admin, s.handleTokenList},
		{"POST", "/api/tokens", Admin, s.handleTokenCreate},
		{"DELETE", "/api/tokens/:id", Admin, s.handleTokenDelete},
		{"POST", "/api/screens/reload", Admin, s.handleScreensReload},
		{"GET", "/api/audit", Admin, s.handleAudit},
		{"GET", "/api/admin/backup", Admin, s.handleBackup},
		{"GET", "/metrics", Admin, s.metrics.handler()},

		{"GET", "/ws", Reader, s.handleWebsocket()},
	}
}

func (s *Server) routes() {
	app := s.app
	app.Use(s.metrics.countRequests)
	app.Use(s.securityHeaders)
	app.Use(s.checkOrigin)
	app.Use(s.forwardWrites)
	for _, r := range s.Routes() {
		app.Add(r.Method, r.Path, s.authorize(r.Access), r.Handler)
	}
	app.All("/api/*", func(c *fiber.Ctx) error {
		return errorf(fiber.StatusNotFound, "not_found", "", "no such API route")
	})
	app.Use(s.handleStatic)
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}
