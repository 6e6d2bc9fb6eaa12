package store

import (
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		v         string
		multiline bool
		ok        bool
	}{
		{"长春影视产业园（一期）", false, true},
		{"Jingyue Hi-Tech Zone · 2022 👍", false, true},
		{"第一行\n第二行\t(备注)", true, true},
		{"第一行\n第二行", false, false},
		{"a\tb", false, false},
		{"esc \x1b[31m", true, false},
		{"nul \x00", true, false},
		{"del \x7f", true, false},
		{"c1 \u0085", true, false},
		{"rlo \u202Egnp.exe", true, false},
		{"isolate \u2067x\u2069", true, false},
		{"lrm \u200E", true, false},
		{"zero width \u200B", true, false},
		{"zwj \u200D", true, false},
		{"word joiner \u2060", true, false},
		{"bom \uFEFF", true, false},
		{"line sep \u2028", true, false},
		{"bad utf8 \xff", true, false},
	} {
		err := checkTextOf("f", tc.v, 0, 100, tc.multiline)
		if (err == nil) != tc.ok {
			t.Errorf("%q (multiline %v): got %v, want ok=%v", tc.v, tc.multiline, err, tc.ok)
		}
	}
	if err := CheckComment(strings.Repeat("长", MaxComment+1)); err == nil {
		t.Error("a comment over the limit was accepted")
	}
}

// A file of schema 2 had api tokens without owners. The step to schema 3 gives each the
// account that created it and revokes those whose creator is gone.
func TestMigrationGivesTokensOwners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, Options{PasswordParams: fastHash})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(User{Username: "li", Role: RoleAdmin}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{}
	err = s.update(func(w *wtx) error {
		tx := w.Tx
		for _, tok := range []Token{
			{ID: "kept", Name: "script", Kind: "api", Role: RoleEditor, CreatedBy: "li"},
			{ID: "orphan", Name: "old", Kind: "api", Role: RoleAdmin, CreatedBy: "gone"},
			{ID: "wall", Name: "大屏", Kind: "display", Role: RoleDisplay, CreatedBy: "gone"},
		} {
			secrets[tok.ID] = "pb_secret_" + tok.ID
			sum := sha256.Sum256([]byte(secrets[tok.ID]))
			if err := putJSON(tx.Bucket(bucketTokens), tok.ID, tok); err != nil {
				return err
			}
			if err := tx.Bucket(bucketTokenHashes).Put(sum[:], []byte(tok.ID)); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bucketAudit); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(2))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, path)
	if tok, err := s.TokenBySecret(secrets["kept"]); err != nil || tok.Owner != "li" {
		t.Fatalf("token of an existing creator: %+v %v, want owner li", tok, err)
	}
	if _, err := s.TokenBySecret(secrets["orphan"]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of a deleted creator: got %v, want revoked", err)
	}
	if tok, err := s.TokenBySecret(secrets["wall"]); err != nil || tok.Owner != "" {
		t.Fatalf("display token: %+v %v", tok, err)
	}
	if _, err := s.Audit(AuditEvent{Type: AuditRestore, Actor: "cli"}); err != nil {
		t.Fatalf("audit after migration: %v", err)
	}
}

// A cached token stops working the moment its owner is deleted or demoted.
func TestOwnerChangesRevokeCachedTokens(t *testing.T) {
	s := openTest(t, "")
	for _, u := range []User{{Username: "a1", Role: RoleAdmin}, {Username: "a2", Role: RoleAdmin}} {
		if _, err := s.AddUser(u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	_, sec1, err := s.CreateToken(Token{Kind: "api", Name: "t1", Role: RoleAdmin, Owner: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	_, sec2, _ := s.CreateToken(Token{Kind: "api", Name: "t2", Role: RoleViewer, Owner: "A2"})
	for _, sec := range []string{sec1, sec2} {
		if _, err := s.TokenBySecret(sec); err != nil { // now cached
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateToken(Token{Kind: "api", Name: "t3", Role: RoleAdmin, Owner: "nobody"}); err == nil {
		t.Fatal("a token for no account was created")
	}
	if _, _, err := s.CreateToken(Token{Kind: "api", Name: "t3", Role: RoleViewer}); err == nil {
		t.Fatal("an api token without an owner was created")
	}
	_, revoked, err := s.UpdateUser("a2", UserUpdate{Role: ptr(RoleEditor)})
	if err != nil || len(revoked) != 1 || revoked[0].Name != "t2" {
		t.Fatalf("demote a2: revoked %v, %v", revoked, err)
	}
	if _, err := s.TokenBySecret(sec2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of a demoted owner: got %v", err)
	}
	if _, err := s.DeleteUser("a1"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete the last admin: got %v, want ErrLastAdmin", err)
	}
	if _, _, err := s.UpdateUser("A1", UserUpdate{Role: ptr(RoleViewer)}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote the last admin: got %v, want ErrLastAdmin", err)
	}
	if _, err := s.TokenBySecret(sec1); err != nil {
		t.Fatalf("a refused change revoked the token: %v", err)
	}
	if _, _, err := s.UpdateUser("a2", UserUpdate{Role: ptr(RoleAdmin)}); err != nil {
		t.Fatal(err)
	}
	revoked, err = s.DeleteUser("a1")
	if err != nil || len(revoked) != 1 {
		t.Fatalf("delete a1: %v %v", revoked, err)
	}
	if _, err := s.TokenBySecret(sec1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of a deleted owner: got %v", err)
	}
}

func TestAuditLogOrderAndFilters(t *testing.T) {
	s := openTest(t, "")
	for i, typ := range []AuditType{AuditLoginFailed, AuditLoginOK, AuditUserCreated, AuditLoginFailed} {
		if _, err := s.Audit(AuditEvent{Type: typ, Actor: []string{"x", "Li", "li", "y"}[i], Detail: "\x1b[31m" + strings.Repeat("长", 600)}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := s.AuditLog(AuditFilter{})
	if len(all) != 4 || all[0].Seq != 1 || all[3].Seq != 4 {
		t.Fatalf("oldest first: %+v", all)
	}
	if d := all[0].Detail; strings.ContainsRune(d, 0x1b) || len([]rune(d)) > auditDetailMax+1 {
		t.Fatalf("detail kept as given: %q…", d[:20])
	}
	for _, tc := range []struct {
		f    AuditFilter
		seqs string
	}{
		{AuditFilter{Newest: true}, "4321"},
		{AuditFilter{Before: 3}, "21"},
		{AuditFilter{Before: 99, Limit: 1}, "4"},
		{AuditFilter{Since: 2}, "34"},
		{AuditFilter{Type: AuditLoginFailed}, "14"},
		{AuditFilter{Actor: "LI"}, "23"},
		{AuditFilter{Text: "Y"}, "4"},
	} {
		ev, err := s.AuditLog(tc.f)
		var got strings.Builder
		for _, e := range ev {
			got.WriteString(string(rune('0' + e.Seq)))
		}
		if err != nil || got.String() != tc.seqs {
			t.Errorf("%+v: got %s %v, want %s", tc.f, got.String(), err, tc.seqs)
		}
	}
}
