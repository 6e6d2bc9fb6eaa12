package store

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxYuan bounds every amount of money: a trillion yuan is beyond any single project.
const MaxYuan int64 = 1_000_000_000_000_000

// CheckText is the one validation of free text, on every route that takes some: valid UTF-8,
// between min and max characters, and nothing invisible or misleading — no control
// characters (C0, DEL, C1), no format characters (Unicode Cf: bidirectional overrides and
// isolates such as U+202E, zero-width spaces and joiners, the BOM) and no line or paragraph
// separators. Single-line fields (names) refuse newlines and tabs too; see CheckLongText.
func CheckText(field, v string, min, max int) error { return checkTextOf(field, v, min, max, false) }

// CheckLongText is CheckText for multi-line text (notes, comments): newlines and tabs are allowed.
func CheckLongText(field, v string, min, max int) error { return checkTextOf(field, v, min, max, true) }

func checkText(field, v string, min, max int) error { return checkTextOf(field, v, min, max, false) }

func checkTextOf(field, v string, min, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return invalid(field, "is not valid UTF-8")
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return invalid(field, "is required")
		}
		return invalid(field, "needs at least %d characters", min)
	}
	if n > max {
		return invalid(field, "has more than %d characters", max)
	}
	for _, r := range v {
		if unsafeRune(r, multiline) {
			return invalid(field, "contains a control or invisible character (U+%04X)", r)
		}
	}
	return nil
}

// unsafeRune reports whether r may not appear in stored text.
func unsafeRune(r rune, multiline bool) bool {
	if r == '\n' || r == '\t' {
		return !multiline
	}
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

func checkYuan(field string, v int64) error {
	if v < 0 {
		return invalid(field, "must not be negative")
	}
	if v > MaxYuan {
		return invalid(field, "is larger than %d yuan", MaxYuan)
	}
	return nil
}

// MaxComment is the longest comment a change may carry.
const MaxComment = 500

// CheckComment validates a change's comment, the same for every route that takes one.
func CheckComment(c string) error { return CheckLongText("comment", c, 0, MaxComment) }

// Validate checks every field of p; it returns a *ValidationError naming the first bad one.
func (p *Project) Validate() error {
	if err := checkID(p.ID); err != nil {
		return err
	}
	checks := []error{
		checkText("name", strings.TrimSpace(p.Name), 1, 200),
		checkText("sector", p.Sector, 1, 50),
		checkText("department", p.Department, 1, 50),
		checkText("leader", p.Leader, 0, 100),
		CheckLongText("note", p.Note, 0, 2000),
		checkYuan("investmentYuan", p.InvestmentYuan),
		checkYuan("annualPlanYuan", p.AnnualPlanYuan),
		checkYuan("investmentCompletedYuan", p.InvestmentCompletedYuan),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if !p.Category.valid() {
		return invalid("category", "must be one of planned, unplanned, attraction")
	}
	if p.Stage.Index() < 0 {
		return invalid("stage", "must be one of %s", stageList())
	}
	if p.Year < 2000 || p.Year > 2100 {
		return invalid("year", "must be between 2000 and 2100")
	}
	if p.Progress < 0 || p.Progress > 100 {
		return invalid("progress", "must be between 0 and 100")
	}
	dates := []struct {
		field string
		v     Date
	}{{"plannedStart", p.PlannedStart}, {"startedAt", p.StartedAt}, {"resumedAt", p.ResumedAt},
		{"plannedCompletion", p.PlannedCompletion}, {"completedAt", p.CompletedAt}}
	for _, d := range dates {
		if _, err := ParseDate(string(d.v)); err != nil {
			return invalid(d.field, "%s", err.Error())
		}
	}
	if p.StartedAt != "" && p.CompletedAt != "" && p.CompletedAt < p.StartedAt {
		return invalid("completedAt", "is before startedAt (%s)", p.StartedAt)
	}
	if p.ResumedAt != "" {
		switch {
		case p.StartedAt == "":
			return invalid("resumedAt", "needs startedAt: only a project that started can restart")
		case p.ResumedAt < p.StartedAt:
			return invalid("resumedAt", "is before startedAt (%s)", p.StartedAt)
		case p.CompletedAt != "" && p.CompletedAt < p.ResumedAt:
			return invalid("resumedAt", "is after completedAt (%s)", p.CompletedAt)
		}
	}
	if p.PlannedStart != "" && p.PlannedCompletion != "" && p.PlannedCompletion < p.PlannedStart {
		return invalid("plannedCompletion", "is before plannedStart (%s)", p.PlannedStart)
	}
	return nil
}

func stageList() string {
	s := make([]string, len(Stages))
	for i, st := range Stages {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func checkID(id string) error {
	if id == "" || len(id) > 64 {
		return invalid("id", "must have 1 to 64 characters")
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return invalid("id", "may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}
