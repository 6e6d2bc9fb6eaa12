// Command projectboard is the live project-tracking dashboard of a development zone: one
// binary holding the web UI, the HTTP API, the websocket feed and an embedded database.
// Its subcommands are in server/cli.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"projectboard/server/cli"
)

// version is stamped in by `make build` (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	if err := cli.Run(os.Args[1:], version, log); err != nil {
		fmt.Fprintln(os.Stderr, "projectboard:", err)
		os.Exit(1)
	}
}
