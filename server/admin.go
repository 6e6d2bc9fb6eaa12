package server

import (
	"fmt"
	"io"

	"github.com/gofiber/fiber/v2"

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
	name := c.Params("username")
	u, _, err := s.store.UpdateUser(name, store.UserUpdate{Password: b.Password, DisplayName: b.DisplayName,
		Role: b.Role, Departments: b.Departments})
	if err != nil {
		return err
	}
	if b.Password != nil || b.Role != nil {
		// A new password or role ends the user's live connections; they log in again.
		s.hub.Drop(func(m hub.Meta) bool { return m.Username == name && m.TokenID == "" }, hub.CodeRevoked, "account changed")
	}
	return c.JSON(u)
}

func (s *Server) handleUserDelete(c *fiber.Ctx) error {
	name := c.Params("username")
	if a := currentActor(c); a.User != nil && a.User.Username == name {
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "username", "you cannot delete your own account")
	}
	if _, err := s.store.DeleteUser(name); err != nil {
		return err
	}
	s.hub.Drop(func(m hub.Meta) bool { return m.Username == name && m.TokenID == "" }, hub.CodeRevoked, "account deleted")
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
	t, secret, err := s.store.CreateToken(store.Token{Kind: b.Kind, Name: b.Name, Role: b.Role,
		CreatedBy: currentActor(c).Name()})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": t.ID, "token": secret, "name": t.Name,
		"kind": t.Kind, "role": t.Role, "createdAt": t.CreatedAt, "createdBy": t.CreatedBy})
}

func (s *Server) handleTokenDelete(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.store.DeleteToken(id); err != nil {
		return err
	}
	s.hub.Drop(func(m hub.Meta) bool { return m.TokenID == id }, hub.CodeRevoked, "token revoked")
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) handleScreensReload(c *fiber.Ctx) error {
	s.hub.Publish(&hub.Message{Data: []byte(`{"type":"reload"}`)})
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
		c.Set(fiber.HeaderContentType, "application/octet-stream")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="projectboard-rev%d.db"`, h.rev))
		c.Set("X-Projectboard-Rev", fmt.Sprint(h.rev))
		c.Set("X-Projectboard-Epoch", s.store.Epoch())
		return c.SendStream(pr, int(h.size))
	case err := <-failed:
		return err
	}
}
