package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Token is a display or api token. The secret is shown once, at creation; the store keeps
// only its SHA-256 (a token has 256 random bits, so a fast hash is enough).
//
// An api token belongs to an account (Owner): it acts as that account, with at most the
// token's role, and dies with it — deleting or demoting the account revokes it. A display
// token belongs to the system (it only reads); CreatedBy records the admin who made it.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // "display" or "api"
	Role      Role      `json:"role"`
	Owner     string    `json:"owner,omitempty"` // the account of an api token
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
}

// Actor is how the token's actions are attributed in the change log: "token:<name>". A
// user name cannot contain ':', so a token can never pass for a person.
func (t *Token) Actor() string { return "token:" + t.Name }

// CreateToken makes a token and returns it with its secret. An api token needs an Owner
// whose role reaches the token's.
func (s *Store) CreateToken(t Token) (Token, string, error) {
	switch t.Kind {
	case "display":
		t.Role, t.Owner = RoleDisplay, ""
	case "api":
		if !t.Role.userRole() {
			return Token{}, "", invalid("role", "must be admin, editor or viewer for an api token")
		}
		if t.Owner = NormalizeUsername(t.Owner); t.Owner == "" {
			return Token{}, "", invalid("owner", "is required for an api token")
		}
	default:
		return Token{}, "", invalid("kind", "must be display or api")
	}
	if err := checkText("name", t.Name, 1, 100); err != nil {
		return Token{}, "", err
	}
	t.ID = randomHex(6)
	t.CreatedAt = s.opt.Now().UTC()
	secret := randomToken("pb_")
	sum := sha256.Sum256([]byte(secret))
	err := s.update(func(tx *wtx) error {
		if t.Owner != "" {
			owner, err := s.userRecord(tx.Tx, t.Owner)
			if err != nil {
				return invalid("owner", "is not an account")
			}
			if owner.Role.Below(t.Role) {
				return invalid("role", "may not exceed the owner's role (%s)", owner.Role)
			}
		}
		if err := tx.putJSON(bucketTokens, t.ID, t); err != nil {
			return err
		}
		return tx.put(bucketTokenHashes, sum[:], []byte(t.ID))
	})
	return t, secret, wrapWrite(err)
}

// TokenBySecret finds the token a secret belongs to.
// Every API call and screen presents its token, so known tokens are kept in memory by hash;
// DeleteToken forgets them before it returns.
func (s *Store) TokenBySecret(secret string) (Token, error) {
	sum := sha256.Sum256([]byte(secret))
	if t, ok := s.tokenCache.Load(sum); ok {
		return t.(Token), nil
	}
	var t Token
	err := s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTokenHashes).Get(sum[:])
		if id == nil {
			return ErrNotFound
		}
		v := tx.Bucket(bucketTokens).Get(id)
		if v == nil {
			return ErrNotFound
		}
		return decode(v, &t)
	})
	if errors.Is(err, ErrUnavailable) {
		return Token{}, err
	}
	if err != nil {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	// Cache only what is still stored: a revocation may have committed since the read.
	gen := s.tokenGen.Load()
	still := false
	_ = s.view(func(tx *bolt.Tx) error { still = tx.Bucket(bucketTokenHashes).Get(sum[:]) != nil; return nil })
	if still {
		s.tokenCache.Store(sum, t)
		// Another instance's revocation is applied without tokenMu: it moves tokenGen, then
		// clears the cache. If it moved since the check, this entry may be stale.
		if s.tokenGen.Load() != gen {
			s.tokenCache.Delete(sum)
		}
	}
	return t, nil
}

// Tokens lists every token, newest first.
func (s *Store) Tokens() ([]Token, error) {
	out := []Token{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var t Token
			if err := decode(v, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

// DeleteToken revokes a token and returns it as it was.
func (s *Store) DeleteToken(id string) (Token, error) {
	var t Token
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	err := s.update(func(tx *wtx) error {
		v := tx.Bucket(bucketTokens).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("token %q: %w", id, ErrNotFound)
		}
		if err := decode(v, &t); err != nil {
			return err
		}
		s.forgetToken(id)
		return deleteTokenTx(tx, id)
	})
	return t, wrapWrite(err)
}

// forgetToken drops a token from the secret cache. The revoking caller holds tokenMu across
// its whole transaction: TokenBySecret caches only what it still finds stored after taking
// tokenMu, so it can neither cache the token between this and the commit nor after it.
func (s *Store) forgetToken(id string) {
	s.tokenCache.Range(func(k, v any) bool {
		if v.(Token).ID == id {
			s.tokenCache.Delete(k)
		}
		return true
	})
}

// revokeTokensOf deletes every token owned by username in tx and returns them. Their cached
// secrets are forgotten before the transaction commits, so a revoked token fails at once.
func (s *Store) revokeTokensOf(tx *wtx, username string) ([]Token, error) {
	var owned []Token
	err := tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		var t Token
		if err := decode(v, &t); err != nil {
			return err
		}
		if t.Owner == username {
			owned = append(owned, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range owned {
		s.forgetToken(t.ID)
		if err := deleteTokenTx(tx, t.ID); err != nil {
			return nil, err
		}
	}
	return owned, nil
}

func deleteTokenTx(tx *wtx, id string) error {
	hashes := tx.Bucket(bucketTokenHashes)
	var keys [][]byte
	_ = hashes.ForEach(func(k, v []byte) error {
		if string(v) == id {
			keys = append(keys, append([]byte{}, k...))
		}
		return nil
	})
	for _, k := range keys {
		if err := tx.del(bucketTokenHashes, k); err != nil {
			return err
		}
	}
	return tx.del(bucketTokens, []byte(id))
}
