package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
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
	base := *sample("F", StagePreparing)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodePatch(body)
		if err != nil {
			var ve *ValidationError
			var uf *UnknownFieldError
			var se *SyntaxError
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
		p, _, err := DecodeNewProject(body)
		if err == nil && p.ID != "" {
			_ = checkID(p.ID) // must not panic
		}
	})
}

// FuzzReadProjectsCSV: a data file either loads into valid projects or names its problem.
func FuzzReadProjectsCSV(f *testing.F) {
	header := strings.Join(seedColumns, ",") + "\n"
	f.Add([]byte(header + "A1,名称,planned,2022,数字经济,经济发展局,,under_construction,100,50,10,40,2022-03-01,2022-03-02,,2023-01-01,,false,\n"))
	f.Add([]byte(header + "C1,续建,planned,2022,a,b,,under_construction,100,50,10,40,2021-03-01,2021-03-02,2022-04-01,2023-01-01,,false,\n"))
	f.Add([]byte("\xef\xbb\xbf" + header))
	f.Add([]byte(header + "A1,\"多\n行\",attraction,2022,a,b,c,signed,1,0,0,0,,,,,,true,\"x,y\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		projects, err := ReadProjectsCSV(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range projects {
			if err := p.Validate(); err != nil {
				t.Fatalf("loaded an invalid project %q: %v", p.ID, err)
			}
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
		_, err := DecodePatch([]byte(body))
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Message, want) {
			t.Errorf("DecodePatch(%q) = %v, want a syntax error starting %q", body, err, want)
		}
	}
	if p, err := DecodePatch([]byte(" {\"progress\":5}\n ")); err != nil || p.Progress == nil || *p.Progress != 5 {
		t.Errorf("a body with white space around it: %+v, %v", p, err)
	}
}
