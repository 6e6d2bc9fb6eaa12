package store

import (
	"encoding/json"
	"time"
)

// ChangeKind says what a change did to its project.
type ChangeKind string

// The change kinds.
const (
	ChangeCreate ChangeKind = "create"
	ChangeUpdate ChangeKind = "update"
	ChangeDelete ChangeKind = "delete"
)

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
}

// logEntry is a change as stored: with the project as it was after the change (nil after a
// delete), so that a screen resuming from a revision gets exact intermediate states.
type logEntry struct {
	Change
	After *Project `json:"after"`
}

// storedLogEntry is how a logEntry is written: the project's JSON, already encoded for the
// projects bucket, goes in as it is.
type storedLogEntry struct {
	Change
	After json.RawMessage `json:"after"`
}

// Event is what the store hands to its commit hook for every committed change, in revision
// order, after the transaction is durable.
type Event struct {
	Change  Change
	Project *Project // after the change; nil for a delete
	Summary *Summary // the unfiltered summary after this change; only on the last event of a commit
}
