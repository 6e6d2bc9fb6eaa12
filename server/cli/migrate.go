package cli

import (
	"errors"
	"fmt"
	"log/slog"

	"projectboard/store"
)

// migrateCommand moves a board between a single node's file and a cluster (docs/scale-out.md):
//
//	projectboard migrate --to-etcd   --db FILE --etcd-endpoints URLS   the file becomes the cluster's board
//	projectboard migrate --from-etcd --db FILE --etcd-endpoints URLS   the cluster's board into a new file
//
// Both keep the epoch and every revision: screens and tokens go on as they were. With
// `restore`, --to-etcd also restores a backup into a cluster (restore it into a file, then
// move the file into an empty prefix).
func migrateCommand(args []string, log *slog.Logger) error {
	f := newFlagSet("migrate")
	db := dbFlag(f)
	var cfg EtcdConfig
	var endpoints string
	etcdFlags(f, &cfg, &endpoints)
	toEtcd := f.Bool("to-etcd", false, "move the single-node database --db into the cluster (its prefix must be empty; stop the server first)")
	fromEtcd := f.Bool("from-etcd", false, "write the cluster's board into the new single-node database --db")
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Endpoints = splitList(endpoints)
	if *toEtcd == *fromEtcd {
		return errors.New("migrate: give one of --to-etcd and --from-etcd")
	}
	if len(cfg.Endpoints) == 0 {
		return errors.New("migrate: --etcd-endpoints is required")
	}
	l, cli, err := dialEtcd(cfg, log)
	if err != nil {
		return err
	}
	defer cli.Close()
	timeout := 4 * cfg.Timeout
	if *fromEtcd {
		if err := store.FromCluster(*db, l, timeout); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		rev, projects, _, err := store.Verify(*db)
		if err != nil {
			return err
		}
		fmt.Printf("migrate: %s holds the cluster's board: revision %d, %d projects; serve it without --etcd-endpoints\n", *db, rev, projects)
		return nil
	}
	if err := needDatabase(*db); err != nil {
		return err
	}
	b, err := store.ToCluster(*db, l, timeout)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Printf("migrate: the cluster (prefix %s) holds the board of %s (%d bytes in %d chunks); start the instances with --etcd-endpoints and a --db of their own\n",
		cfg.Prefix, *db, b.Bytes, b.Chunks)
	return nil
}
