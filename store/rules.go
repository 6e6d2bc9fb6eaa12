package store

import (
	"fmt"
	"strings"
)

// The domain rules of a project office's register, checked on every change (see
// docs/metrics.md, "Domain rules"):
//
//   - stages belong to a category: an attraction project (招商引资) is at 洽谈, 签约 or 落位; a
//     construction project (计划内 / 计划外) at 前期, 在建, 竣工 or 投产. Within its category a
//     project may move to any of its stages, forward or back (offices correct mistakes);
//   - an attraction project becomes a construction project (category planned or unplanned,
//     with a construction stage) only once it is 落位 (landed); a construction project never
//     becomes an attraction project;
//   - a project at 竣工 or 投产 has 形象进度 100 (moving there sets it when the change does not
//     give it; an explicit lower value is refused);
//   - 年度完成投资 (investmentCompletedYuan) is not more than 总投资 (investmentYuan).
//
// A new project must satisfy every rule. A change is checked only against the rules of the
// fields it changes, so a project imported or stored before these rules that breaks one
// still loads and can still be edited in its other fields.

// RuleError is a domain rule's refusal. It is a *ValidationError (errors.As finds it: the
// field and the English message, all the server's error body carries today) with the rule's
// name and the message in Chinese.
type RuleError struct {
	ValidationError
	Rule      string // e.g. "stage_category"; see docs/metrics.md
	MessageZh string
}

func (e *RuleError) Error() string { return e.ValidationError.Error() }

// Unwrap gives the *ValidationError, so the server's error table maps a rule like any other
// invalid value (422 naming the field).
func (e *RuleError) Unwrap() error { return &e.ValidationError }

func ruleError(field, rule, en, zh string) error {
	return &RuleError{ValidationError: ValidationError{Field: field, Message: en}, Rule: rule, MessageZh: zh}
}

// Stages of each kind of project, in order.
var (
	AttractionStages   = []Stage{StageNegotiating, StageSigned, StageLanded}
	ConstructionStages = []Stage{StagePreparing, StageUnderConstruction, StageCompleted, StageOperating}
)

// StagesOf lists the stages a project of category c may be at.
func StagesOf(c Category) []Stage {
	if c == CategoryAttraction {
		return AttractionStages
	}
	return ConstructionStages
}

// Allows reports whether a project of category c may be at stage s.
func (c Category) Allows(s Stage) bool {
	for _, k := range StagesOf(c) {
		if k == s {
			return true
		}
	}
	return false
}

var stageZh = map[Stage]string{StageNegotiating: "洽谈", StageSigned: "签约", StageLanded: "落位",
	StagePreparing: "前期", StageUnderConstruction: "在建", StageCompleted: "竣工", StageOperating: "投产"}

var categoryZh = map[Category]string{CategoryPlanned: "计划内重点项目", CategoryUnplanned: "计划外新开工项目",
	CategoryAttraction: "招商引资项目"}

func stageNames(stages []Stage, zh bool) string {
	out := make([]string, len(stages))
	for i, s := range stages {
		out[i] = string(s)
		if zh {
			out[i] = stageZh[s]
		}
	}
	if zh {
		return strings.Join(out, "、")
	}
	return strings.Join(out, ", ")
}

// CheckRules checks the domain rules of a change from before to after (before nil: a new
// project, checked against every rule). Only the rules of the fields that differ apply.
func CheckRules(before, after *Project) error {
	if before == nil {
		return checkRules(nil, after, nil)
	}
	return checkRules(before, after, Diff(*before, *after))
}

// checkRules is CheckRules with the changed fields already known (nil for a new project).
func checkRules(before, after *Project, fields map[string]FieldChange) error {
	touched := func(names ...string) bool {
		if before == nil {
			return true
		}
		for _, n := range names {
			if _, ok := fields[n]; ok {
				return true
			}
		}
		return false
	}
	if touched("stage", "category") {
		if err := checkStageRule(before, after); err != nil {
			return err
		}
	}
	if touched("stage", "progress") && after.Stage.Completed() && after.Progress != 100 {
		return ruleError("progress", "completed_progress",
			fmt.Sprintf("must be 100 at stage %s, not %d", after.Stage, after.Progress),
			fmt.Sprintf("项目已%s，形象进度应为 100%%，不能是 %d%%", stageZh[after.Stage], after.Progress))
	}
	if touched("investmentCompletedYuan", "investmentYuan") && after.InvestmentCompletedYuan > after.InvestmentYuan {
		zh := fmt.Sprintf("年度完成投资（%s）超过了总投资（%s）", wanText(after.InvestmentCompletedYuan), wanText(after.InvestmentYuan))
		if !touched("investmentCompletedYuan") { // the total was lowered below what is already completed
			return ruleError("investmentYuan", "investment_total", fmt.Sprintf("(%d yuan) is less than investmentCompletedYuan (%d yuan)",
				after.InvestmentYuan, after.InvestmentCompletedYuan), zh)
		}
		return ruleError("investmentCompletedYuan", "investment_total", fmt.Sprintf("(%d yuan) is more than investmentYuan (%d yuan)",
			after.InvestmentCompletedYuan, after.InvestmentYuan), zh)
	}
	return nil
}

func checkStageRule(before, after *Project) error {
	if before != nil && before.Category != after.Category {
		switch {
		case before.Category.Construction() && after.Category == CategoryAttraction:
			return ruleError("category", "category_change",
				fmt.Sprintf("cannot change from %s to attraction: a construction project never becomes an attraction project", before.Category),
				fmt.Sprintf("%s不能改为招商引资项目", categoryZh[before.Category]))
		case before.Category == CategoryAttraction && after.Category.Construction() && before.Stage != StageLanded:
			return ruleError("category", "category_change",
				fmt.Sprintf("cannot change from attraction at stage %s: an attraction project becomes a construction project only once landed", before.Stage),
				fmt.Sprintf("招商引资项目落位后才能转为建设项目，此项目处于%s阶段", stageZh[before.Stage]))
		}
	}
	if after.Category.valid() && !after.Category.Allows(after.Stage) {
		stages := StagesOf(after.Category)
		return ruleError("stage", "stage_category",
			fmt.Sprintf("%s is not a stage of a %s project (it may be %s)", after.Stage, after.Category, stageNames(stages, false)),
			fmt.Sprintf("%s不能处于%s阶段（可选：%s）", categoryZh[after.Category], stageZh[after.Stage], stageNames(stages, true)))
	}
	return nil
}

// wanText writes yuan as 万元 with up to two decimals, as offices write amounts.
func wanText(yuan int64) string {
	s := fmt.Sprintf("%.2f", float64(yuan)/10_000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "万元"
}
