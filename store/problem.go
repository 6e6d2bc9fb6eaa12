package store

import (
	"time"
)

// ProblemStatus is where a problem of the 问题台账 stands.
type ProblemStatus string

// The problem statuses, in order: 待协调 → 协调中 → 已解决.
const (
	ProblemPending      ProblemStatus = "pending"      // 待协调
	ProblemCoordinating ProblemStatus = "coordinating" // 协调中
	ProblemResolved     ProblemStatus = "resolved"     // 已解决 (needs a resolution note)
)

func (s ProblemStatus) valid() bool {
	return s == ProblemPending || s == ProblemCoordinating || s == ProblemResolved
}

// ProblemEvent is one entry of a problem's history.
type ProblemEvent struct {
	At     time.Time              `json:"at"`
	By     string                 `json:"by"`
	Kind   string                 `json:"kind"` // "raised" or "updated"
	Fields map[string]FieldChange `json:"fields"`
}

// Problem is one entry of the problems register (问题台账): something that holds a project
// up, the unit that must act, the leader who coordinates, and its way to a resolution.
type Problem struct {
	ID          string         `json:"id"`
	ProjectID   string         `json:"projectId"`
	ProjectName string         `json:"projectName"`
	Department  string         `json:"department"` // the project's responsible unit
	Description string         `json:"description"`
	RaisedBy    string         `json:"raisedBy"`
	RaisedAt    time.Time      `json:"raisedAt"`
	Unit        string         `json:"unit"`   // the unit that must act (责任单位)
	Leader      string         `json:"leader"` // the coordinating leader
	Status      ProblemStatus  `json:"status"`
	Due         Date           `json:"due"`
	Resolution  string         `json:"resolution"`
	ResolvedAt  *time.Time     `json:"resolvedAt"`
	ResolvedBy  string         `json:"resolvedBy"`
	Version     uint64         `json:"version"`
	UpdatedAt   time.Time      `json:"updatedAt"`
	UpdatedBy   string         `json:"updatedBy"`
	History     []ProblemEvent `json:"history"`
}

// Open reports whether the problem still needs work.
func (p *Problem) Open() bool { return p.Status != ProblemResolved }

// Overdue reports whether an open problem is past its due date on day today.
func (p *Problem) Overdue(today Date) bool { return p.Open() && p.Due != "" && p.Due < today }

// ProblemPatch changes a problem; nil fields stay. A new problem sets Description, Unit,
// Leader and Due.
type ProblemPatch struct {
	Description *string        `json:"description"`
	Unit        *string        `json:"unit"`
	Leader      *string        `json:"leader"`
	Status      *ProblemStatus `json:"status"`
	Due         *Date          `json:"due"`
	Resolution  *string        `json:"resolution"`
}

// ProblemEdit is an Edit's problem part (Kind ChangeProblem): a new problem of the edit's
// project when ID is empty, else a change to problem ID.
type ProblemEdit struct {
	ID      string
	IfMatch uint64
	Patch   ProblemPatch
}

// ProblemFilter narrows the register; zero fields match everything.
type ProblemFilter struct {
	ProjectID  string
	Department string // the project's unit
	Unit       string // the unit that must act
	Status     ProblemStatus
	Open       bool // only open ones
	Overdue    bool // only overdue ones
	Year       int  // the project's year
}

// ProblemCounts are the register's totals, in the summary.
type ProblemCounts struct {
	Open     int `json:"open"`
	Overdue  int `json:"overdue"`
	Resolved int `json:"resolved"`
}
