package cli

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudflare/tableflip"

	"projectboard/store"
)

// upgrade starts the binary on disk as a new process that takes over the listening sockets,
// for a restart without downtime (SIGHUP; tableflip passes the sockets). This process first
// releases the database file, since only one process may hold it: screens and reads are
// still served from memory, edits wait. When the new process is serving, upg.Exit closes
// and this one hands its screens over (they reconnect at once and resume from their
// revision). If the new process fails to start, this one takes the file back and goes on;
// the error returned means it could not, and must stop.
func upgrade(st *store.Store, upg *tableflip.Upgrader, log *slog.Logger) error {
	t0 := time.Now()
	log.Info("upgrade: starting the new process")
	if err := st.Release(); err != nil {
		log.Error("upgrade: could not release the database", "err", err)
		return nil
	}
	err := upg.Upgrade()
	if err == nil {
		log.Info("upgrade: the new process is ready", "ms", time.Since(t0).Milliseconds())
		return nil
	}
	log.Error("upgrade failed; this process goes on serving", "err", err)
	if err := st.Reacquire(); err != nil {
		return fmt.Errorf("after a failed upgrade the database could not be taken back: %w", err)
	}
	return nil
}
