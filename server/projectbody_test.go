package server

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"projectboard/store"
)

// FuzzDecodePatch: any body either decodes to a patch or is refused with one of our error
// types; a patch applied to a valid project yields a project that either validates or is
// refused by Validate — never a panic, never an unnamed error.
func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{`{"progress":5}`, `{"stage":"completed","comment":"竣工"}`, `{"completedAt":null}`,
		`{"plannedStart":"2022-02-29"}`, `{"investmentYuan":1e30}`, `{"note":"\u0000"}`, `[]`, `{"a":1}`, "{\"note\":\"\xff\"}",
		`{"onHold":true,"onHold":false}`, `{"year":"2022"}`, `null`, `{}`} {
		f.Add([]byte(s))
	}
	base := store.Project{ID: "F", Name: "项目 F", Category: store.CategoryPlanned, Year: 2022, Sector: "数字经济",
		Department: "经济发展局", Stage: store.StagePreparing, InvestmentYuan: 100_000_000, AnnualPlanYuan: 40_000_000,
		InvestmentCompletedYuan: 10_000_000, PlannedCompletion: "2022-12-31"}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePatch(body)
		if err != nil {
			var ve *store.ValidationError
			var uf *unknownFieldError
			var se *syntaxError
			if !errors.As(err, &ve) && !errors.As(err, &uf) && !errors.As(err, &se) {
				t.Fatalf("unnamed error %T: %v", err, err)
			}
			return
		}
		after, fields := p.Apply(base, "2026-01-01")
		if err := after.Validate(); err == nil {
			if _, err := json.Marshal(after); err != nil {
				t.Fatalf("a valid project does not encode: %v", err)
			}
		}
		if len(fields) == 0 && !reflect.DeepEqual(after, base) {
			t.Fatal("a change went unrecorded")
		}
	})
}

func FuzzDecodeNewProject(f *testing.F) {
	f.Add([]byte(`{"name":"慧泽学校","category":"planned","year":2023,"sector":"教育","department":"教育局","stage":"preparing"}`))
	f.Add([]byte(`{"id":"../x","name":"a","category":"planned","year":2023,"sector":"a","department":"b","stage":"preparing"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, _, err := decodeNewProject(body)
		if err == nil {
			_ = p.Validate() // must not panic
		}
	})
}

// The body errors name what is wrong with the body as a whole.
func TestDecodePatchBodyErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"progress":5} {"progress":6}`: "body has data after the JSON object",
		`{"progress":5}x`:               "body has data after the JSON object",
		`null`:                          "body is not a JSON object",
		`[1]`:                           "body is not a JSON object: expected an object",
		`{"progress":`:                  "body is not a JSON object: unexpected end of JSON input",
		"{\"note\":\"\xff\"}":           "body is not valid UTF-8",
	} {
		_, err := decodePatch([]byte(body))
		var se *syntaxError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Message, want) {
			t.Errorf("decodePatch(%q) = %v, want a syntax error starting %q", body, err, want)
		}
	}
	if p, err := decodePatch([]byte(" {\"progress\":5}\n ")); err != nil || p.Progress == nil || *p.Progress != 5 {
		t.Errorf("a body with white space around it: %+v, %v", p, err)
	}
}

// The PATCH body's effectiveDate is a date like the others; null means today; a new project
// does not take one.
func TestDecodeEffectiveDate(t *testing.T) {
	pt, err := decodePatch([]byte(`{"stage":"completed","effectiveDate":"2022-11-20"}`))
	if err != nil || pt.EffectiveDate == nil || *pt.EffectiveDate != "2022-11-20" {
		t.Fatalf("got %+v, %v", pt, err)
	}
	if pt, err = decodePatch([]byte(`{"stage":"completed","effectiveDate":null}`)); err != nil || *pt.EffectiveDate != "" {
		t.Fatalf("null: got %+v, %v", pt, err)
	}
	var ve *store.ValidationError
	if _, err = decodePatch([]byte(`{"effectiveDate":"2022-02-30"}`)); !errors.As(err, &ve) || ve.Field != "effectiveDate" {
		t.Fatalf("a date that does not exist: got %v", err)
	}
	var uf *unknownFieldError
	_, _, err = decodeNewProject([]byte(`{"name":"x","category":"planned","year":2022,"sector":"a","department":"b","stage":"preparing","effectiveDate":"2022-01-01"}`))
	if !errors.As(err, &uf) {
		t.Fatalf("a new project with an effective date: got %v, want unknown field", err)
	}
	if pt, err = decodePatch([]byte(`{"resumedAt":"2022-04-01"}`)); err != nil || *pt.ResumedAt != "2022-04-01" {
		t.Fatalf("resumedAt: got %+v, %v", pt, err)
	}
}

// Through the decoder, a new project at 竣工 without 形象进度 is at 100.
func TestDecodeNewProjectStageImplies(t *testing.T) {
	p, _, err := decodeNewProject([]byte(`{"name":"x","category":"planned","year":2022,"sector":"a","department":"b","stage":"completed"}`))
	if err != nil || p.Progress != 100 {
		t.Fatalf("got progress %d, %v", p.Progress, err)
	}
}
