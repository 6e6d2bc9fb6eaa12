package store

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// seedColumns are the columns of a project data file, in order.
var seedColumns = []string{"id", "name", "category", "year", "sector", "department", "leader", "stage",
	"investmentYuan", "annualPlanYuan", "investmentCompletedYuan", "progress", "plannedStart", "startedAt",
	"resumedAt", "plannedCompletion", "completedAt", "onHold", "note"}

// ReadProjectsCSV parses a project data file (UTF-8, an optional BOM, a header row naming
// seedColumns in order) and checks every row as a new project (Validate and the domain
// rules). An error names the line and the field.
func ReadProjectsCSV(r io.Reader) ([]Project, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = len(seedColumns)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if strings.Join(header, ",") != strings.Join(seedColumns, ",") {
		return nil, fmt.Errorf("header: want %s", strings.Join(seedColumns, ","))
	}
	var out []Project
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		p, err := projectFromRecord(rec)
		if err == nil {
			err = p.Validate()
		}
		if err == nil {
			err = CheckRules(nil, &p)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("line %d: %w", line, invalid("id", "%q appears twice", p.ID))
		}
		seen[p.ID] = true
		out = append(out, p)
	}
	return out, nil
}

func projectFromRecord(rec []string) (Project, error) {
	p := Project{ID: rec[0], Name: rec[1], Category: Category(rec[2]), Sector: rec[4], Department: rec[5],
		Leader: rec[6], Stage: Stage(rec[7]), Note: rec[18]}
	ints := []struct {
		field string
		s     string
		dst   *int64
	}{{"investmentYuan", rec[8], &p.InvestmentYuan}, {"annualPlanYuan", rec[9], &p.AnnualPlanYuan},
		{"investmentCompletedYuan", rec[10], &p.InvestmentCompletedYuan}}
	for _, f := range ints {
		v, err := strconv.ParseInt(strings.TrimSpace(f.s), 10, 64)
		if err != nil {
			return p, invalid(f.field, "%q is not a whole number of yuan", f.s)
		}
		*f.dst = v
	}
	var err error
	if p.Year, err = strconv.Atoi(rec[3]); err != nil {
		return p, invalid("year", "%q is not a year", rec[3])
	}
	if p.Progress, err = strconv.Atoi(rec[11]); err != nil {
		return p, invalid("progress", "%q is not a whole number", rec[11])
	}
	for i, dst := range []*Date{&p.PlannedStart, &p.StartedAt, &p.ResumedAt, &p.PlannedCompletion, &p.CompletedAt} {
		d, err := ParseDate(rec[12+i])
		if err != nil {
			return p, invalid(seedColumns[12+i], "%s", err.Error())
		}
		*dst = d
	}
	switch rec[17] {
	case "true":
		p.OnHold = true
	case "false", "":
	default:
		return p, invalid("onHold", "%q is not true or false", rec[17])
	}
	return p, nil
}

// Empty reports whether the database has never held a project.
func (s *Store) Empty() bool { return s.Rev() == 0 && s.Len() == 0 }

// Seed creates the given projects, each as a create change by the given actor, in one
// transaction: a crash during the import leaves either all of them or none, so an
// interrupted first start imports again.
func (s *Store) Seed(projects []Project, by, comment string) error {
	edits := make([]Edit, len(projects))
	for i := range projects {
		p := projects[i]
		edits[i] = Edit{Kind: ChangeCreate, New: &p, By: by, Comment: comment}
	}
	_, err := s.ApplyAtomic(edits)
	return err
}
