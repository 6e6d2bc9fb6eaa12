package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// WriteBackup streams a consistent copy of the whole database to w while edits go on: it is
// one read transaction, so it holds exactly the state of one revision. start, if not nil,
// learns that revision and the copy's size before the first byte is written.
func (s *Store) WriteBackup(w io.Writer, start func(rev uint64, size int64)) (n int64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		if start != nil {
			start(btou(tx.Bucket(bucketMeta).Get(keyRev)), tx.Size())
		}
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Verify opens a database file read-only, runs the consistency check and returns its
// revision, project count and epoch.
func Verify(path string) (rev uint64, projects int, epoch string, err error) {
	s, err := Open(path, Options{ReadOnly: true, LockTimeout: 2 * time.Second})
	if err != nil {
		return 0, 0, "", err
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		return 0, 0, "", fmt.Errorf("%s fails the consistency check: %w", path, err)
	}
	return s.Rev(), s.Len(), s.Epoch(), nil
}

// Restore installs the backup at src as the database at dst, with a new epoch, so every
// screen that reconnects takes a fresh snapshot instead of resuming from a revision that no
// longer means the same thing. No server may hold dst: Restore takes its lock first.
func Restore(src, dst string) (epoch string, err error) {
	if _, err := os.Stat(dst); err == nil {
		held, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: 2 * time.Second})
		if errors.Is(err, bolt.ErrTimeout) {
			return "", fmt.Errorf("%s: %w", dst, ErrLocked)
		}
		if err != nil {
			return "", err
		}
		defer held.Close() // holds the lock until the new file is in place
	}
	tmp := dst + ".restore"
	if err := copyFile(src, tmp); err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	if err := upgradeCopy(tmp); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return "", err
	}
	epoch = newEpoch()
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("not a projectboard database")
		}
		// Sessions of the old file are not carried over: everyone logs in again.
		if err := tx.DeleteBucket(bucketSessions); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketSessions); err != nil {
			return err
		}
		return meta.Put(keyEpoch, []byte(epoch))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return epoch, syncDir(filepath.Dir(dst))
}

// upgradeCopy checks that path, a copy of a backup, is a Projectboard database, brings it to
// this binary's schema (a backup made by an older binary is migrated, never the original)
// and runs the consistency check.
func upgradeCopy(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return errors.New("an empty file is not a projectboard database")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		return err
	}
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil || schemaOf(tx) == 0 {
			return errors.New("not a projectboard database")
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s, err := Open(path, Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		return fmt.Errorf("fails the consistency check: %w", err)
	}
	return nil
}

// Compact rewrites the database at path without its free pages (a bbolt file never shrinks
// by itself). No server may hold the file. It returns the sizes before and after.
func Compact(path string) (before, after int64, err error) {
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return 0, 0, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return 0, 0, err
	}
	// bbolt grows a file in steps of AllocSize (16 MiB) past that size: a compacted file
	// would carry up to that much slack.
	dst.AllocSize = 1 << 20
	defer os.Remove(tmp)
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		return 0, 0, err
	}
	if err := dst.Close(); err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, err
	}
	nfi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), nfi.Size(), syncDir(filepath.Dir(path))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
