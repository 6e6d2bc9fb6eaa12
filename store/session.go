package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

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
	err := s.update(func(tx *wtx) error {
		if _, err := s.userRecord(tx.Tx, username); err != nil {
			return err
		}
		// Sessions that were never presented again would stay forever: each login sweeps
		// the expired ones of its user.
		if err := deleteSessionsWhere(tx, func(sess Session) bool {
			return sess.Username == username && (now.Sub(sess.LastSeen) > s.opt.SessionIdle || now.Sub(sess.CreatedAt) > s.opt.SessionMax)
		}); err != nil {
			return err
		}
		return tx.putJSON(bucketSessions, SessionKey(id), Session{Username: username, CreatedAt: now, LastSeen: now})
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
		_ = s.update(func(tx *wtx) error { return tx.putJSON(bucketSessions, key, sess) })
	}
	return r.User, sess, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(id string) error {
	return wrapWrite(s.update(func(tx *wtx) error {
		return tx.del(bucketSessions, []byte(SessionKey(id)))
	}))
}

func deleteSessionsOf(tx *wtx, username string) error {
	return deleteSessionsWhere(tx, func(sess Session) bool { return sess.Username == username })
}

func deleteSessionsWhere(tx *wtx, match func(Session) bool) error {
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
		if err := tx.del(bucketSessions, k); err != nil {
			return err
		}
	}
	return err
}
