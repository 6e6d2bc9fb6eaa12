package store

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/reasons.golden.json")

// reasonCase is one line of testdata/reasons.golden.json: a reason and its sentences. The web
// UI's test (frontend/test/reasons.test.ts) reads the same file, so the server's reminders and
// bulletin and the pages say the same words.
type reasonCase struct {
	Reason WarningReason `json:"reason"`
	Zh     string        `json:"zh"`
	En     string        `json:"en"`
}

func TestReasonTextMatchesUI(t *testing.T) {
	reasons := []WarningReason{
		{Rule: RuleInvestmentPace, Level: LevelYellow, Value: 10.8, Threshold: 10, Unit: "points", Actual: 80.8},
		{Rule: RuleInvestmentPace, Level: LevelRed, Value: 45, Threshold: 30, Unit: "points", Actual: 38.3},
		{Rule: RuleProgressPace, Level: LevelYellow, Value: 15.5, Threshold: 10, Unit: "points", Actual: 74, Elapsed: 17, Span: 19},
		{Rule: RuleProgressPace, Level: LevelRed, Value: 30.2, Threshold: 30, Unit: "points", Actual: 5, Elapsed: 7, Span: 20},
		{Rule: RuleNotStarted, Level: LevelRed, Value: 3, Threshold: 3, Unit: "months", Date: "2022-08-01"},
		{Rule: RuleNotStarted, Level: LevelYellow, Value: 1, Threshold: 1, Unit: "months", Date: "2022-10-01"},
		{Rule: RuleCompletionOverdue, Level: LevelRed, Value: 0, Unit: "months", Date: "2022-10-31"},
		{Rule: RuleCompletionOverdue, Level: LevelRed, Value: 4, Unit: "months", Date: "2022-06-30"},
		{Rule: RuleReportMissing, Level: LevelYellow, Date: "2022-11-05", Month: "2022-10"},
		{Rule: RuleProblemOverdue, Level: LevelYellow, Value: 2, Unit: "count"},
		{Rule: RuleConsecutiveYellow, Level: LevelRed, Value: 2, Threshold: 2, Unit: "months"},
	}
	got := make([]reasonCase, len(reasons))
	for i, r := range reasons {
		got[i] = reasonCase{Reason: r, Zh: r.Text("zh"), En: r.Text("en")}
	}
	const path = "testdata/reasons.golden.json"
	if *updateGolden {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []reasonCase
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%s has %d cases, want %d: go test ./store -run TestReasonTextMatchesUI -update", path, len(want), len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("case %d: got %+v, the golden file says %+v", i, got[i], want[i])
		}
	}
}

// A month closed before reasons carried their figures keeps the sentences it was stored with.
func TestLegacyReasonKeepsItsWords(t *testing.T) {
	var r WarningReason
	if err := json.Unmarshal([]byte(`{"rule":"notStarted","level":"red","value":3,"threshold":3,"unit":"months","zh":"计划 2022-08-01 开工，逾期 3 个月未开工","en":"planned to start 2022-08-01"}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Text("zh") != "计划 2022-08-01 开工，逾期 3 个月未开工" || r.Text("en") != "planned to start 2022-08-01" {
		t.Fatalf("got %q / %q", r.Text("zh"), r.Text("en"))
	}
	if b, _ := json.Marshal(WarningReason{Rule: RuleNotStarted}); bytes.Contains(b, []byte(`"zh"`)) {
		t.Fatalf("a new reason writes sentences: %s", b)
	}
}
