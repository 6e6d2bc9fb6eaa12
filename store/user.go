package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	bolt "go.etcd.io/bbolt"
)

// Role is what an account or api token may do.
type Role string

// The roles. RoleDisplay is the role of display tokens: read-only.
const (
	RoleAdmin   Role = "admin"
	RoleEditor  Role = "editor"
	RoleViewer  Role = "viewer"
	RoleDisplay Role = "display"
)

func (r Role) userRole() bool { return r == RoleAdmin || r == RoleEditor || r == RoleViewer }

// rank orders the roles by what they may do.
func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Below reports whether r may do less than o.
func (r Role) Below(o Role) bool { return r.rank() < o.rank() }

// NormalizeUsername folds a user name as typed to the stored form. User names are compared
// case-insensitively everywhere: they are stored in lower case, and every lookup (login, the
// API, the command line) folds what it is given, so "ED1" is the account ed1 — and shares its
// login throttle.
func NormalizeUsername(name string) string { return strings.ToLower(name) }

// ErrLastAdmin means a change would leave no admin account.
var ErrLastAdmin = errors.New("the last admin account cannot be deleted or demoted; make another admin first")

// PasswordParams are argon2id's cost parameters.
type PasswordParams = argon2id.Params

// User is an account. Its password hash is never part of its JSON.
type User struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"displayName"`
	Role        Role      `json:"role"`
	Departments []string  `json:"departments"`
	CreatedAt   time.Time `json:"createdAt"`
}

// CanEdit reports whether u may change a project of department dept.
func (u *User) CanEdit(dept string) bool {
	switch u.Role {
	case RoleAdmin:
		return true
	case RoleEditor:
		if len(u.Departments) == 0 {
			return true
		}
		for _, d := range u.Departments {
			if d == dept {
				return true
			}
		}
	}
	return false
}

type userRecord struct {
	User
	PasswordHash string `json:"passwordHash"`
	// PasswordChanged ends every session created before it.
	PasswordChanged time.Time `json:"passwordChanged"`
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,31}$`)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// CheckNewUser validates an account and its password before anything is written (the
// command line checks its arguments with it before it opens the database).
func CheckNewUser(u User, password string) error {
	u.Username = NormalizeUsername(u.Username)
	if err := u.validate(); err != nil {
		return err
	}
	return checkPassword(password)
}

func checkPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return invalid("password", "needs at least %d characters", MinPasswordLength)
	}
	if len(pw) > 256 {
		return invalid("password", "has more than 256 bytes")
	}
	return nil
}

func (u *User) validate() error {
	if !usernamePattern.MatchString(u.Username) {
		return invalid("username", "must be 2–32 lower-case letters, digits, '.', '_' or '-'")
	}
	if !u.Role.userRole() {
		return invalid("role", "must be admin, editor or viewer")
	}
	if err := checkText("displayName", u.DisplayName, 0, 100); err != nil {
		return err
	}
	if len(u.Departments) > 100 {
		return invalid("departments", "has more than 100 entries")
	}
	for _, d := range u.Departments {
		if err := checkText("departments", d, 1, 50); err != nil {
			return err
		}
	}
	if u.Departments == nil {
		u.Departments = []string{}
	}
	return nil
}

// argon2id takes 64 MiB and a core per hash by default: at most one hash per core runs at a
// time, so a burst of logins queues instead of exhausting memory.
var hashSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

func withHashSlot[T any](fn func() (T, error)) (T, error) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return fn()
}

func (s *Store) hashPassword(pw string) (string, error) {
	p := argon2id.DefaultParams
	if s.opt.PasswordParams != nil {
		p = s.opt.PasswordParams
	}
	return withHashSlot(func() (string, error) { return argon2id.CreateHash(pw, p) })
}

func comparePassword(pw, hash string) (bool, error) {
	return withHashSlot(func() (bool, error) { return argon2id.ComparePasswordAndHash(pw, hash) })
}

// AddUser creates an account.
func (s *Store) AddUser(u User, password string) (User, error) {
	u.Username = NormalizeUsername(u.Username)
	if err := u.validate(); err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return User{}, err
	}
	u.CreatedAt = s.opt.Now().UTC()
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(u.Username)) != nil {
			return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
		}
		return putJSON(b, u.Username, userRecord{User: u, PasswordHash: hash})
	})
	return u, wrapWrite(err)
}

// wrapWrite marks a failed commit as ErrUnavailable unless it is one of ours.
func wrapWrite(err error) error {
	if err == nil || isDomainError(err) {
		return err
	}
	return fmt.Errorf("commit: %v: %w", err, ErrUnavailable)
}

func isDomainError(err error) bool {
	for _, e := range []error{ErrNotFound, ErrConflict, ErrForbidden, ErrBadCredentials, ErrLastAdmin} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ve *ValidationError
	return errors.As(err, &ve)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func (s *Store) userRecord(tx *bolt.Tx, username string) (userRecord, error) {
	username = NormalizeUsername(username)
	var r userRecord
	v := tx.Bucket(bucketUsers).Get([]byte(username))
	if v == nil {
		return r, fmt.Errorf("user %q: %w", username, ErrNotFound)
	}
	return r, decode(v, &r)
}

// User returns one account.
func (s *Store) User(username string) (User, error) {
	var r userRecord
	err := s.view(func(tx *bolt.Tx) (err error) { r, err = s.userRecord(tx, username); return })
	return r.User, err
}

// Users returns every account sorted by name.
func (s *Store) Users() ([]User, error) {
	out := []User{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var r userRecord
			if err := decode(v, &r); err != nil {
				return err
			}
			out = append(out, r.User)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, err
}

// UserUpdate changes an account; nil fields stay as they are.
type UserUpdate struct {
	DisplayName *string
	Role        *Role
	Departments *[]string
	Password    *string
}

// UpdateUser changes an account and returns it as it is now. A new password ends all of the
// user's sessions; a lower role revokes every api token the user owns (they are returned).
// The last admin cannot be demoted (ErrLastAdmin).
func (s *Store) UpdateUser(username string, up UserUpdate) (User, []Token, error) {
	username = NormalizeUsername(username)
	var hash string
	if up.Password != nil {
		if err := checkPassword(*up.Password); err != nil {
			return User{}, nil, err
		}
		var err error
		if hash, err = s.hashPassword(*up.Password); err != nil {
			return User{}, nil, err
		}
	}
	var out User
	var revoked []Token
	s.tokenMu.Lock() // see forgetToken
	defer s.tokenMu.Unlock()
	err := s.update(func(tx *bolt.Tx) error {
		r, err := s.userRecord(tx, username)
		if err != nil {
			return err
		}
		before := r.Role
		if up.DisplayName != nil {
			r.DisplayName = *up.DisplayName
		}
		if up.Role != nil {
			r.Role = *up.Role
		}
		if up.Departments != nil {
			r.Departments = *up.Departments
		}
		if err := r.User.validate(); err != nil {
			return err
		}
		if before == RoleAdmin && r.Role != RoleAdmin {
			if err := checkNotLastAdmin(tx, username); err != nil {
				return err
			}
		}
		if r.Role.Below(before) {
			if revoked, err = s.revokeTokensOf(tx, username); err != nil {
				return err
			}
		}
		if hash != "" {
			r.PasswordHash = hash
			r.PasswordChanged = s.opt.Now().UTC()
			if err := deleteSessionsOf(tx, username); err != nil {
				return err
			}
		}
		out = r.User
		return putJSON(tx.Bucket(bucketUsers), username, r)
	})
	if err != nil {
		return User{}, nil, wrapWrite(err)
	}
	return out, revoked, nil
}

// DeleteUser removes an account, its sessions and the api tokens it owns (returned). The
// last admin cannot be deleted (ErrLastAdmin).
func (s *Store) DeleteUser(username string) ([]Token, error) {
	username = NormalizeUsername(username)
	var revoked []Token
	s.tokenMu.Lock() // see forgetToken
	defer s.tokenMu.Unlock()
	err := s.update(func(tx *bolt.Tx) error {
		r, err := s.userRecord(tx, username)
		if err != nil {
			return err
		}
		if r.Role == RoleAdmin {
			if err := checkNotLastAdmin(tx, username); err != nil {
				return err
			}
		}
		if err := deleteSessionsOf(tx, username); err != nil {
			return err
		}
		if revoked, err = s.revokeTokensOf(tx, username); err != nil {
			return err
		}
		return tx.Bucket(bucketUsers).Delete([]byte(username))
	})
	if err != nil {
		return nil, wrapWrite(err)
	}
	return revoked, nil
}

// checkNotLastAdmin fails with ErrLastAdmin unless an admin other than username exists.
func checkNotLastAdmin(tx *bolt.Tx, username string) error {
	found := false
	err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		if found || string(k) == username {
			return nil
		}
		var r userRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		found = r.Role == RoleAdmin
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("user %q: %w", username, ErrLastAdmin)
	}
	return err
}

// revokeTokensOf deletes every token owned by username in tx and returns them. Their cached
// secrets are forgotten before the transaction commits, so a revoked token fails at once.
func (s *Store) revokeTokensOf(tx *bolt.Tx, username string) ([]Token, error) {
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

// Authenticate checks a user name and password. It spends the same time on an unknown user
// as on a wrong password, so the answer does not tell which names exist.
func (s *Store) Authenticate(username, password string) (User, error) {
	s.passwordChecks.Add(1)
	var r userRecord
	err := s.view(func(tx *bolt.Tx) (err error) { r, err = s.userRecord(tx, username); return })
	if err != nil {
		_, _ = comparePassword(password, s.dummyHash())
		return User{}, ErrBadCredentials
	}
	match, err := comparePassword(password, r.PasswordHash)
	if err != nil || !match {
		return User{}, ErrBadCredentials
	}
	return r.User, nil
}

// dummyHash is a hash with the store's parameters, made once, compared against for unknown
// users so that they cost what a wrong password costs.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = s.hashPassword("not a real password, only for timing") })
	return s.dummy
}

// Session is a login. Its ID is known only to the browser; the store keeps a hash of it.
type Session struct {
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"createdAt"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Key is the hash under which a session is stored; the server uses it to name the session
// (e.g. to close its websockets) without holding the secret.
func SessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// CreateSession starts a session for a user and returns its secret ID.
func (s *Store) CreateSession(username string) (string, error) {
	username = NormalizeUsername(username)
	id := randomToken("")
	now := s.opt.Now().UTC()
	err := s.update(func(tx *bolt.Tx) error {
		if _, err := s.userRecord(tx, username); err != nil {
			return err
		}
		// Sessions that were never presented again would stay forever: each login sweeps
		// the expired ones of its user.
		if err := deleteSessionsWhere(tx, func(sess Session) bool {
			return sess.Username == username && (now.Sub(sess.LastSeen) > s.opt.SessionIdle || now.Sub(sess.CreatedAt) > s.opt.SessionMax)
		}); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketSessions), SessionKey(id), Session{Username: username, CreatedAt: now, LastSeen: now})
	})
	return id, wrapWrite(err)
}

// sessionTouchEvery limits how often a session's LastSeen is written.
const sessionTouchEvery = 5 * time.Minute

// SessionUser returns the user of a live session and refreshes its idle timer. An expired
// or unknown session is ErrNotFound.
func (s *Store) SessionUser(id string) (User, Session, error) {
	key := SessionKey(id)
	now := s.opt.Now().UTC()
	var sess Session
	var r userRecord
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		if err := decode(v, &sess); err != nil {
			return err
		}
		var err error
		r, err = s.userRecord(tx, sess.Username)
		return err
	})
	if errors.Is(err, ErrUnavailable) {
		return User{}, Session{}, err // the file is handed over: not a reason to log anyone out
	}
	if err != nil {
		return User{}, Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if now.Sub(sess.LastSeen) > s.opt.SessionIdle || now.Sub(sess.CreatedAt) > s.opt.SessionMax ||
		sess.CreatedAt.Before(r.PasswordChanged) {
		_ = s.DeleteSession(id)
		return User{}, Session{}, fmt.Errorf("session expired: %w", ErrNotFound)
	}
	if now.Sub(sess.LastSeen) > sessionTouchEvery {
		sess.LastSeen = now
		_ = s.update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketSessions), key, sess) })
	}
	return r.User, sess, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(id string) error {
	return wrapWrite(s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(SessionKey(id)))
	}))
}

func deleteSessionsOf(tx *bolt.Tx, username string) error {
	return deleteSessionsWhere(tx, func(sess Session) bool { return sess.Username == username })
}

func deleteSessionsWhere(tx *bolt.Tx, match func(Session) bool) error {
	b := tx.Bucket(bucketSessions)
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var sess Session
		if err := decode(v, &sess); err != nil {
			return err
		}
		if match(sess) {
			keys = append(keys, append([]byte{}, k...))
		}
		return nil
	})
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return err
}

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
	err := s.update(func(tx *bolt.Tx) error {
		if t.Owner != "" {
			owner, err := s.userRecord(tx, t.Owner)
			if err != nil {
				return invalid("owner", "is not an account")
			}
			if owner.Role.Below(t.Role) {
				return invalid("role", "may not exceed the owner's role (%s)", owner.Role)
			}
		}
		if err := putJSON(tx.Bucket(bucketTokens), t.ID, t); err != nil {
			return err
		}
		return tx.Bucket(bucketTokenHashes).Put(sum[:], []byte(t.ID))
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
	still := false
	_ = s.view(func(tx *bolt.Tx) error { still = tx.Bucket(bucketTokenHashes).Get(sum[:]) != nil; return nil })
	if still {
		s.tokenCache.Store(sum, t)
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
	err := s.update(func(tx *bolt.Tx) error {
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

func deleteTokenTx(tx *bolt.Tx, id string) error {
	hashes := tx.Bucket(bucketTokenHashes)
	var keys [][]byte
	_ = hashes.ForEach(func(k, v []byte) error {
		if string(v) == id {
			keys = append(keys, append([]byte{}, k...))
		}
		return nil
	})
	for _, k := range keys {
		if err := hashes.Delete(k); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketTokens).Delete([]byte(id))
}
