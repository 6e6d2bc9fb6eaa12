package server

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

// The yearly lists (项目库): a project may sit in several years' lists, a continuing (续建)
// project carried from one year into the next.

func (s *Server) handleYearList(c *fiber.Ctx) error {
	years := s.store.Years()
	if years == nil {
		years = []store.YearInfo{}
	}
	return c.JSON(fiber.Map{"current": s.currentYear(), "years": years})
}

// handleYearStart starts a year's lists (admin): the unfinished construction projects of the
// year before are carried over as continuing; the year's import adds the new ones.
func (s *Server) handleYearStart(c *fiber.Ctx) error {
	year, err := strconv.Atoi(c.Params("year"))
	if err != nil || year < 2000 || year > 2100 {
		e := errorf(fiber.StatusUnprocessableEntity, "invalid_value", "year", "year must be a year from 2000 to 2100")
		e.MessageZh = "年份应在 2000 到 2100 之间"
		return e
	}
	if err := noBody(c); err != nil {
		return err
	}
	a := currentActor(c)
	projects, err := s.store.StartYear(year, a.Name())
	if errors.Is(err, store.ErrConflict) {
		e := errorf(fiber.StatusConflict, "conflict", "year", fmt.Sprintf("the %d lists have already been started", year))
		e.MessageZh = fmt.Sprintf("%d 年度项目库已经建立", year)
		return e
	}
	if err != nil {
		return err
	}
	if projects == nil {
		projects = []store.Project{}
	}
	s.audit(c, store.AuditEvent{Type: auditYearStarted, Target: strconv.Itoa(year),
		Detail: fmt.Sprintf("%d projects carried over from %d", len(projects), year-1)})
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"year": year, "carried": len(projects), "projects": projects})
}
