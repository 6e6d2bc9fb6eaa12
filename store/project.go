package store

import (
	"time"
)

// Category is the list a project belongs to in the zone's register (项目库).
type Category string

// The categories.
const (
	CategoryPlanned    Category = "planned"    // 计划内重点项目
	CategoryUnplanned  Category = "unplanned"  // 计划外新开工
	CategoryAttraction Category = "attraction" // 招商引资
)

// Categories lists every category in display order.
var Categories = []Category{CategoryPlanned, CategoryUnplanned, CategoryAttraction}

// Construction reports whether projects of this category are counted as construction
// projects (开复工, 竣工, 投资完成).
func (c Category) Construction() bool { return c == CategoryPlanned || c == CategoryUnplanned }

func (c Category) valid() bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// Stage is where a project stands, from negotiation to production.
type Stage string

// The stages, in order.
const (
	StageNegotiating       Stage = "negotiating"        // 洽谈
	StageSigned            Stage = "signed"             // 签约
	StageLanded            Stage = "landed"             // 落位
	StagePreparing         Stage = "preparing"          // 前期
	StageUnderConstruction Stage = "under_construction" // 在建 (开工或复工)
	StageCompleted         Stage = "completed"          // 竣工
	StageOperating         Stage = "operating"          // 投产
)

// Stages lists every stage in order.
var Stages = []Stage{StageNegotiating, StageSigned, StageLanded, StagePreparing,
	StageUnderConstruction, StageCompleted, StageOperating}

// Index is the stage's position in Stages, or -1 for an unknown stage.
func (s Stage) Index() int {
	for i, k := range Stages {
		if s == k {
			return i
		}
	}
	return -1
}

// Started reports whether the project has started or resumed construction.
func (s Stage) Started() bool { return s.Index() >= StageUnderConstruction.Index() }

// Completed reports whether construction is finished.
func (s Stage) Completed() bool { return s.Index() >= StageCompleted.Index() }

// Project is one entry of the zone's project register.
type Project struct {
	ID                      string   `json:"id"`
	Name                    string   `json:"name"`
	Category                Category `json:"category"`
	Year                    int      `json:"year"`
	Sector                  string   `json:"sector"`
	Department              string   `json:"department"` // 责任单位
	Leader                  string   `json:"leader"`     // 包保领导
	Stage                   Stage    `json:"stage"`
	InvestmentYuan          int64    `json:"investmentYuan"`
	AnnualPlanYuan          int64    `json:"annualPlanYuan"`
	InvestmentCompletedYuan int64    `json:"investmentCompletedYuan"`
	Progress                int      `json:"progress"` // 形象进度, 0–100
	PlannedStart            Date     `json:"plannedStart"`
	StartedAt               Date     `json:"startedAt"`
	// ResumedAt is when a continuing project (续建: started before its year) restarted
	// construction within its year (复工), e.g. after the winter; see docs/metrics.md.
	ResumedAt         Date   `json:"resumedAt"`
	PlannedCompletion Date   `json:"plannedCompletion"`
	CompletedAt       Date   `json:"completedAt"`
	OnHold            bool   `json:"onHold"`
	Note              string `json:"note"`
	// CarriedFrom is the project's entry in the year before, when "start the year's lists"
	// carried it over as continuing (续建).
	CarriedFrom string `json:"carriedFrom,omitempty"`
	// Warning is the project's traffic light with its reasons, computed by the store (never
	// set by an edit): see docs/metrics.md, "Warnings".
	Warning Warning `json:"warning"`
	// OpenProblems counts the project's unresolved problems (问题台账), kept by the store.
	OpenProblems int       `json:"openProblems"`
	Version      uint64    `json:"version"`
	UpdatedAt    time.Time `json:"updatedAt"`
	UpdatedBy    string    `json:"updatedBy"`
}
