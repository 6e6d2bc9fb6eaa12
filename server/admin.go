package server

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/feedwire"
	"projectboard/server/hub"
	"projectboard/store"
)

type userBody struct {
	Username    string     `json:"username"`
	Password    string     `json:"password"`
	DisplayName string     `json:"displayName"`
	Role        store.Role `json:"role"`
	Departments []string   `json:"departments"`
}

func (s *Server) handleUserList(c *fiber.Ctx) error {
	users, err := s.store.Users()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"users": users})
}

func (s *Server) handleUserCreate(c *fiber.Ctx) error {
	var b userBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	u, err := s.store.AddUser(store.User{Username: b.Username, DisplayName: b.DisplayName, Role: b.Role,
		Departments: b.Departments}, b.Password)
	if err != nil {
		return err
	}
	s.audit(c, store.AuditEvent{Type: store.AuditUserCreated, Target: u.Username, Detail: "role " + string(u.Role)})
	return c.Status(fiber.StatusCreated).JSON(u)
}

type userPatch struct {
	Password    *string     `json:"password"`
	DisplayName *string     `json:"displayName"`
	Role        *store.Role `json:"role"`
	Departments *[]string   `json:"departments"`
}

func (s *Server) handleUserUpdate(c *fiber.Ctx) error {
	var b userPatch
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	name := store.NormalizeUsername(c.Params("username"))
	before, err := s.store.User(name)
	if err != nil {
		return err
	}
	u, revoked, err := s.store.UpdateUser(name, store.UserUpdate{Password: b.Password, DisplayName: b.DisplayName,
		Role: b.Role, Departments: b.Departments})
	if err != nil {
		return err
	}
	if u.Role.Below(before.Role) {
		// A demoted account's sessions and tokens end; it logs in again with its new role.
		s.hub.Drop(func(m hub.Meta) bool { return m.Username == name }, hub.CodeRevoked, "account changed")
	} else if b.Password != nil || b.Role != nil {
		// A new password or role ends the user's live sessions; they log in again.
		s.hub.Drop(func(m hub.Meta) bool { return m.Username == name && m.TokenID == "" }, hub.CodeRevoked, "account changed")
	}
	if u.Role != before.Role {
		s.audit(c, store.AuditEvent{Type: store.AuditUserRole, Target: name, Detail: string(before.Role) + " → " + string(u.Role)})
	}
	if b.Password != nil {
		s.audit(c, store.AuditEvent{Type: store.AuditUserPassword, Target: name})
	}
	if b.DisplayName != nil || b.Departments != nil {
		s.audit(c, store.AuditEvent{Type: store.AuditUserChanged, Target: name, Detail: userChangeDetail(before, u)})
	}
	s.auditRevoked(c, revoked, "owner "+name+" demoted")
	return c.JSON(u)
}

// userChangeDetail says what changed of an account's name and departments.
func userChangeDetail(before, after store.User) string {
	var parts []string
	if before.DisplayName != after.DisplayName {
		parts = append(parts, fmt.Sprintf("displayName %q → %q", before.DisplayName, after.DisplayName))
	}
	if !slices.Equal(before.Departments, after.Departments) {
		parts = append(parts, fmt.Sprintf("departments %s → %s", strings.Join(before.Departments, ","), strings.Join(after.Departments, ",")))
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

func (s *Server) auditRevoked(c *fiber.Ctx, revoked []store.Token, why string) {
	for _, t := range revoked {
		s.audit(c, store.AuditEvent{Type: store.AuditTokenRevoked, Target: t.ID, Detail: t.Name + ": " + why})
	}
}

func (s *Server) handleUserDelete(c *fiber.Ctx) error {
	name := store.NormalizeUsername(c.Params("username"))
	if a := currentActor(c); a.User != nil && a.Token == nil && a.User.Username == name {
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "username", "you cannot delete your own account")
	}
	revoked, err := s.store.DeleteUser(name)
	if err != nil {
		return err
	}
	// Its sessions and its api tokens' sockets close.
	s.hub.Drop(func(m hub.Meta) bool { return m.Username == name }, hub.CodeRevoked, "account deleted")
	s.audit(c, store.AuditEvent{Type: store.AuditUserDeleted, Target: name})
	s.auditRevoked(c, revoked, "owner "+name+" deleted")
	return c.SendStatus(fiber.StatusNoContent)
}

type tokenBody struct {
	Kind string     `json:"kind"`
	Name string     `json:"name"`
	Role store.Role `json:"role"`
}

func (s *Server) handleTokenList(c *fiber.Ctx) error {
	tokens, err := s.store.Tokens()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"tokens": tokens})
}

func (s *Server) handleTokenCreate(c *fiber.Ctx) error {
	var b tokenBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	a := currentActor(c)
	// An api token belongs to the person creating it (an admin token's owner when a token
	// creates it); a display token to the system, with its creator recorded.
	t, secret, err := s.store.CreateToken(store.Token{Kind: b.Kind, Name: b.Name, Role: b.Role,
		Owner: a.User.Username, CreatedBy: a.Name()})
	if err != nil {
		return err
	}
	s.audit(c, store.AuditEvent{Type: store.AuditTokenCreated, Target: t.ID,
		Detail: fmt.Sprintf("%s token %q, role %s", t.Kind, t.Name, t.Role)})
	return c.Status(fiber.StatusCreated).JSON(struct {
		store.Token
		Secret string `json:"token"`
	}{t, secret})
}

func (s *Server) handleTokenDelete(c *fiber.Ctx) error {
	id := c.Params("id")
	t, err := s.store.DeleteToken(id)
	if err != nil {
		return err
	}
	s.hub.Drop(func(m hub.Meta) bool { return m.TokenID == id }, hub.CodeRevoked, "token revoked")
	s.audit(c, store.AuditEvent{Type: store.AuditTokenDeleted, Target: id, Detail: fmt.Sprintf("%s token %q", t.Kind, t.Name)})
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) handleScreensReload(c *fiber.Ctx) error {
	msg, err := json.Marshal(feedwire.Reload{Type: feedwire.TypeReload})
	if err != nil {
		return err // a constant string: marshalling cannot fail
	}
	s.hub.Publish(&hub.Message{Data: msg})
	s.audit(c, store.AuditEvent{Type: store.AuditScreensReload, Detail: fmt.Sprintf("%d screens", s.hub.Len())})
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"screens": s.hub.Len()})
}

// handleBackup streams a consistent copy of the database while edits go on.
func (s *Server) handleBackup(c *fiber.Ctx) error {
	pr, pw := io.Pipe()
	type head struct {
		rev  uint64
		size int64
	}
	started := make(chan head, 1)
	failed := make(chan error, 1)
	go func() {
		_, err := s.store.WriteBackup(pw, func(rev uint64, size int64) { started <- head{rev, size} })
		if err != nil {
			failed <- err
		}
		pw.CloseWithError(err)
	}()
	select {
	case h := <-started:
		s.audit(c, store.AuditEvent{Type: store.AuditBackup, Detail: fmt.Sprintf("revision %d, %d bytes", h.rev, h.size)})
		c.Set(fiber.HeaderContentType, "application/octet-stream")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="projectboard-rev%d.db"`, h.rev))
		c.Set("X-Projectboard-Rev", fmt.Sprint(h.rev))
		c.Set("X-Projectboard-Epoch", s.store.Epoch())
		return c.SendStream(pr, int(h.size))
	case err := <-failed:
		return err
	}
}
