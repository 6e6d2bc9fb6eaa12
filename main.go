// Command projectboard is the live project-tracking dashboard of a development zone: one
// binary holding the web UI, the HTTP API, the websocket feed and an embedded database.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudflare/tableflip"
	"golang.org/x/term"

	"projectboard/assets"
	"projectboard/server"
	"projectboard/store"
)

// version is stamped in by `make build` (-ldflags "-X main.version=…").
var version = "dev"

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
  projectboard version                       print the version

Every flag also reads PROJECTBOARD_<NAME> from the environment (e.g. PROJECTBOARD_DB).
Run 'projectboard COMMAND -h' for a command's flags.
`

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	if err := run(os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "projectboard:", err)
		os.Exit(1)
	}
}

func run(args []string, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], log)
	case "user":
		return userCommand(args[1:])
	case "backup":
		return backupCommand(args[1:])
	case "restore":
		return restoreCommand(args[1:])
	case "compact":
		return compactCommand(args[1:])
	case "version":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// Config is everything serve takes from flags and the environment.
type Config struct {
	Addr           string
	DB             string
	Seed           string
	AllowedOrigins []string
	TrustedProxies []string
	MetricsAddr    string
	PIDFile        string
}

// flagSet makes a flag set whose flags fall back to PROJECTBOARD_<NAME> variables.
type flagSet struct {
	*flag.FlagSet
}

func newFlagSet(name string) flagSet {
	return flagSet{flag.NewFlagSet(name, flag.ContinueOnError)}
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

func serve(args []string, log *slog.Logger) error {
	var cfg Config
	var origins, proxies string
	f := newFlagSet("serve")
	f.str(&cfg.Addr, "addr", ":8080", "address to listen on")
	db := dbFlag(f)
	f.str(&cfg.Seed, "seed", "jingyue-2022", "data set loaded into a new, empty database ('none' loads nothing; bundled: "+
		strings.Join(assets.SeedNames(), ", ")+")")
	f.str(&origins, "allowed-origins", "", "comma-separated origins besides the server's own that may make changes")
	f.str(&proxies, "trusted-proxies", "", "comma-separated proxy addresses whose X-Forwarded-* headers are trusted")
	f.str(&cfg.MetricsAddr, "metrics-addr", "", "also serve /metrics without login on this address (e.g. 127.0.0.1:9090)")
	f.str(&cfg.PIDFile, "pid-file", "", "write the serving process's PID here (it changes with each SIGHUP upgrade)")
	if err := f.Parse(args); err != nil {
		return err
	}
	cfg.DB = *db
	cfg.AllowedOrigins, cfg.TrustedProxies = splitList(origins), splitList(proxies)

	// The upgrader passes the listening sockets from this process to the one a SIGHUP starts,
	// so no connection is refused during an upgrade (see upgrade).
	upg, err := tableflip.New(tableflip.Options{PIDFile: cfg.PIDFile, UpgradeTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer upg.Stop()
	st, err := store.Open(cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := seedIfEmpty(st, cfg.Seed, log); err != nil {
		return err
	}
	baseURL := localURL(cfg.Addr)
	if err := firstStart(st, baseURL, log); err != nil {
		return err
	}
	ui := assets.UI()
	srv := server.New(st, server.Config{Build: buildID(ui), UI: ui, AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies, Logger: log})

	ln, err := upg.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 3)
	go func() { errc <- srv.App().Listener(ln) }()
	if cfg.MetricsAddr != "" {
		metrics := srv.MetricsApp()
		mln, err := upg.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return err
		}
		go func() { errc <- metrics.Listener(mln) }()
		defer metrics.Shutdown()
		log.Info("metrics without login", "url", localURL(cfg.MetricsAddr)+"/metrics")
	}
	if err := upg.Ready(); err != nil {
		return err
	}
	log.Info("projectboard is running", "url", baseURL+"/", "db", cfg.DB, "rev", st.Rev(),
		"projects", st.Len(), "version", version, "pid", os.Getpid(), "upgraded", upg.HasParent())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := upgrade(st, upg, log); err != nil {
				errc <- err
				return
			}
		}
	}()
	handedOver := false
	select {
	case err := <-errc:
		return err
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case <-upg.Exit():
		handedOver = true
		log.Info("the new process is serving: handing the screens over")
	}
	t0 := time.Now()
	if handedOver {
		// The new process holds the file; edits that waited here fail (never acknowledged),
		// so the requests below can finish.
		st.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("shutdown", "err", err)
	}
	t1 := time.Now()
	// Close commits whatever is still queued before the file closes.
	if err := st.Close(); err != nil {
		log.Error("closing the database", "err", err)
	}
	log.Info("stopped", "requests_and_screens_closed_ms", t1.Sub(t0).Milliseconds(),
		"database_closed_ms", time.Since(t1).Milliseconds())
	return nil
}

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

// localURL is the URL to print for a listen address.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// buildID names this binary and its UI, so screens reload when either changes.
func buildID(ui fs.FS) string {
	index, err := fs.ReadFile(ui, "index.html")
	if err != nil {
		return version + "-noui"
	}
	sum := sha256.Sum256(index)
	return version + "-" + hex.EncodeToString(sum[:4])
}

func seedIfEmpty(st *store.Store, name string, log *slog.Logger) error {
	if name == "none" || !st.Empty() {
		return nil
	}
	f, err := assets.Seed(name)
	if err != nil {
		return err
	}
	defer f.Close()
	projects, err := store.ReadProjectsCSV(f)
	if err != nil {
		return fmt.Errorf("data set %s: %w", name, err)
	}
	if err := st.Seed(projects, "system", "导入数据集 "+name); err != nil {
		return fmt.Errorf("data set %s: %w", name, err)
	}
	log.Info("loaded bundled data", "dataset", name, "projects", len(projects))
	return nil
}

// firstStart creates the admin account and a wall-screen token on a database without users.
func firstStart(st *store.Store, baseURL string, log *slog.Logger) error {
	users, err := st.Users()
	if err != nil || len(users) > 0 {
		return err
	}
	password, generated := os.Getenv("PROJECTBOARD_ADMIN_PASSWORD"), false
	if password == "" {
		password, generated = randomPassword(), true
	}
	if _, err := st.AddUser(store.User{Username: "admin", DisplayName: "管理员", Role: store.RoleAdmin}, password); err != nil {
		return fmt.Errorf("create admin: %w", err)
	}
	_, secret, err := st.CreateToken(store.Token{Kind: "display", Name: "大屏", CreatedBy: "admin"})
	if err != nil {
		return err
	}
	if generated {
		log.Info("first start: created the admin account; this password is shown once",
			"url", baseURL+"/login", "username", "admin", "password", password)
	} else {
		log.Info("first start: created the admin account with PROJECTBOARD_ADMIN_PASSWORD",
			"url", baseURL+"/login", "username", "admin")
	}
	log.Info("first start: wall screen link (display token, shown once)", "url", baseURL+"/wall?token="+secret)
	return nil
}

func randomPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func userCommand(args []string) error {
	if len(args) == 0 {
		return errors.New("user: want add, passwd or list")
	}
	f := newFlagSet("user " + args[0])
	db := dbFlag(f)
	var role, depts, display string
	if args[0] == "add" {
		f.str(&role, "role", "editor", "admin, editor or viewer")
		f.str(&depts, "departments", "", "comma-separated departments an editor may change (empty: all)")
		f.str(&display, "display-name", "", "the name shown in the UI")
	}
	if err := f.Parse(args[1:]); err != nil {
		return err
	}
	st, err := store.Open(*db, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "list":
		users, err := st.Users()
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "USERNAME\tROLE\tDEPARTMENTS\tNAME")
		for _, u := range users {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Username, u.Role, strings.Join(u.Departments, ","), u.DisplayName)
		}
		return w.Flush()
	case "add", "passwd":
		if f.NArg() != 1 {
			return fmt.Errorf("user %s: give exactly one USERNAME", args[0])
		}
		name := f.Arg(0)
		pw, err := readPassword(os.Stdin)
		if err != nil {
			return err
		}
		if args[0] == "add" {
			_, err = st.AddUser(store.User{Username: name, Role: store.Role(role), DisplayName: display,
				Departments: splitList(depts)}, pw)
		} else {
			_, _, err = st.UpdateUser(name, store.UserUpdate{Password: &pw})
		}
		if err != nil {
			return err
		}
		fmt.Printf("user %s: done\n", name)
		return nil
	}
	return fmt.Errorf("user: unknown subcommand %q", args[0])
}

// readPassword reads a password without echo from a terminal, or one line from a pipe.
func readPassword(in *os.File) (string, error) {
	if term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func backupCommand(args []string) error {
	var url, token, out string
	f := newFlagSet("backup")
	f.str(&url, "url", "http://localhost:8080", "the running server")
	f.str(&token, "token", "", "an api token with the admin role")
	f.str(&out, "out", "", "file to write (default projectboard-<date>-rev<N>.db)")
	if err := f.Parse(args); err != nil {
		return err
	}
	if token == "" {
		return errors.New("backup: --token is required (create an admin api token in Admin → Tokens)")
	}
	req, err := http.NewRequest("GET", strings.TrimRight(url, "/")+"/api/admin/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return fmt.Errorf("backup: server answered %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	if out == "" {
		out = fmt.Sprintf("projectboard-%s-rev%s.db", time.Now().Format("20060102-150405"), res.Header.Get("X-Projectboard-Rev"))
	}
	tmp := out + ".part"
	file, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	n, err := io.Copy(file, res.Body)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	rev, projects, _, err := store.Verify(tmp)
	if err != nil {
		return fmt.Errorf("backup: the copy is damaged: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Printf("backup: %s (%d bytes, revision %d, %d projects, consistency check passed)\n", out, n, rev, projects)
	return nil
}

func restoreCommand(args []string) error {
	f := newFlagSet("restore")
	db := dbFlag(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errors.New("restore: give the backup file")
	}
	epoch, err := store.Restore(f.Arg(0), *db)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	rev, projects, _, err := store.Verify(*db)
	if err != nil {
		return err
	}
	fmt.Printf("restore: %s now holds revision %d, %d projects, new epoch %s; screens take a fresh snapshot when they reconnect\n",
		*db, rev, projects, epoch)
	return nil
}

func compactCommand(args []string) error {
	f := newFlagSet("compact")
	db := dbFlag(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	before, after, err := store.Compact(*db)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Printf("compact: %s from %d to %d bytes\n", *db, before, after)
	return nil
}
