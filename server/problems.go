package server

import (
	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

// The problems register (问题台账): what holds a project up, who must act, who coordinates,
// and its way from 待协调 through 协调中 to 已解决. An editor raises and changes the problems
// of projects of their units; the office any.

// newProblemBody is what raising a problem takes.
type newProblemBody struct {
	Description string     `json:"description"`
	Unit        string     `json:"unit"`
	Leader      string     `json:"leader"`
	Due         store.Date `json:"due"`
}

func (s *Server) handleProjectProblems(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.store.Project(id); err != nil {
		return err
	}
	problems := s.store.Problems(store.ProblemFilter{ProjectID: id})
	if problems == nil {
		problems = []store.Problem{}
	}
	return c.JSON(fiber.Map{"problems": problems})
}

func (s *Server) handleProblemCreate(c *fiber.Ctx) error {
	var b newProblemBody
	present, err := decodeBody(c, &b, false)
	if err != nil {
		return err
	}
	if err := present.require("", "description"); err != nil {
		return err
	}
	// What the body leaves out takes the store's default: the project's unit and leader, no due date.
	patch := store.ProblemPatch{Description: &b.Description}
	if present["unit"] {
		patch.Unit = &b.Unit
	}
	if present["leader"] {
		patch.Leader = &b.Leader
	}
	if present["due"] {
		patch.Due = &b.Due
	}
	a := currentActor(c)
	id := c.Params("id")
	r, err := s.store.Apply(store.Edit{Kind: store.ChangeProblem, ProjectID: id, By: a.Name(), Actor: editActor(a),
		Problem: &store.ProblemEdit{Patch: patch}})
	if err != nil {
		return err
	}
	if r.Problem == nil {
		return errorf(fiber.StatusInternalServerError, "internal", "", "the store did not return the problem")
	}
	c.Set(fiber.HeaderETag, etag(r.Problem.Version))
	c.Set(fiber.HeaderLocation, "/api/problems/"+r.Problem.ID)
	return c.Status(fiber.StatusCreated).JSON(r.Problem)
}

func (s *Server) handleProblemList(c *fiber.Ctx) error {
	year, err := queryInt(c, "year", 0, 2000, 2100)
	if err != nil {
		return err
	}
	f := store.ProblemFilter{ProjectID: c.Query("project"), Department: c.Query("department"), Unit: c.Query("unit"),
		Year: int(year)}
	for _, q := range []struct{ name, v string }{{"project", f.ProjectID}, {"department", f.Department}, {"unit", f.Unit}} {
		if err := store.CheckText(q.name, q.v, 0, 100); err != nil {
			return errorf(fiber.StatusBadRequest, "bad_request", q.name, q.name+" must be at most 100 plain characters")
		}
	}
	// The counts are those of the other filters, so that the register's tabs (open, overdue,
	// resolved) show their totals whichever tab is chosen.
	counts := store.ProblemCounts{}
	today := s.today()
	for _, p := range s.store.Problems(f) {
		switch {
		case !p.Open():
			counts.Resolved++
		case p.Overdue(today):
			counts.Open++
			counts.Overdue++
		default:
			counts.Open++
		}
	}
	switch st := store.ProblemStatus(c.Query("status")); st {
	case "":
	case store.ProblemPending, store.ProblemCoordinating, store.ProblemResolved:
		f.Status = st
	default:
		return errorf(fiber.StatusBadRequest, "bad_request", "status", "status must be pending, coordinating or resolved")
	}
	for _, q := range []struct {
		name string
		to   *bool
	}{{"open", &f.Open}, {"overdue", &f.Overdue}} {
		switch c.Query(q.name) {
		case "", "0", "false":
		case "1", "true":
			*q.to = true
		default:
			return errorf(fiber.StatusBadRequest, "bad_request", q.name, q.name+" must be 1 or 0")
		}
	}
	problems := s.store.Problems(f)
	if problems == nil {
		problems = []store.Problem{}
	}
	return c.JSON(fiber.Map{"problems": problems, "counts": counts})
}

func (s *Server) handleProblemGet(c *fiber.Ctx) error {
	p, err := s.store.Problem(c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(p.Version))
	return c.JSON(p)
}

func (s *Server) handleProblemUpdate(c *fiber.Ctx) error {
	id := c.Params("id")
	p, err := s.store.Problem(id)
	if err != nil {
		return err
	}
	version, err := ifMatchVersion(c, true)
	if err != nil {
		return err
	}
	var patch store.ProblemPatch
	if _, err := decodeBody(c, &patch, false); err != nil {
		return err
	}
	a := currentActor(c)
	r, err := s.store.Apply(store.Edit{Kind: store.ChangeProblem, ProjectID: p.ProjectID, By: a.Name(), Actor: editActor(a),
		Problem: &store.ProblemEdit{ID: id, IfMatch: version, Patch: patch}})
	if err != nil {
		return err
	}
	out := p
	if r.Problem != nil {
		out = *r.Problem
	} else if out, err = s.store.Problem(id); err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(out.Version))
	return c.JSON(out)
}
