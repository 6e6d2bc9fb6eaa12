package server

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/hub"
	"projectboard/store"
)

const sessionCookie = "pb_session"

// actor is who makes a request: a user by session or api token, or a display token.
type actor struct {
	User       *store.User  // nil for a display token
	Token      *store.Token // nil for a session
	SessionID  string       // the secret, for logout
	SessionKey string
}

// Name is what goes into a change's "by": the username, or the api token's name.
func (a *actor) Name() string {
	if a.Token != nil && a.User == nil {
		return a.Token.Name
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
			// An api token acts as a user with its role and no department limits.
			a.User = &store.User{Username: t.Name, Role: t.Role, Departments: []string{}}
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
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer") // wall links carry a token in the URL
	c.Set("X-Frame-Options", "DENY")
	if c.Protocol() == "https" {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) handleLogin(c *fiber.Ctx) error {
	var body loginBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.Username == "" {
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "username", "username is required")
	}
	keys := []string{"user:" + strings.ToLower(body.Username), "addr:" + c.IP()}
	if wait := s.login.blocked(keys); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds()+1)))
		return errorf(fiber.StatusTooManyRequests, "too_many_requests", "", "too many failed logins; try again later")
	}
	u, err := s.store.Authenticate(body.Username, body.Password)
	if err != nil {
		if errors.Is(err, store.ErrBadCredentials) {
			s.login.fail(keys)
		}
		return err
	}
	s.login.reset(keys[0])
	// A new session ID at every login: a session fixed before login is never reused.
	if old := c.Cookies(sessionCookie); old != "" {
		_ = s.store.DeleteSession(old)
	}
	id, err := s.store.CreateSession(u.Username)
	if err != nil {
		return err
	}
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

// loginLimiter counts failed logins per key in a sliding window.
type loginLimiter struct {
	limit  int
	window time.Duration
	mu     sync.Mutex
	fails  map[string][]time.Time
}

func newLoginLimiter(limit int, window time.Duration) *loginLimiter {
	return &loginLimiter{limit: limit, window: window, fails: map[string][]time.Time{}}
}

func (l *loginLimiter) limitOf(key string) int {
	if strings.HasPrefix(key, "addr:") {
		return l.limit * 4
	}
	return l.limit
}

// blocked returns how long the caller must wait, or 0.
func (l *loginLimiter) blocked(keys []string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var wait time.Duration
	for _, k := range keys {
		recent := l.prune(k, now)
		if len(recent) >= l.limitOf(k) {
			wait = max(wait, recent[0].Add(l.window).Sub(now))
		}
	}
	return wait
}

func (l *loginLimiter) prune(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = ts
	}
	return ts
}

func (l *loginLimiter) fail(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
	if len(l.fails) > 100_000 { // bound memory under a spray of names
		for k := range l.fails {
			l.prune(k, now)
		}
	}
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	delete(l.fails, key)
	l.mu.Unlock()
}
