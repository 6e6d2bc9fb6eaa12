package store

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

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

// CheckNewUser validates an account and its password before anything is written (the
// command line checks its arguments with it before it opens the database).
func CheckNewUser(u User, password string) error {
	u.Username = NormalizeUsername(u.Username)
	if err := u.validate(); err != nil {
		return err
	}
	return checkPassword(password)
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
	err = s.update(func(tx *wtx) error {
		if tx.Bucket(bucketUsers).Get([]byte(u.Username)) != nil {
			return fmt.Errorf("user %q: %w", u.Username, ErrConflict)
		}
		return tx.putJSON(bucketUsers, u.Username, userRecord{User: u, PasswordHash: hash})
	})
	return u, wrapWrite(err)
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
	err := s.update(func(tx *wtx) error {
		r, err := s.userRecord(tx.Tx, username)
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
			if err := checkNotLastAdmin(tx.Tx, username); err != nil {
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
		return tx.putJSON(bucketUsers, username, r)
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
	err := s.update(func(tx *wtx) error {
		r, err := s.userRecord(tx.Tx, username)
		if err != nil {
			return err
		}
		if r.Role == RoleAdmin {
			if err := checkNotLastAdmin(tx.Tx, username); err != nil {
				return err
			}
		}
		if err := deleteSessionsOf(tx, username); err != nil {
			return err
		}
		if revoked, err = s.revokeTokensOf(tx, username); err != nil {
			return err
		}
		return tx.del(bucketUsers, []byte(username))
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
