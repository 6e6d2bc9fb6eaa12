package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"mime"
	"mime/multipart"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/sheet"
	"projectboard/store"
)

const (
	// importTTL is how long a dry run can be applied.
	importTTL = 30 * time.Minute
	// maxPendingImports bounds the dry runs kept in memory; the oldest goes first.
	maxPendingImports = 32
)

// pendingImport is a dry run waiting to be applied by the account that made it.
type pendingImport struct {
	ID       string
	Owner    string // actor name
	FileName string
	Expires  time.Time
	Plan     store.ImportPlan
	Result   importResult
	Sheet    *parsedSheet // kept for the errors download
}

// imports holds the dry runs; they are small (a plan of 10,000 rows is a few MB) and few.
type imports struct {
	mu      sync.Mutex
	pending map[string]*pendingImport
}

func (im *imports) put(p *pendingImport, now time.Time) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.pending == nil {
		im.pending = map[string]*pendingImport{}
	}
	var oldest *pendingImport
	for id, q := range im.pending {
		if now.After(q.Expires) {
			delete(im.pending, id)
		} else if oldest == nil || q.Expires.Before(oldest.Expires) {
			oldest = q
		}
	}
	if len(im.pending) >= maxPendingImports && oldest != nil {
		delete(im.pending, oldest.ID)
	}
	im.pending[p.ID] = p
}

func (im *imports) get(id, owner string, now time.Time) (*pendingImport, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	p := im.pending[id]
	if p == nil || now.After(p.Expires) {
		return nil, errorf(fiber.StatusNotFound, "not_found", "", "no such dry run: it expired after 30 minutes, was applied, or never existed; run the dry run again")
	}
	if p.Owner != owner {
		return nil, errorf(fiber.StatusForbidden, "forbidden", "", "this dry run was made by another account")
	}
	return p, nil
}

func (im *imports) remove(id string) {
	im.mu.Lock()
	delete(im.pending, id)
	im.mu.Unlock()
}

// importResult is the dry run's answer.
type importResult struct {
	ID        string             `json:"id"`
	FileName  string             `json:"fileName"`
	Format    string             `json:"format"`
	Sheet     string             `json:"sheet,omitempty"`
	HeaderRow int                `json:"headerRow"`
	Year      int                `json:"year"`
	Columns   []importColumn     `json:"columns"`
	Unmatched []string           `json:"unmatched"`
	Notes     []importNote       `json:"notes"`
	Counts    store.ImportCounts `json:"counts"`
	Rows      []store.PlannedRow `json:"rows"`
	ExpiresAt time.Time          `json:"expiresAt"`
}

type importColumn struct {
	Letter string `json:"letter"`
	Header string `json:"header"`
	Field  string `json:"field"`
	Unit   string `json:"unit,omitempty"`
}

// uploadedFile reads the file of an import: a browser upload (multipart/form-data with a
// field "file") or the file itself as the body, named by ?filename= or X-Filename. It runs
// after the login check: nothing of the body is parsed before.
func uploadedFile(c *fiber.Ctx) (name string, data []byte, err error) {
	body := c.Body()
	if len(body) > maxUpload {
		return "", nil, errorf(fiber.StatusRequestEntityTooLarge, "too_large", "file", "the file is larger than 20 MB")
	}
	ct, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ct == "multipart/form-data" {
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := r.NextPart()
			if err != nil {
				return "", nil, errorf(fiber.StatusBadRequest, "bad_request", "file", "send the file as the form field \"file\"")
			}
			if part.FormName() != "file" {
				continue
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(part); err != nil {
				return "", nil, errorf(fiber.StatusBadRequest, "bad_request", "file", "the upload was cut short")
			}
			return cleanFileName(part.FileName()), buf.Bytes(), nil
		}
	}
	name = c.Query("filename")
	if name == "" {
		name, _ = url.QueryUnescape(c.Get("X-Filename"))
	}
	return cleanFileName(name), body, nil
}

// cleanFileName keeps the base name of an uploaded file, as plain text of at most 100
// characters: it goes into change comments.
func cleanFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		name = ""
	}
	var b strings.Builder
	n := 0
	for _, r := range name {
		if store.CheckText("f", string(r), 0, 1) != nil {
			continue
		}
		if n == 100 {
			break
		}
		b.WriteRune(r)
		n++
	}
	if b.Len() == 0 {
		return "upload"
	}
	return b.String()
}

func newImportID() string {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "imp_" + hex.EncodeToString(b)
}

// handleImportDryRun is POST /api/imports?dryRun=true: it reads the file and shows what
// applying it would change, writing nothing.
func (s *Server) handleImportDryRun(c *fiber.Ctx) error {
	if c.Query("dryRun") != "true" {
		return errorf(fiber.StatusBadRequest, "bad_request", "dryRun", "an import starts with a dry run: POST /api/imports?dryRun=true, then POST /api/imports/{id}/apply")
	}
	year, err := queryInt(c, "year", int64(s.defaultYear()), 2000, 2100)
	if err != nil {
		return err
	}
	name, data, err := uploadedFile(c)
	if err != nil {
		return err
	}
	sheet, err := parseSheet(name, data)
	if err != nil {
		return err
	}
	a := currentActor(c)
	plan := s.store.PlanImport(sheet.Rows, store.ImportOptions{Year: int(year), Actor: editActor(a),
		Column: sheet.column, Translate: zhMessage})
	now := s.cfg.Now()
	p := &pendingImport{ID: newImportID(), Owner: a.Name(), FileName: name, Expires: now.Add(importTTL), Plan: plan, Sheet: sheet}
	p.Result = importResult{ID: p.ID, FileName: name, Format: sheet.Format, Sheet: sheet.Sheet, HeaderRow: sheet.HeaderRow,
		Year: int(year), Columns: sheet.Columns, Unmatched: sheet.Unmatched, Notes: sheet.Notes, Counts: plan.Counts, Rows: plan.Rows,
		ExpiresAt: p.Expires}
	if p.Result.Notes == nil {
		p.Result.Notes = []importNote{}
	}
	s.imports.put(p, now)
	return c.JSON(p.Result)
}

// handleImportApply is POST /api/imports/{id}/apply: it commits exactly what the dry run
// showed, in one transaction, or nothing.
func (s *Server) handleImportApply(c *fiber.Ctx) error {
	a := currentActor(c)
	p, err := s.imports.get(c.Params("id"), a.Name(), s.cfg.Now())
	if err != nil {
		return err
	}
	rev, counts, err := s.store.ApplyImport(&p.Plan, a.Name(), "导入 "+p.FileName, c.Query("skipErrors") == "true")
	switch {
	case errors.Is(err, store.ErrImportHasErrors):
		return errorf(fiber.StatusConflict, "import_has_errors", "", err.Error())
	case errors.Is(err, store.ErrImportStale):
		s.imports.remove(p.ID)
		return errorf(fiber.StatusConflict, "import_stale", "", "projects of this import were changed since the dry run; run the dry run again")
	case err != nil:
		return err
	}
	s.imports.remove(p.ID)
	return c.JSON(fiber.Map{"rev": rev, "counts": counts})
}

// defaultYear is the year of the newest yearly list, the one an import goes to by default.
func (s *Server) defaultYear() int {
	projects, _ := s.store.Projects()
	y := 0
	for _, p := range projects {
		y = max(y, p.Year)
	}
	if y == 0 {
		y = s.cfg.Now().In(store.ZoneTime).Year()
	}
	return y
}

// zhMessage gives the Chinese form of the store's validation messages, for errors shown to
// an office in its own terms; a message it does not know stays in English.
func zhMessage(msg string) string {
	if m := betweenPattern.FindStringSubmatchIndex(msg); m != nil {
		return msg[:m[0]] + "必须在 " + msg[m[2]:m[3]] + " 到 " + msg[m[4]:m[5]] + " 之间" + msg[m[1]:]
	}
	for _, t := range zhMessages {
		if strings.Contains(msg, t.en) {
			return strings.Replace(msg, t.en, t.zh, 1)
		}
	}
	return msg
}

// betweenPattern is a range message with its bounds, whatever they are ("must be between 0
// and 1000000000000000"): a fixed text would match a prefix of a longer bound.
var betweenPattern = regexp.MustCompile(`must be between (\S+) and ([^\s,;.]+)`)

var zhMessages = []struct{ en, zh string }{
	{"must not be negative", "不能为负数"},
	{"is required for a new project", "新项目必须填写"},
	{"is required", "必须填写"},
	{"has more than", "字数超过上限："},
	{"contains a control or invisible character", "含有控制字符或不可见字符"},
	{"is not valid UTF-8", "不是有效的文字编码"},
	{"is larger than", "金额过大："},
	{"must be one of planned, unplanned, attraction", "应为 计划内 / 计划外 / 招商引资"},
	{"must be one of", "取值无效，应为："},
	{"is before startedAt", "早于实际开工时间"},
	{"is before plannedStart", "早于计划开工时间"},
	{"is a project of a department you may not change", "属于您无权修改的责任单位"},
	{"also appears in row", "与另一行重复："},
	{"may hold only letters, digits", "只能包含字母、数字、'-'、'_'、'.'"},
	{"must have 1 to 64 characters", "应为 1 到 64 个字符"},
}

// handleImportErrors is GET /api/imports/{id}/errors: the rows with errors as XLSX, with a
// column 错误, for the office to correct and import again.
func (s *Server) handleImportErrors(c *fiber.Ctx) error {
	p, err := s.imports.get(c.Params("id"), currentActor(c).Name(), s.cfg.Now())
	if err != nil {
		return err
	}
	// The file's own errors are on its rows already; add those the dry run found (a domain
	// rule, another department, a duplicate), so every refused row is in the file.
	t := *p.Sheet.table
	t.Rows = append([]sheet.Row(nil), t.Rows...)
	for i, pr := range p.Plan.Rows {
		if i >= len(t.Rows) || pr.Status != store.ImportFailed || len(t.Rows[i].Errors) > 0 {
			continue
		}
		for _, e := range pr.Errors {
			t.Rows[i].Errors = append(t.Rows[i].Errors, sheet.CellError{Column: e.Column, Letter: e.Letter, Field: e.Field,
				Message: e.Message, MessageEn: e.MessageEn})
		}
	}
	var buf bytes.Buffer
	if err := sheet.WriteErrorsXLSX(&buf, &t); err != nil {
		return err
	}
	return sendFile(c, "导入错误-"+strings.TrimSuffix(p.FileName, filepath.Ext(p.FileName))+".xlsx", "xlsx", buf.Bytes())
}
