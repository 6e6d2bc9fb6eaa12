package store

import (
	"errors"
	"fmt"
	"strings"
)

// ImportRow is one data row of an office's sheet as the server parsed it: the cells that were
// filled, as a Patch, and the cells that could not be read.
type ImportRow struct {
	Line   int    // the row number as the office sees it in its sheet
	ID     string // the sheet's id cell; "" when the sheet has none
	Patch  Patch
	Errors []ImportError
}

// ImportError is one problem of one row, named as the office sees it.
type ImportError struct {
	Column    string `json:"column"`           // the header as written in the sheet, e.g. 总投资（万元）
	Letter    string `json:"letter,omitempty"` // the column letter, e.g. "I"
	Field     string `json:"field,omitempty"`  // the project field, e.g. investmentYuan
	Message   string `json:"message"`          // Chinese, e.g. 第 12 行「总投资」：不能为负数
	MessageEn string `json:"messageEn"`
}

// ImportStatus is what an import does to one row.
type ImportStatus string

// The statuses of a planned row.
const (
	ImportCreate    ImportStatus = "create"
	ImportUpdate    ImportStatus = "update"
	ImportUnchanged ImportStatus = "unchanged"
	ImportFailed    ImportStatus = "error"
)

// PlannedRow is what the import will do with one row.
type PlannedRow struct {
	Row       int                    `json:"row"`
	Status    ImportStatus           `json:"status"`
	ProjectID string                 `json:"projectId,omitempty"`
	Name      string                 `json:"name,omitempty"`
	Changes   map[string]FieldChange `json:"changes,omitempty"`
	Errors    []ImportError          `json:"errors,omitempty"`

	edit *Edit // the edit Apply commits; nil for unchanged rows and errors
}

// ImportCounts counts planned rows by status.
type ImportCounts struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Unchanged int `json:"unchanged"`
	Error     int `json:"error"`
}

// ImportPlan is a dry run: what applying the rows would change, row by row, against the
// projects as they were at revision Rev.
type ImportPlan struct {
	Year   int          `json:"year"`
	Rev    uint64       `json:"rev"`
	Counts ImportCounts `json:"counts"`
	Rows   []PlannedRow `json:"rows"`
}

// ImportOptions say how to plan an import.
type ImportOptions struct {
	// Year is the yearly list the rows belong to: rows without a year get it, and rows
	// without an id are matched by name among the projects of that year.
	Year int
	// Actor is the importing account, checked as an edit's (Edit.Actor); nil: no check.
	Actor *User
	// Column names a field's column as the sheet shows it (header and letter), for errors
	// found by validation.
	Column func(field string) (header, letter string)
	// Translate gives the Chinese form of a validation message (English when it has none).
	Translate func(msg string) string
}

// PlanImport works out, without writing anything, what importing rows would do: each row
// matched to a project by id when the sheet has one, else by name within the year; every
// row through the same validation and department check as an edit through the API.
func (s *Store) PlanImport(rows []ImportRow, opt ImportOptions) ImportPlan {
	s.mu.RLock()
	defer s.mu.RUnlock()
	today := s.today()
	plan := ImportPlan{Year: opt.Year, Rev: s.rev, Rows: make([]PlannedRow, 0, len(rows))}
	byName := map[string]*Project{}
	for _, p := range s.projects {
		if p.Year == opt.Year {
			byName[nameKey(p.Name)] = p
		}
	}
	seenID, seenName := map[string]int{}, map[string]int{}
	for _, r := range rows {
		pr := s.planRow(r, opt, today, byName, seenID, seenName)
		switch pr.Status {
		case ImportCreate:
			plan.Counts.Create++
		case ImportUpdate:
			plan.Counts.Update++
		case ImportUnchanged:
			plan.Counts.Unchanged++
		default:
			plan.Counts.Error++
		}
		plan.Rows = append(plan.Rows, pr)
	}
	return plan
}

func nameKey(name string) string { return strings.Join(strings.Fields(name), " ") }

func (s *Store) planRow(r ImportRow, opt ImportOptions, today Date, byName map[string]*Project,
	seenID, seenName map[string]int) PlannedRow {
	pr := PlannedRow{Row: r.Line, ProjectID: r.ID, Errors: r.Errors}
	if r.Patch.Name != nil {
		pr.Name = strings.TrimSpace(*r.Patch.Name)
	}
	fail := func(err error) PlannedRow {
		pr.Status, pr.Changes, pr.edit = ImportFailed, nil, nil
		if err != nil {
			pr.Errors = append(pr.Errors, importErrorOf(r.Line, err, opt))
		}
		return pr
	}
	if len(r.Errors) > 0 {
		return fail(nil)
	}
	// Which project is it?
	var before *Project
	if r.ID != "" {
		if err := checkID(r.ID); err != nil {
			return fail(err)
		}
		if first, dup := seenID[r.ID]; dup {
			return fail(invalid("id", "%s also appears in row %d", r.ID, first))
		}
		seenID[r.ID] = r.Line
		before = s.projects[r.ID]
	} else if pr.Name != "" {
		before = byName[nameKey(pr.Name)]
	}
	if pr.Name != "" {
		key := nameKey(pr.Name)
		if first, dup := seenName[key]; dup && r.ID == "" {
			return fail(invalid("name", "%q also appears in row %d", pr.Name, first))
		}
		seenName[key] = r.Line
	}
	if before == nil {
		// A new project of the year: the required fields must be in the row.
		p := Project{ID: r.ID, Year: opt.Year}
		if p.ID == "" {
			p.ID = "P" + strings.ToUpper(randomHex(5))
		}
		after, _ := r.Patch.Apply(p, today)
		for _, f := range []struct {
			field string
			empty bool
		}{{"name", after.Name == ""}, {"category", after.Category == ""}, {"sector", after.Sector == ""},
			{"department", after.Department == ""}, {"stage", after.Stage == ""}} {
			if f.empty {
				return fail(invalid(f.field, "is required for a new project"))
			}
		}
		after, err := PrepareNew(after, today) // as the writer will: implied dates, validation, rules
		if err != nil {
			return fail(err)
		}
		if err := mayEdit(opt.Actor, nil, &after); err != nil {
			return fail(err)
		}
		pr.Status, pr.ProjectID, pr.Name = ImportCreate, after.ID, after.Name
		pr.Changes = Diff(Project{}, after)
		pr.edit = &Edit{Kind: ChangeCreate, New: &after}
		return pr
	}
	pr.ProjectID = before.ID
	if pr.Name == "" {
		pr.Name = before.Name
	}
	if err := mayEdit(opt.Actor, before, nil); err != nil {
		return fail(err)
	}
	after, fields, err := r.Patch.Prepare(*before, today) // as the writer will: validation and rules
	if len(fields) == 0 && err == nil {
		pr.Status = ImportUnchanged
		return pr
	}
	if err != nil {
		return fail(err)
	}
	if err := mayEdit(opt.Actor, before, &after); err != nil {
		return fail(err)
	}
	patch := r.Patch
	pr.Status, pr.Changes = ImportUpdate, fields
	pr.edit = &Edit{Kind: ChangeUpdate, ProjectID: before.ID, IfMatch: before.Version, Patch: &patch}
	return pr
}

// importErrorOf names a refusal of a whole row as the office sees it.
func importErrorOf(line int, err error, opt ImportOptions) ImportError {
	var ve *ValidationError
	field, msg := "", err.Error()
	if errors.As(err, &ve) {
		field, msg = ve.Field, ve.Message
	} else if errors.Is(err, ErrForbidden) {
		msg = "is a project of a department you may not change"
	}
	header, letter := field, ""
	if opt.Column != nil && field != "" {
		if h, l := opt.Column(field); h != "" {
			header, letter = h, l
		}
	}
	zh := msg
	var re *RuleError
	if errors.As(err, &re) {
		zh = re.MessageZh
	} else if opt.Translate != nil {
		zh = opt.Translate(msg)
	}
	ie := ImportError{Column: header, Letter: letter, Field: field}
	if header == "" {
		ie.Message = fmt.Sprintf("第 %d 行：%s", line, zh)
		ie.MessageEn = fmt.Sprintf("row %d: %s", line, msg)
	} else {
		ie.Message = fmt.Sprintf("第 %d 行「%s」：%s", line, header, zh)
		ie.MessageEn = fmt.Sprintf("row %d, %s: %s", line, header, msg)
	}
	return ie
}

// ErrImportHasErrors means a plan with errors was applied without skipping them.
var ErrImportHasErrors = errors.New("the import has rows with errors; correct them, or apply the others only")

// ErrImportStale means a project the import changes was changed since the dry run.
var ErrImportStale = errors.New("projects changed since the dry run; run it again")

// ApplyImport commits what the plan showed, all or nothing, in one transaction: one
// revision per created or changed project, each change by by with the comment. It fails with
// ErrImportStale if any of those projects changed since the dry run (or a new project's id
// was taken meanwhile) and with ErrImportHasErrors if the plan has errors, unless
// skipErrors. It returns the last revision and the counts of what it did.
func (s *Store) ApplyImport(plan *ImportPlan, by, comment string, skipErrors bool) (uint64, ImportCounts, error) {
	var counts ImportCounts
	if plan.Counts.Error > 0 && !skipErrors {
		return 0, counts, ErrImportHasErrors
	}
	var edits []Edit
	for _, r := range plan.Rows {
		switch r.Status {
		case ImportCreate:
			counts.Create++
		case ImportUpdate:
			counts.Update++
		case ImportUnchanged:
			counts.Unchanged++
			continue
		default:
			counts.Error++
			continue
		}
		e := *r.edit
		if e.New != nil {
			p := *e.New
			e.New = &p
		}
		e.By, e.Comment = by, comment
		edits = append(edits, e)
	}
	if len(edits) == 0 {
		return s.Rev(), counts, nil
	}
	res, err := s.ApplyAtomic(edits)
	var vm *VersionMismatchError
	if errors.As(err, &vm) || errors.Is(err, ErrConflict) {
		return 0, ImportCounts{}, fmt.Errorf("%w: %v", ErrImportStale, err)
	}
	if err != nil {
		return 0, ImportCounts{}, err
	}
	var rev uint64
	for _, r := range res {
		if r.Change != nil && r.Change.Rev > rev {
			rev = r.Change.Rev
		}
	}
	return rev, counts, nil
}
