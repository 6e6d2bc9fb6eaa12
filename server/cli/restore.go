package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"projectboard/store"
)

func restoreCommand(args []string) error {
	f := newFlagSet("restore")
	db := dbFlag(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errors.New("restore: give the backup file")
	}
	backup := f.Arg(0)
	epoch, err := store.Restore(backup, *db)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := auditRestore(*db, backup); err != nil {
		return fmt.Errorf("restore: %s is in place, but the audit log could not be written: %w", *db, err)
	}
	rev, projects, _, err := store.Verify(*db)
	if err != nil {
		return err
	}
	fmt.Printf("restore: %s now holds revision %d, %d projects, new epoch %s; screens take a fresh snapshot when they reconnect\n",
		*db, rev, projects, epoch)
	return nil
}

// auditRestore appends the restore to the restored database's audit log, which until then
// ends where the backup was taken.
func auditRestore(db, backup string) error {
	st, err := store.Open(db, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Audit(store.AuditEvent{Type: store.AuditRestore, Actor: "cli", Target: filepath.Base(backup),
		Detail: fmt.Sprintf("revision %d", st.Rev())}); err != nil {
		return err
	}
	return st.Close()
}
