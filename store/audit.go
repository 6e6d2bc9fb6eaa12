package store

import (
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditType names a security or admin event.
type AuditType string

// The audit event types. They are part of the API (GET /api/audit) and of the server log.
const (
	AuditLoginOK        AuditType = "login.ok"
	AuditLoginFailed    AuditType = "login.failed"
	AuditLoginThrottled AuditType = "login.throttled"
	AuditLogout         AuditType = "logout"
	AuditUserCreated    AuditType = "user.created"
	AuditUserChanged    AuditType = "user.changed"
	AuditUserRole       AuditType = "user.role_changed"
	AuditUserPassword   AuditType = "user.password_changed"
	AuditUserDeleted    AuditType = "user.deleted"
	AuditTokenCreated   AuditType = "token.created"
	AuditTokenDeleted   AuditType = "token.deleted"
	AuditTokenRevoked   AuditType = "token.revoked" // with its owner's account, not by itself
	AuditBackup         AuditType = "backup.downloaded"
	AuditRestore        AuditType = "restore"
	AuditScreensReload  AuditType = "screens.reloaded"
)

// AuditTypes lists every type, for filters and documentation.
var AuditTypes = []AuditType{AuditLoginOK, AuditLoginFailed, AuditLoginThrottled, AuditLogout,
	AuditUserCreated, AuditUserChanged, AuditUserRole, AuditUserPassword, AuditUserDeleted,
	AuditTokenCreated, AuditTokenDeleted, AuditTokenRevoked, AuditBackup, AuditRestore, AuditScreensReload}

// AuditEvent is one entry of the audit log: who did what to what, from where. Entries are
// only ever appended and kept forever, like the change log.
type AuditEvent struct {
	Seq  uint64    `json:"seq"`
	At   time.Time `json:"at"`
	Type AuditType `json:"type"`
	// Actor is who acted: a username, "token:<name>" for an api token, "cli" for the command
	// line, or, for a login, the name that was tried.
	Actor string `json:"actor"`
	// Addr is the client's address ("" for the command line).
	Addr string `json:"addr,omitempty"`
	// Target is what the action was about: a username, a token id, a file.
	Target string `json:"target,omitempty"`
	// Detail says more in a few words, e.g. "editor → viewer" or "12 attempts in 60 s".
	Detail string `json:"detail,omitempty"`
}

// Bounds on what an audit entry keeps of outside input (a login name can be anything).
const (
	auditFieldMax  = 100
	auditDetailMax = 500
)

// clip makes an outside string safe to keep: valid UTF-8, no control or invisible format
// characters, at most max runes.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if unsafeRune(r, false) {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Audit appends events to the audit log, in one transaction, and returns them with their
// sequence numbers and times. Concurrent callers share commits (bbolt's Batch), so a burst
// of failed logins costs a few fsyncs, not one each.
func (s *Store) Audit(events ...AuditEvent) ([]AuditEvent, error) {
	now := s.opt.Now().UTC()
	out := make([]AuditEvent, len(events))
	for i, ev := range events {
		if ev.At.IsZero() {
			ev.At = now
		}
		ev.Actor, ev.Addr, ev.Target = clip(ev.Actor, auditFieldMax), clip(ev.Addr, auditFieldMax), clip(ev.Target, auditFieldMax)
		ev.Detail = clip(ev.Detail, auditDetailMax)
		out[i] = ev
	}
	err := s.batchUpdate(func(tx *wtx) error {
		tx.Bucket(bucketAudit).FillPercent = 0.95 // appended at the end only
		for i := range out {
			seq, err := tx.nextSequence(bucketAudit)
			if err != nil {
				return err
			}
			out[i].Seq = seq
			data, err := encode(out[i])
			if err != nil {
				return err
			}
			if err := tx.put(bucketAudit, u64(seq), data); err != nil {
				return err
			}
		}
		return nil
	})
	return out, wrapWrite(err)
}

// AuditFilter selects audit events. Zero fields select everything.
type AuditFilter struct {
	// Since returns events after this sequence number, oldest first.
	Since uint64
	// Before, when set, returns events before this sequence number, newest first (for paging
	// back from the newest).
	Before uint64
	// Newest returns the newest events first (Before implies it).
	Newest bool
	Type   AuditType
	// Actor matches the actor exactly, case-insensitively.
	Actor string
	// Text matches any of actor, address, target and detail as a substring, case-insensitively.
	Text  string
	Limit int
}

// AuditScanMax bounds how many entries one query reads while filtering, so a filter that
// matches nothing cannot make one request read a log of millions.
const AuditScanMax = 100_000

// AuditLog returns audit events matching f, at most f.Limit (default 100).
func (s *Store) AuditLog(f AuditFilter) ([]AuditEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	actor, text := strings.ToLower(f.Actor), strings.ToLower(f.Text)
	match := func(ev *AuditEvent) bool {
		if f.Type != "" && ev.Type != f.Type {
			return false
		}
		if actor != "" && strings.ToLower(ev.Actor) != actor {
			return false
		}
		if text != "" {
			hay := strings.ToLower(ev.Actor + "\x00" + ev.Addr + "\x00" + ev.Target + "\x00" + ev.Detail)
			if !strings.Contains(hay, text) {
				return false
			}
		}
		return true
	}
	out := []AuditEvent{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var k, v []byte
		newest := f.Newest || f.Before != 0
		switch {
		case f.Before != 0:
			if k, _ = c.Seek(u64(f.Before)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		case newest:
			k, v = c.Last()
		default:
			k, v = c.Seek(u64(f.Since + 1))
		}
		for scanned := 0; k != nil && len(out) < f.Limit && scanned < AuditScanMax; scanned++ {
			var ev AuditEvent
			if err := decode(v, &ev); err != nil {
				return err
			}
			if match(&ev) {
				out = append(out, ev)
			}
			if newest {
				k, v = c.Prev()
			} else {
				k, v = c.Next()
			}
		}
		return nil
	})
	return out, err
}
