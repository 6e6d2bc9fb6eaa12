package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"projectboard/store"
)

// The bodies of a project's create (POST) and update (PATCH), decoded into store values: the
// server parses requests, the store checks the domain's rules.

// maxBodyFields bounds the keys of a decoded body so a huge object is refused early.
const maxBodyFields = 64

// decodePatch parses a PATCH body. A bad value gives a *store.ValidationError naming its
// field, an unknown field an *unknownFieldError, a body that is not a JSON object a
// *syntaxError.
func decodePatch(body []byte) (*store.Patch, error) {
	raw, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	return patchFromFields(raw)
}

// patchFromFields decodes the fields of a body already split by decodeObject.
func patchFromFields(raw map[string]json.RawMessage) (*store.Patch, error) {
	p := &store.Patch{}
	for key, v := range raw {
		target := patchField(p, key)
		if target == nil {
			return nil, &unknownFieldError{Field: key}
		}
		if isDateField(key) {
			// null must clear the date, so it becomes a pointer to the empty Date.
			var d store.Date
			if err := decodeBodyValue(key, v, &d); err != nil {
				return nil, err
			}
			*(target.(**store.Date)) = &d
			continue
		}
		if string(bytes.TrimSpace(v)) == "null" {
			return nil, &store.ValidationError{Field: key, Message: "must not be null", Type: true}
		}
		if err := decodeBodyValue(key, v, target); err != nil {
			return nil, err
		}
	}
	if err := store.CheckComment(p.Comment); err != nil {
		return nil, err
	}
	return p, nil
}

// patchField is where the body field named key goes in p (nil: no such field). A switch
// rather than a map built per request: the map was a tenth of the bytes allocated per PATCH.
func patchField(p *store.Patch, key string) any {
	switch key {
	case "name":
		return &p.Name
	case "category":
		return &p.Category
	case "year":
		return &p.Year
	case "sector":
		return &p.Sector
	case "department":
		return &p.Department
	case "leader":
		return &p.Leader
	case "stage":
		return &p.Stage
	case "investmentYuan":
		return &p.InvestmentYuan
	case "annualPlanYuan":
		return &p.AnnualPlanYuan
	case "investmentCompletedYuan":
		return &p.InvestmentCompletedYuan
	case "progress":
		return &p.Progress
	case "plannedStart":
		return &p.PlannedStart
	case "startedAt":
		return &p.StartedAt
	case "resumedAt":
		return &p.ResumedAt
	case "plannedCompletion":
		return &p.PlannedCompletion
	case "completedAt":
		return &p.CompletedAt
	case "onHold":
		return &p.OnHold
	case "note":
		return &p.Note
	case "comment":
		return &p.Comment
	case "effectiveDate":
		return &p.EffectiveDate
	}
	return nil
}

func isDateField(k string) bool {
	return k == "plannedStart" || k == "startedAt" || k == "resumedAt" || k == "plannedCompletion" ||
		k == "completedAt" || k == "effectiveDate"
}

// unknownFieldError names a body field the route does not take (400 unknown_field).
type unknownFieldError struct{ Field string }

func (e *unknownFieldError) Error() string { return fmt.Sprintf("unknown field %q", e.Field) }

// syntaxError means a body is not the JSON object the route expects (400 bad_json).
type syntaxError struct{ Message string }

func (e *syntaxError) Error() string { return e.Message }

func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, &syntaxError{Message: "body is not valid UTF-8"}
	}
	// json.Unmarshal rather than a Decoder: no decoder and read buffer per request, and it
	// refuses anything after the object by itself.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value") {
			return nil, &syntaxError{Message: "body has data after the JSON object"}
		}
		return nil, &syntaxError{Message: "body is not a JSON object: " + jsonProblem(err)}
	}
	if raw == nil {
		return nil, &syntaxError{Message: "body is not a JSON object"}
	}
	if len(raw) > maxBodyFields {
		return nil, &syntaxError{Message: fmt.Sprintf("body has more than %d fields", maxBodyFields)}
	}
	return raw, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "expected an object"
	}
	return err.Error()
}

func decodeBodyValue(field string, v json.RawMessage, target any) error {
	if err := json.Unmarshal(v, target); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) || errors.Is(err, store.ErrWrongType) {
			return &store.ValidationError{Field: field, Message: "has the wrong type", Type: true}
		}
		return &store.ValidationError{Field: field, Message: err.Error()}
	}
	return nil
}

// decodeNewProject parses a create body into a project (id may be empty: the store makes
// one) and the change's comment.
func decodeNewProject(body []byte) (store.Project, string, error) {
	raw, err := decodeObject(body)
	if err != nil {
		return store.Project{}, "", err
	}
	var p store.Project
	if v, ok := raw["id"]; ok {
		if err := decodeBodyValue("id", v, &p.ID); err != nil {
			return store.Project{}, "", err
		}
		delete(raw, "id")
	}
	// effectiveDate belongs to a stage move; a new project gives startedAt or completedAt.
	for _, k := range []string{"version", "updatedAt", "updatedBy", "effectiveDate"} {
		if _, ok := raw[k]; ok {
			return store.Project{}, "", &unknownFieldError{Field: k}
		}
	}
	for _, k := range []string{"name", "category", "year", "sector", "department", "stage"} {
		if _, ok := raw[k]; !ok {
			return store.Project{}, "", &store.ValidationError{Field: k, Message: "is required"}
		}
	}
	pt, err := patchFromFields(raw)
	if err != nil {
		return store.Project{}, "", err
	}
	// Stage-implied dates are filled by the store with the zone's date.
	p, _ = pt.Apply(p, "")
	return p, pt.Comment, nil
}
