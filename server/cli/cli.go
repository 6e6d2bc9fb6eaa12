// Package cli is projectboard's command line: the subcommands (serve, user, backup, restore,
// compact, migrate, version), their flags and the PROJECTBOARD_* variables that stand in for flags.
// The command projectboard (main.go) only hands it the arguments.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

const usage = `projectboard — live project-tracking dashboard

Usage:
  projectboard serve [flags]                 start the server; SIGHUP upgrades it in place
                                             (the binary on disk takes over without downtime)
  projectboard user add [flags] USERNAME     add an account (password read from stdin)
  projectboard user passwd [flags] USERNAME  set an account's password (read from stdin)
  projectboard user list [flags]             list accounts
  projectboard backup --url URL --token T [--out FILE]
                                             save a hot backup from a running server (admin api token)
  projectboard restore [--db FILE] BACKUP     install a backup (server stopped); screens resync
  projectboard compact [--db FILE]            rewrite the database without free pages (server stopped)
  projectboard migrate --to-etcd|--from-etcd --db FILE --etcd-endpoints URLS
                                             move a board into a cluster's etcd, or out into a new file
  projectboard version                       print the version (also --version, -v)

Every flag also reads PROJECTBOARD_<NAME> from the environment (e.g. PROJECTBOARD_DB).
Run 'projectboard COMMAND -h' for a command's flags.
`

// Run runs the command line args (without the program's name). version is the binary's,
// as `make build` stamps it into main. An error is what main prints before it exits with 1;
// COMMAND -h prints the flags and returns nil.
func Run(args []string, version string, log *slog.Logger) error {
	err := command(args, version, log)
	if errors.Is(err, flag.ErrHelp) {
		return nil // COMMAND -h: the flags are printed (see flagSet.parse)
	}
	return err
}

func command(args []string, version string, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], version, log)
	case "user":
		return userCommand(args[1:])
	case "backup":
		return backupCommand(args[1:])
	case "restore":
		return restoreCommand(args[1:])
	case "compact":
		return compactCommand(args[1:])
	case "migrate":
		return migrateCommand(args[1:], log)
	case "version", "--version", "-version", "-v":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// flagSet makes a flag set whose flags fall back to PROJECTBOARD_<NAME> variables.
type flagSet struct {
	*flag.FlagSet
}

func newFlagSet(name string) flagSet {
	return flagSet{flag.NewFlagSet("projectboard "+name, flag.ContinueOnError)}
}

// parse parses args. -h prints the flags to stdout and returns flag.ErrHelp, which run turns
// into success; a wrong flag prints them to stderr and returns the error.
func (f flagSet) parse(args []string) error {
	f.SetOutput(io.Discard) // the error is printed once, by main
	err := f.Parse(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		f.SetOutput(os.Stdout)
	} else {
		f.SetOutput(os.Stderr)
	}
	f.Usage()
	return err
}

func envName(flagName string) string {
	return "PROJECTBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f flagSet) str(p *string, name, def, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	f.StringVar(p, name, def, help+" (env "+envName(name)+")")
}

func (f flagSet) u64(p *uint64, name string, def uint64, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			def = n
		}
	}
	f.Uint64Var(p, name, def, help+" (env "+envName(name)+")")
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func dbFlag(f flagSet) *string {
	var db string
	f.str(&db, "db", "data/projectboard.db", "database file")
	return &db
}

// needDatabase refuses a database file that does not exist, so that a mistyped --db is
// reported instead of creating an empty database.
func needDatabase(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database at %s (give --db, or start the server once)", path)
	} else if err != nil {
		return err
	}
	return nil
}
