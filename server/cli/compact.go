package cli

import (
	"fmt"

	"projectboard/store"
)

func compactCommand(args []string) error {
	f := newFlagSet("compact")
	db := dbFlag(f)
	if err := f.parse(args); err != nil {
		return err
	}
	before, after, err := store.Compact(*db)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Printf("compact: %s from %d to %d bytes\n", *db, before, after)
	return nil
}
