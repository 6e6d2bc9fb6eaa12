package store

import (
	"strconv"
	"time"
)

// ChangeKind says what a change did to its project.
type ChangeKind string

// The change kinds.
const (
	ChangeCreate ChangeKind = "create"
	ChangeUpdate ChangeKind = "update"
	ChangeDelete ChangeKind = "delete"
	// ChangeReport stores, submits, approves or returns a project's monthly report; the
	// project's figures change with a submitted report of its newest month.
	ChangeReport ChangeKind = "report"
	// ChangeProblem raises or changes a problem of the project's 问题台账.
	ChangeProblem ChangeKind = "problem"
	// ChangeMonth closes or reopens a month (no project: projectId is empty).
	ChangeMonth ChangeKind = "month"
	// ChangeSettings changes the warning rules (no project: projectId is empty); the
	// re-evaluated warnings follow as updates by "system" in the same transaction.
	ChangeSettings ChangeKind = "settings"
)

// SystemActor is the actor of changes the store makes on its own: warnings re-evaluated at
// a month boundary, a deadline or a rule change.
const SystemActor = "system"

// Change is one entry of the permanent change log. Every committed create, update or
// delete gets the next revision, in the same transaction as the project write.
type Change struct {
	Rev         uint64                 `json:"rev"`
	ProjectID   string                 `json:"projectId"`
	ProjectName string                 `json:"projectName"`
	At          time.Time              `json:"at"`
	By          string                 `json:"by"`
	Kind        ChangeKind             `json:"kind"`
	Fields      map[string]FieldChange `json:"fields"`
	Comment     string                 `json:"comment"`
	// Key names what a report, problem, month or settings change was about: the report's
	// month "YYYY-MM", the problem's id, the month, or "warnings".
	Key string `json:"key,omitempty"`
}

// logEntry is a change as stored: with the project as it was after the change (nil after a
// delete), so that a screen resuming from a revision gets exact intermediate states.
type logEntry struct {
	Change
	After *Project `json:"after"`
	// Prev is the revision of the same project's previous change (0: none, or before schema 2).
	Prev uint64 `json:"prev,omitempty"`
}

// appendAfter makes a log entry of a change's JSON, the project's JSON (already encoded for
// the projects bucket, or nil for null), spliced in as it is, and the project's previous
// revision. Marshalling a json.RawMessage would re-validate and re-compact those bytes: that
// was a tenth of the writer's CPU with many editors.
func appendAfter(change, after []byte, prev uint64) []byte {
	if after == nil {
		after = []byte("null")
	}
	out := make([]byte, 0, len(change)+len(`,"after":`)+len(after)+len(`,"prev":`)+20)
	out = append(out, change[:len(change)-1]...) // the change object without its closing brace
	out = append(out, `,"after":`...)
	out = append(out, after...)
	if prev != 0 {
		out = append(out, `,"prev":`...)
		out = strconv.AppendUint(out, prev, 10)
	}
	return append(out, '}')
}

// Event is what the store hands to its commit hook for every committed change, in revision
// order, after the transaction is durable.
type Event struct {
	Change  Change
	Project *Project // after the change; nil for a delete
	Summary *Summary // the unfiltered summary after this change; only on the last event of a commit
	// SummaryDelta is what moved from the previous commit's summary to Summary, encoded
	// (AppendSummaryDelta); nil when there is no Summary or it must be sent whole.
	SummaryDelta []byte
	// ChangeJSON and ProjectJSON are Change and Project as the commit encoded them (nil when
	// not at hand, e.g. in a replay), so the live feed need not encode them again.
	ChangeJSON, ProjectJSON []byte
	// Remote marks a change another instance of the cluster committed: this one only applied
	// it. Work a change sets off outside the board (reminders) is done once, by the instance
	// that committed it.
	Remote bool
}
