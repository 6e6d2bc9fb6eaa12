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
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudflare/tableflip"
	"github.com/gofiber/fiber/v2/middleware/pprof"
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
  projectboard version                       print the version (also --version, -v)

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
	err := command(args, log)
	if errors.Is(err, flag.ErrHelp) {
		return nil // COMMAND -h: the flags are printed (see flagSet.parse)
	}
	return err
}

func command(args []string, log *slog.Logger) error {
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

// Config is everything serve takes from flags and the environment.
type Config struct {
	Addr           string
	DB             string
	Seed           string
	AllowedOrigins []string
	TrustedProxies []string
	MetricsAddr    string
	// Pprof also serves Go's profiler (/debug/pprof) on MetricsAddr, which has no login.
	Pprof   bool
	PIDFile string
	// Clock, when set, is the instant the server's clock starts at (--clock); it runs on in
	// real time from there.
	Clock time.Time
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
	f.BoolVar(&cfg.Pprof, "pprof", false, "also serve Go's profiler, /debug/pprof, on --metrics-addr (no login: keep that address on loopback)")
	f.str(&cfg.PIDFile, "pid-file", "", "write the serving process's PID here (it changes with each SIGHUP upgrade)")
	var clock string
	f.str(&clock, "clock", "", "run the board as if it were this RFC 3339 instant, e.g. 2022-11-08T10:00:00+08:00; the clock "+
		"runs on in real time from there (for demos and tests: months, deadlines and warnings follow it; every start begins at it again)")
	if err := f.parse(args); err != nil {
		return err
	}
	if clock != "" {
		t, err := time.Parse(time.RFC3339, clock)
		if err != nil {
			return fmt.Errorf("--clock %q is not an RFC 3339 instant such as 2022-11-08T10:00:00+08:00", clock)
		}
		cfg.Clock = t
	}
	now := startClock(cfg.Clock)
	if cfg.Pprof && cfg.MetricsAddr == "" {
		return errors.New("--pprof needs --metrics-addr: the profiler is served only there")
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
	st, err := store.Open(cfg.DB, store.Options{Now: now})
	if err != nil {
		return err
	}
	defer st.Close()
	if !cfg.Clock.IsZero() {
		log.Info("the clock starts at --clock", "now", now().Format(time.RFC3339))
	}
	if err := seedIfEmpty(st, cfg.Seed, log); err != nil {
		return err
	}
	if err := backfillRestartDates(st, cfg.Seed, log); err != nil {
		return err
	}
	baseURL := localURL(cfg.Addr)
	if err := firstStart(st, baseURL, log); err != nil {
		return err
	}
	ui := assets.UI()
	srv := server.New(st, server.Config{Build: buildID(ui), UI: ui, AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies, Logger: log, Now: now})

	ln, err := upg.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 3)
	go func() { errc <- srv.App().Listener(ln) }()
	if cfg.MetricsAddr != "" {
		metrics := srv.MetricsApp()
		if cfg.Pprof {
			metrics.Use(pprof.New())
		}
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

// startClock is the server's clock: time.Now, or, with an instant to start at, one that
// starts there and runs on in real time (monotonic: a change of the machine's clock does not
// move it).
func startClock(at time.Time) func() time.Time {
	if at.IsZero() {
		return time.Now
	}
	t0 := time.Now()
	return func() time.Time { return at.Add(time.Since(t0)) }
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

// backfillRestartDates brings a database loaded from a bundled data set before restart dates
// (复工, resumedAt) existed up to date: 开复工率 counts continuing projects by their restart
// in the year, so without them the 2022 figure would fall from 100 % to about half. It runs
// only while no project has a restart date, only on a database whose first change loaded
// that data set, and fills only projects that still have the data set's year and start; each
// fill is an ordinary change by "system", in the change log and on every screen.
func backfillRestartDates(st *store.Store, name string, log *slog.Logger) error {
	if name == "none" || st.Empty() {
		return nil
	}
	projects, _ := st.Projects()
	for _, p := range projects {
		if p.ResumedAt != "" {
			return nil
		}
	}
	first, err := st.Changes(0, 1)
	if err != nil || len(first) == 0 || first[0].By != "system" || first[0].Comment != "导入数据集 "+name {
		return err
	}
	f, err := assets.Seed(name)
	if err != nil {
		return err
	}
	defer f.Close()
	seed, err := store.ReadProjectsCSV(f)
	if err != nil {
		return fmt.Errorf("data set %s: %w", name, err)
	}
	current := map[string]store.Project{}
	for _, p := range projects {
		current[p.ID] = p
	}
	var edits []store.Edit
	for _, sp := range seed {
		p, ok := current[sp.ID]
		if !ok || sp.ResumedAt == "" || p.Year != sp.Year || p.StartedAt != sp.StartedAt || !p.Stage.Started() {
			continue
		}
		resumed := sp.ResumedAt
		edits = append(edits, store.Edit{Kind: store.ChangeUpdate, ProjectID: p.ID, IfMatch: p.Version,
			Patch: &store.Patch{ResumedAt: &resumed}, By: "system", Comment: "数据集更新：补充复工日期 " + name})
	}
	if len(edits) == 0 {
		return nil
	}
	if _, err := st.ApplyAtomic(edits); err != nil {
		return fmt.Errorf("data set %s: adding restart dates: %w", name, err)
	}
	log.Info("added the bundled data set's restart dates (复工) to projects loaded before they existed",
		"dataset", name, "projects", len(edits))
	return nil
}

// firstStart makes sure the database has an admin account and says how to reach the wall
// screen. On a new database it creates the account admin and a display token and prints the
// first login and the wall link. Accounts made on the command line before the first start
// (`user add bob`) do not stand in for an admin: while no account has the admin role nobody
// could manage accounts or tokens, so one is created then too, and the log says why.
func firstStart(st *store.Store, baseURL string, log *slog.Logger) error {
	users, err := st.Users()
	if err != nil {
		return err
	}
	tokens, err := st.Tokens()
	if err != nil {
		return err
	}
	hasAdmin := slices.ContainsFunc(users, func(u store.User) bool { return u.Role == store.RoleAdmin })
	hasWall := slices.ContainsFunc(tokens, func(t store.Token) bool { return t.Kind == "display" })
	if hasAdmin {
		if !hasWall {
			log.Info("no display token, so no wall screen link: log in as an admin and create one in Admin → Tokens",
				"url", baseURL+"/admin")
		}
		return nil
	}

	why := "first start"
	if len(users) > 0 {
		why = "no admin account"
	}
	name, note := adminName(users)
	password, generated := os.Getenv("PROJECTBOARD_ADMIN_PASSWORD"), false
	if password == "" {
		password, generated = randomPassword(), true
	}
	if _, err := st.AddUser(store.User{Username: name, DisplayName: "管理员", Role: store.RoleAdmin}, password); err != nil {
		if !generated {
			return fmt.Errorf("create the admin account %s with PROJECTBOARD_ADMIN_PASSWORD: %w", name, err)
		}
		return fmt.Errorf("create the admin account %s: %w", name, err)
	}
	if _, err := st.Audit(store.AuditEvent{Type: store.AuditUserCreated, Actor: "system", Target: name,
		Detail: "role admin (" + why + ")"}); err != nil {
		return err
	}
	msg := why + ": created the admin account " + name + note
	attrs := []any{"url", baseURL + "/login", "username", name}
	if len(users) > 0 {
		attrs = append(attrs, "other_accounts", len(users))
	}
	if generated {
		log.Info(msg+"; this password is shown once", append(attrs, "password", password)...)
	} else {
		log.Info(msg+" with PROJECTBOARD_ADMIN_PASSWORD", attrs...)
	}
	if hasWall {
		return nil
	}
	tok, secret, err := st.CreateToken(store.Token{Kind: "display", Name: "大屏", CreatedBy: name})
	if err != nil {
		return err
	}
	if _, err := st.Audit(store.AuditEvent{Type: store.AuditTokenCreated, Actor: "system", Target: tok.ID,
		Detail: "display token " + tok.Name}); err != nil {
		return err
	}
	log.Info(why+": wall screen link (display token, shown once)", "url", baseURL+"/wall?token="+secret)
	return nil
}

// adminName picks the name of the admin account firstStart creates: admin, or when that
// name belongs to an account without the admin role (`user add admin` makes an editor),
// the first free one of admin-2, admin-3 …, with a note saying why.
func adminName(users []store.User) (name, note string) {
	roles := map[string]store.Role{}
	for _, u := range users {
		roles[u.Username] = u.Role
	}
	role, taken := roles["admin"]
	if !taken {
		return "admin", ""
	}
	for i := 2; ; i++ {
		name = fmt.Sprintf("admin-%d", i)
		if _, taken := roles[name]; !taken {
			return name, fmt.Sprintf(" (the name admin belongs to an account with the role %s)", role)
		}
	}
}

func randomPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

const userUsage = `Usage:
  projectboard user add [flags] USERNAME     add an account (password read from stdin)
  projectboard user passwd [flags] USERNAME  set an account's password (read from stdin)
  projectboard user list [flags]             list accounts

Run 'projectboard user SUBCOMMAND -h' for its flags.
`

// userCommand works on the accounts of a database file while no server holds it. Every
// argument, the password included, is checked before the file is opened: a mistake neither
// creates a database nor waits for a locked one.
func userCommand(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, userUsage)
		return errors.New("user: want add, passwd or list")
	}
	sub := args[0]
	switch sub {
	case "add", "passwd", "list":
	case "help", "-h", "--help":
		fmt.Print(userUsage)
		return nil
	default:
		fmt.Fprint(os.Stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q", sub)
	}
	f := newFlagSet("user " + sub)
	db := dbFlag(f)
	var role, depts, display string
	if sub == "add" {
		f.str(&role, "role", "editor", "admin, editor or viewer")
		f.str(&depts, "departments", "", "comma-separated departments an editor may change (empty: all)")
		f.str(&display, "display-name", "", "the name shown in the UI")
	}
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if sub == "list" {
		if f.NArg() != 0 {
			return errors.New("user list: takes no arguments")
		}
		return userList(*db)
	}
	if f.NArg() != 1 {
		return fmt.Errorf("user %s: give exactly one USERNAME", sub)
	}
	if sub == "add" {
		u := store.User{Username: f.Arg(0), Role: store.Role(role), DisplayName: display, Departments: splitList(depts)}
		return userAdd(*db, u)
	}
	return userPasswd(*db, f.Arg(0))
}

func userAdd(db string, u store.User) error {
	u.Username = store.NormalizeUsername(u.Username)
	// The account first, with a stand-in password, so that a wrong role or name is reported
	// before anyone types a password.
	if err := store.CheckNewUser(u, strings.Repeat("x", store.MinPasswordLength)); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	pw, err := readPassword(os.Stdin)
	if err != nil {
		return err
	}
	if err := store.CheckNewUser(u, pw); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	st, err := store.Open(db, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	if u, err = st.AddUser(u, pw); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	if _, err := st.Audit(store.AuditEvent{Type: store.AuditUserCreated, Actor: "cli", Target: u.Username,
		Detail: "role " + string(u.Role)}); err != nil {
		return fmt.Errorf("user add: %s was added, but the audit log could not be written: %w", u.Username, err)
	}
	fmt.Printf("user %s: added with the role %s\n", u.Username, u.Role)
	return st.Close()
}

func userPasswd(db, name string) error {
	name = store.NormalizeUsername(name)
	if err := needDatabase(db); err != nil {
		return fmt.Errorf("user passwd: %w", err)
	}
	pw, err := readPassword(os.Stdin)
	if err != nil {
		return err
	}
	// Any account's name passes the same check, so this checks the password before the file
	// is opened.
	if err := store.CheckNewUser(store.User{Username: name, Role: store.RoleViewer}, pw); err != nil {
		return fmt.Errorf("user passwd: %w", err)
	}
	st, err := store.Open(db, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, _, err := st.UpdateUser(name, store.UserUpdate{Password: &pw}); err != nil {
		return fmt.Errorf("user passwd: %w", err)
	}
	if _, err := st.Audit(store.AuditEvent{Type: store.AuditUserPassword, Actor: "cli", Target: name}); err != nil {
		return fmt.Errorf("user passwd: the password of %s was set, but the audit log could not be written: %w", name, err)
	}
	fmt.Printf("user %s: password set; the account's sessions are ended\n", name)
	return st.Close()
}

func userList(db string) error {
	if err := needDatabase(db); err != nil {
		return fmt.Errorf("user list: %w", err)
	}
	st, err := store.Open(db, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
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
	if err := f.parse(args); err != nil {
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
