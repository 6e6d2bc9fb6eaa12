package store

import (
	"runtime"

	"github.com/alexedwards/argon2id"
	bolt "go.etcd.io/bbolt"
)

// PasswordParams are argon2id's cost parameters.
type PasswordParams = argon2id.Params

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

func checkPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return invalid("password", "needs at least %d characters", MinPasswordLength)
	}
	if len(pw) > 256 {
		return invalid("password", "has more than 256 bytes")
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
