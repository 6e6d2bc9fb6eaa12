package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzProjectPatch: a patch naming every member of a project, as encoding/json writes it
// whatever its strings hold, decodes to the same project.
func FuzzProjectPatch(f *testing.F) {
	f.Add("长春影视产业园", `备注 "引号" \ 反斜杠 {}[],:`, "王副主任")
	f.Add("", "\u2028<script>&", `"`)
	f.Fuzz(func(t *testing.T, name, note, leader string) {
		p := Project{ID: "P1", Name: name, Note: note, Leader: leader, Category: CategoryPlanned, Year: 2022,
			Stage: StageUnderConstruction, StartedAt: "2022-03-01", Progress: 40, Version: 3,
			Warning: Warning{Level: LevelYellow, Reasons: []WarningReason{{Rule: RuleProgressPace, Level: LevelYellow, Value: 12.5}}}}
		b, err := json.Marshal(p)
		if err != nil {
			t.Skip()
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(b, &members); err != nil {
			t.Fatal(err)
		}
		fields := map[string]FieldChange{}
		for k := range members {
			fields[k] = FieldChange{}
		}
		patch, err := AppendProjectPatch(nil, b, fields, nil, nil)
		if err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		var got, want Project // as decoded: encoding/json replaces invalid UTF-8
		if err := json.Unmarshal(patch, &got); err != nil {
			t.Fatalf("%v: %s", err, patch)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("patch %s\ngives %+v\nwant %+v", patch, got, want)
		}
		// Only the named members, and those a patch always has.
		patch, _ = AppendProjectPatch(nil, b, map[string]FieldChange{"note": {}}, nil, nil)
		var only map[string]json.RawMessage
		if err := json.Unmarshal(patch, &only); err != nil || len(only) != 5 || only["note"] == nil || only["warning"] == nil {
			t.Fatalf("patch naming note: %s", patch)
		}
		// Who and when, when they are the change's own, are left out.
		at, by := only["updatedAt"], only["updatedBy"]
		patch, _ = AppendProjectPatch(nil, b, map[string]FieldChange{"note": {}}, at, by)
		clear(only)
		if err := json.Unmarshal(patch, &only); err != nil || len(only) != 3 || only["updatedAt"] != nil || only["updatedBy"] != nil {
			t.Fatalf("patch naming note, at %s by %s: %s", at, by, patch)
		}
	})
}
