package server

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/hub"
	"projectboard/store"
)

const sessionCookie = "pb_session"

// actor is who makes a request: a user by session, an api token acting for its owner, or a
// display token.
type actor struct {
	// User is the account acted for: the session's user, or an api token's owner with at most
	// the token's role. Nil for a display token.
	User       *store.User
	Token      *store.Token // nil for a session
	SessionID  string       // the secret, for logout
	SessionKey string
}

// Name is what goes into a change's "by" and the audit log's actor: the username for a
// person, "token:<name>" for a token, so that a token never passes for a person.
func (a *actor) Name() string {
	if a.Token != nil {
		return a.Token.Actor()
	}
	return a.User.Username
}

func (a *actor) role() store.Role {
	if a.User != nil {
		return a.User.Role
	}
	return a.Token.Role
}

// allows reports whether the actor reaches an access level.
func (a *actor) allows(level Access) bool {
	switch level {
	case Public, Reader:
		return true
	case Editor:
		return a.role() == store.RoleEditor || a.role() == store.RoleAdmin
	case Admin:
		return a.role() == store.RoleAdmin
	}
	return false
}

// office reports whether the actor acts for the project office (项目办): an admin, or an editor
// not limited to departments. The office approves and returns reports, closes months and
// edits any problem (see docs/api.md, "The monthly cycle").
func (a *actor) office() bool {
	if a.User == nil {
		return false // a display token
	}
	switch a.User.Role {
	case store.RoleAdmin:
		return true
	case store.RoleEditor:
		return len(a.User.Departments) == 0
	}
	return false
}

// requireOffice refuses an actor who is not the office.
func requireOffice(a *actor) error {
	if !a.office() {
		return errorf(fiber.StatusForbidden, "forbidden", "", "only the project office (an admin or an editor of every unit) may do this")
	}
	return nil
}

func (a *actor) meta(addr string) hub.Meta {
	m := hub.Meta{SessionKey: a.SessionKey, Addr: addr}
	if a.Token != nil {
		m.TokenID = a.Token.ID
	}
	if a.User != nil {
		m.Username = a.User.Username
	}
	return m
}

func currentActor(c *fiber.Ctx) *actor {
	a, _ := c.Locals("actor").(*actor)
	return a
}

// identify finds the actor from the session cookie, a bearer token, or (for the websocket and
// the wall screen, which cannot set headers) a token query parameter.
func (s *Server) identify(c *fiber.Ctx) (*actor, error) {
	secret := ""
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, value, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || value == "" {
			return nil, errorf(fiber.StatusUnauthorized, "unauthenticated", "", "the Authorization header must be Bearer <token>")
		}
		secret = value
	} else if q := c.Query("token"); q != "" && c.Path() == "/ws" {
		secret = q
	}
	if secret != "" {
		t, err := s.store.TokenBySecret(secret)
		if errors.Is(err, store.ErrUnavailable) {
			return nil, err // 503: the token may well be valid
		}
		if err != nil {
			return nil, errorf(fiber.StatusUnauthorized, "unauthenticated", "", "unknown or revoked token")
		}
		a := &actor{Token: &t}
		if t.Kind == "api" {
			// An api token acts for its owner, with the owner's departments and the lower of
			// the two roles. Deleting or demoting the owner revokes it (store.DeleteUser).
			owner, err := s.store.User(t.Owner)
			if errors.Is(err, store.ErrUnavailable) {
				return nil, err
			}
			if err != nil {
				return nil, errorf(fiber.StatusUnauthorized, "unauthenticated", "", "unknown or revoked token")
			}
			if t.Role.Below(owner.Role) {
				owner.Role = t.Role
			}
			a.User = &owner
		}
		return a, nil
	}
	if id := c.Cookies(sessionCookie); id != "" {
		u, _, err := s.store.SessionUser(id)
		if err == nil {
			return &actor{User: &u, SessionID: id, SessionKey: store.SessionKey(id)}, nil
		}
		if errors.Is(err, store.ErrUnavailable) {
			return nil, err // 503, not 401: a screen must not drop its login for a restart
		}
	}
	return nil, errorf(fiber.StatusUnauthorized, "unauthenticated", "", "log in first")
}

// authorize is the route table's gate.
func (s *Server) authorize(level Access) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if level == Public {
			return c.Next()
		}
		a, err := s.identify(c)
		if err != nil {
			return err
		}
		if !a.allows(level) {
			return errorf(fiber.StatusForbidden, "forbidden", "", "your role may not do this")
		}
		c.Locals("actor", a)
		return c.Next()
	}
}

// originAllowed reports whether a request's Origin is the server's own or configured.
func (s *Server) originAllowed(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		// Not sent by a browser for a same-origin GET, or not a browser at all; a cross-site
		// browser request still tells on itself.
		return c.Get("Sec-Fetch-Site") != "cross-site"
	}
	if origin == c.Protocol()+"://"+c.Hostname() {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if origin == o {
			return true
		}
	}
	return false
}

// checkOrigin refuses every change from a foreign origin, so a foreign page cannot act with
// an editor's cookie.
func (s *Server) checkOrigin(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if !s.originAllowed(c) {
		return errorf(fiber.StatusForbidden, "foreign_origin", "", "requests from this origin may not change anything")
	}
	return c.Next()
}

const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; " +
	"form-action 'self'; frame-ancestors 'none'"

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c)
	if p := c.Path(); strings.HasPrefix(p, "/api/") || p == "/metrics" {
		// Answers about people, tokens and the database (a backup download included) stay
		// out of browser and proxy caches.
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

func setSecurityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer") // wall links carry a token in the URL
	c.Set("X-Frame-Options", "DENY")
	if c.Protocol() == "https" {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// maxLoginName bounds the name a login may try; longer ones cannot exist (store.User).
const maxLoginName = 64

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var body loginBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.Username == "" {
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "username", "username is required")
	}
	name := store.NormalizeUsername(body.Username)
	if len(name) > maxLoginName {
		name = name[:maxLoginName] // still throttled and checked: such a name fails like any unknown one
	}
	addr := s.clientIP(c)
	ok, retry, why := s.throttle.reserve(name, addr)
	if !ok {
		s.metrics.logins.WithLabelValues("refused_" + string(why)).Inc()
		s.auditThrottled(name, addr, why)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		msg := map[throttleReason]string{
			throttleAccount: "wrong password too recently for this account; wait a moment and try again",
			throttleAddr:    "too many logins from your address; try again later",
			throttleBusy:    "too many logins at once; try again in a moment",
		}[why]
		return errorf(fiber.StatusTooManyRequests, "too_many_requests", "", msg)
	}
	u, err := s.store.Authenticate(name, body.Password)
	switch {
	case err == nil:
		s.throttle.done(name, addr, loginOK)
		s.metrics.logins.WithLabelValues("ok").Inc()
	case errors.Is(err, store.ErrBadCredentials):
		s.throttle.done(name, addr, loginFailed)
		s.metrics.logins.WithLabelValues("failed").Inc()
		s.audit(c, store.AuditEvent{Type: store.AuditLoginFailed, Actor: name, Addr: addr})
		return err
	default:
		s.throttle.done(name, addr, loginError)
		s.metrics.logins.WithLabelValues("error").Inc()
		return err
	}
	// A new session ID at every login: a session fixed before login is never reused.
	if old := c.Cookies(sessionCookie); old != "" {
		_ = s.store.DeleteSession(old)
	}
	id, err := s.store.CreateSession(u.Username)
	if err != nil {
		return err
	}
	s.audit(c, store.AuditEvent{Type: store.AuditLoginOK, Actor: u.Username, Addr: addr})
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: id, Path: "/", HTTPOnly: true, SameSite: "Lax",
		Secure: c.Protocol() == "https", Expires: time.Now().Add(30 * 24 * time.Hour)})
	return c.JSON(fiber.Map{"user": u})
}

func (s *Server) handleLogout(c *fiber.Ctx) error {
	a := currentActor(c)
	if a.SessionID != "" {
		if err := s.store.DeleteSession(a.SessionID); err != nil {
			return err
		}
		s.hub.Drop(func(m hub.Meta) bool { return m.SessionKey == a.SessionKey }, hub.CodeRevoked, "logged out")
		s.audit(c, store.AuditEvent{Type: store.AuditLogout})
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", HTTPOnly: true, SameSite: "Lax",
		Expires: time.Unix(0, 0), MaxAge: -1})
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) handleMe(c *fiber.Ctx) error {
	a := currentActor(c)
	if a.Token != nil {
		return c.JSON(fiber.Map{"token": a.Token})
	}
	return c.JSON(fiber.Map{"user": a.User})
}
