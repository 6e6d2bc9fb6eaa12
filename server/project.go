package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// ifMatch reads the If-Match header: a strong ETag of a version. Weak or listed tags are
// refused because an update must name exactly one version.
func ifMatch(c *fiber.Ctx) (uint64, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" {
		return 0, errorf(fiber.StatusPreconditionRequired, "if_match_required", "If-Match",
			`send If-Match: "<version>" with the version you last read`)
	}
	if h == "*" {
		return 0, errorf(fiber.StatusBadRequest, "bad_request", "If-Match", `If-Match must name a version, not "*"`)
	}
	if strings.HasPrefix(h, "W/") || len(h) < 3 || h[0] != '"' || h[len(h)-1] != '"' {
		return 0, errorf(fiber.StatusBadRequest, "bad_request", "If-Match", `If-Match must be a strong ETag such as "3"`)
	}
	v, err := strconv.ParseUint(h[1:len(h)-1], 10, 64)
	if err != nil || v == 0 {
		return 0, errorf(fiber.StatusBadRequest, "bad_request", "If-Match", `If-Match must be a strong ETag such as "3"`)
	}
	return v, nil
}

// requireJSON refuses a body that is not declared as JSON (also a CSRF guard: a form post
// cannot send it without a preflight).
func requireJSON(c *fiber.Ctx) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationJSON {
		return errorf(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "", "send the body as application/json")
	}
	return nil
}

// decodeStrict decodes a JSON body into v, refusing unknown fields and trailing data.
func decodeStrict(c *fiber.Ctx, v any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	body := c.Body()
	if !utf8.Valid(body) {
		return errorf(fiber.StatusBadRequest, "bad_json", "", "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errorf(fiber.StatusUnprocessableEntity, "wrong_type", te.Field, te.Field+" has the wrong type")
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return errorf(fiber.StatusBadRequest, "unknown_field", f, "unknown field "+f)
		}
		return errorf(fiber.StatusBadRequest, "bad_json", "", "body is not valid JSON: "+err.Error())
	}
	if dec.More() {
		return errorf(fiber.StatusBadRequest, "bad_json", "", "body has data after the JSON value")
	}
	return nil
}

// editActor is the account the writer checks an actor's edit against (store.Edit.Actor). A
// display token has none: it stands for an account that may change nothing.
func editActor(a *actor) *store.User {
	if a.User == nil {
		return &store.User{Role: store.RoleDisplay}
	}
	return a.User
}

func (s *Server) handleProjectList(c *fiber.Ctx) error {
	if c.Query("format") != "" {
		return s.handleExportProjects(c) // ?format=xlsx|csv: the register as a file, as /api/export/projects
	}
	projects, rev := s.store.Projects()
	return c.JSON(fiber.Map{"rev": rev, "projects": projects})
}

func (s *Server) handleProjectGet(c *fiber.Ctx) error {
	p, err := s.store.Project(c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(p.Version))
	return c.JSON(p)
}

func (s *Server) handleProjectCreate(c *fiber.Ctx) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	p, comment, err := decodeNewProject(c.Body())
	if err != nil {
		return err
	}
	a := currentActor(c)
	r, err := s.store.Apply(store.Edit{Kind: store.ChangeCreate, New: &p, By: a.Name(), Comment: comment, Actor: editActor(a)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(r.Project.Version))
	c.Set(fiber.HeaderLocation, "/api/projects/"+r.Project.ID)
	return sendProject(c.Status(fiber.StatusCreated), r)
}

func (s *Server) handleProjectUpdate(c *fiber.Ctx) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	patch, err := decodePatch(c.Body())
	if err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	a := currentActor(c)
	r, err := s.store.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: c.Params("id"), IfMatch: version,
		Patch: patch, By: a.Name(), Comment: patch.Comment, Actor: editActor(a)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(r.Project.Version))
	return sendProject(c, r)
}

// sendProject answers with the project an edit left, sending the bytes the commit stored
// when there are some (they are what encoding the project gives) rather than encoding it again.
func sendProject(c *fiber.Ctx, r store.Result) error {
	if r.ProjectJSON == nil {
		return c.JSON(r.Project)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(r.ProjectJSON)
}

func (s *Server) handleProjectDelete(c *fiber.Ctx) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	a := currentActor(c)
	_, err = s.store.Apply(store.Edit{Kind: store.ChangeDelete, ProjectID: c.Params("id"), IfMatch: version,
		By: a.Name(), Comment: c.Query("comment")})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// queryInt reads a whole-number query parameter within [min, max], def when absent.
func queryInt(c *fiber.Ctx, name string, def, min, max int64) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, errorf(fiber.StatusBadRequest, "bad_request", name,
			fmt.Sprintf("%s must be a whole number from %d to %d", name, min, max))
	}
	return n, nil
}

func (s *Server) handleProjectChanges(c *fiber.Ctx) error {
	id := c.Params("id")
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	changes, err := s.store.ProjectChanges(id, int(limit))
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		if _, err := s.store.Project(id); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"changes": changes})
}

func (s *Server) handleChanges(c *fiber.Ctx) error {
	since, err := queryInt(c, "since", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	changes, err := s.store.Changes(uint64(since), int(limit))
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []store.Change{}
	}
	return c.JSON(fiber.Map{"changes": changes})
}

func (s *Server) handleSummary(c *fiber.Ctx) error {
	year, err := queryInt(c, "year", 0, 2000, 2100)
	if err != nil {
		return err
	}
	f := store.SummaryFilter{Year: int(year), Category: store.Category(c.Query("category")),
		Department: c.Query("department"), Sector: c.Query("sector")}
	if f.Category != "" && !validCategory(f.Category) {
		return errorf(fiber.StatusBadRequest, "bad_request", "category", "category must be planned, unplanned or attraction")
	}
	if f == (store.SummaryFilter{}) {
		return s.feed.sendSummary(c)
	}
	return c.JSON(s.store.Summary(f))
}

func validCategory(c store.Category) bool {
	for _, k := range store.Categories {
		if c == k {
			return true
		}
	}
	return false
}

func (s *Server) handleMeta(c *fiber.Ctx) error {
	// now is the server's clock (moved with --clock): the pages take months, deadlines and
	// overdue problems from it, not from the browser's date.
	return c.JSON(fiber.Map{"build": s.cfg.Build, "epoch": s.store.Epoch(), "rev": s.store.Rev(),
		"zone": "长春净月高新区", "stages": store.Stages, "categories": store.Categories,
		"now": s.cfg.Now().UTC().Format(time.RFC3339Nano)})
}
