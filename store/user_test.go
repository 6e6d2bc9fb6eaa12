package store

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestUsersSessionsTokens(t *testing.T) {
	s := openTest(t, "")
	if _, err := s.AddUser(User{Username: "li", Role: RoleEditor, Departments: []string{"建设局"}}, "short"); err == nil {
		t.Fatal("accepted a short password")
	}
	u, err := s.AddUser(User{Username: "li", Role: RoleEditor, Departments: []string{"建设局"}}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !u.CanEdit("建设局") || u.CanEdit("教育局") {
		t.Fatal("department limits not applied")
	}
	if _, err := s.AddUser(User{Username: "li", Role: RoleViewer}, "another password"); !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if _, err := s.Authenticate("li", "wrong password!"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("got %v, want ErrBadCredentials", err)
	}
	if _, err := s.Authenticate("nobody", "wrong password!"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("got %v, want ErrBadCredentials", err)
	}
	if _, err := s.Authenticate("li", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	sid, err := s.CreateSession("li")
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.SessionUser(sid); err != nil || got.Username != "li" {
		t.Fatalf("got %v %v", got, err)
	}
	// A new password ends the sessions.
	if _, _, err := s.UpdateUser("li", UserUpdate{Password: ptr("a new long password")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionUser(sid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session survived a password change: %v", err)
	}

	tok, secret, err := s.CreateToken(Token{Kind: "display", Name: "大屏 1", CreatedBy: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Role != RoleDisplay {
		t.Fatalf("got role %q, want display", tok.Role)
	}
	if got, err := s.TokenBySecret(secret); err != nil || got.ID != tok.ID {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := s.DeleteToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenBySecret(secret); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token still works: %v", err)
	}
}

func TestSessionLifetimes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(t.TempDir()+"/s.db", Options{PasswordParams: fastHash, Now: func() time.Time { return now },
		SessionIdle: time.Hour, SessionMax: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddUser(User{Username: "wang", Role: RoleViewer}, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	sid, _ := s.CreateSession("wang")
	for i := 0; i < 5; i++ { // active every 50 minutes: the idle limit never bites
		now = now.Add(50 * time.Minute)
		if _, _, err := s.SessionUser(sid); err != nil && now.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) <= 3*time.Hour {
			t.Fatalf("after %d steps: %v", i, err)
		}
	}
	if _, _, err := s.SessionUser(sid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session outlived its absolute limit: %v", err)
	}
	sid2, _ := s.CreateSession("wang")
	now = now.Add(61 * time.Minute)
	if _, _, err := s.SessionUser(sid2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle session still valid: %v", err)
	}
	// Expired sessions that are never presented again are swept at the next login.
	_, _ = s.CreateSession("wang")
	now = now.Add(2 * time.Hour)
	_, _ = s.CreateSession("wang")
	n := 0
	_ = s.view(func(tx *bolt.Tx) error { n = tx.Bucket(bucketSessions).Stats().KeyN; return nil })
	if n != 1 {
		t.Fatalf("got %d stored sessions, want only the live one", n)
	}
}
