package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

// audit records a security or admin event: in the store's audit log (kept forever) and in the
// server's structured log. The actor and address default to the request's. Writing the entry
// never fails the request it describes — the action has happened — but a failure is logged
// with the whole event, so the trail is still in the server log.
func (s *Server) audit(c *fiber.Ctx, ev store.AuditEvent) {
	if ev.Actor == "" {
		if a := currentActor(c); a != nil {
			ev.Actor = a.Name()
		}
	}
	if ev.Addr == "" && c != nil {
		ev.Addr = s.clientIP(c)
	}
	s.recordAudit(ev)
}

func (s *Server) recordAudit(ev store.AuditEvent) {
	out, err := s.store.Audit(ev)
	if err != nil {
		s.log.Error("audit entry not stored", "type", ev.Type, "actor", ev.Actor, "addr", ev.Addr,
			"target", ev.Target, "detail", ev.Detail, "err", err)
		return
	}
	ev = out[0]
	s.log.Info("audit", "seq", ev.Seq, "type", ev.Type, "actor", ev.Actor, "addr", ev.Addr,
		"target", ev.Target, "detail", ev.Detail)
}

// auditThrottle keeps refused logins from filling the audit log at the attacker's request
// rate: one login.throttled entry per account, address and reason a minute, saying how many
// were refused since the last one.
type auditThrottle struct {
	mu   sync.Mutex
	seen map[string]*throttledRun
}

type throttledRun struct {
	last    time.Time
	refused int // since last
}

const auditThrottleEvery = time.Minute

func (s *Server) auditThrottled(account, addr string, why throttleReason) {
	t := &s.audits
	now := s.cfg.Now()
	key := string(why) + "\x00" + account + "\x00" + addr
	t.mu.Lock()
	if t.seen == nil || len(t.seen) > 10_000 {
		t.seen = map[string]*throttledRun{} // bounded; forgetting only records a bit more
	}
	run := t.seen[key]
	if run != nil && now.Sub(run.last) < auditThrottleEvery {
		run.refused++
		t.mu.Unlock()
		return
	}
	detail := "refused by the " + string(why) + " limit"
	if run != nil && run.refused > 0 {
		detail += fmt.Sprintf("; %d more refused in the %s before", run.refused, now.Sub(run.last).Round(time.Second))
	}
	t.seen[key] = &throttledRun{last: now}
	t.mu.Unlock()
	s.recordAudit(store.AuditEvent{Type: store.AuditLoginThrottled, Actor: account, Addr: addr, Detail: detail})
}

func (s *Server) handleAudit(c *fiber.Ctx) error {
	since, err := queryInt(c, "since", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	f := store.AuditFilter{Since: uint64(since), Before: uint64(before), Limit: int(limit),
		Type: store.AuditType(c.Query("type")), Actor: c.Query("actor"), Text: c.Query("q")}
	if c.Query("since") != "" && before != 0 {
		return errorf(fiber.StatusBadRequest, "bad_request", "before", "give since or before, not both")
	}
	f.Newest = c.Query("since") == ""
	if f.Type != "" && !knownAuditType(f.Type) {
		return errorf(fiber.StatusBadRequest, "bad_request", "type", "unknown audit event type")
	}
	for _, q := range []struct{ field, v string }{{"actor", f.Actor}, {"q", f.Text}} {
		if err := store.CheckText(q.field, q.v, 0, 100); err != nil {
			return errorf(fiber.StatusBadRequest, "bad_request", q.field, q.field+" must be at most 100 plain characters")
		}
	}
	events, err := s.store.AuditLog(f)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"events": events})
}

func knownAuditType(t store.AuditType) bool {
	for _, k := range append(store.AuditTypes[:len(store.AuditTypes):len(store.AuditTypes)], append(cycleAuditTypes, auditWebhookTested)...) {
		if k == t {
			return true
		}
	}
	return false
}
