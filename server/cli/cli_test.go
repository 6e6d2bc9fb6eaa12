package cli

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"projectboard/store"
)

// TestOfflineCommandsFailFastOnALockedFile: while a server holds the database, the user,
// compact and restore commands fail within seconds with a clear message.
func TestOfflineCommandsFailFastOnALockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, args := range [][]string{{"serve", "--db", path, "--addr", "127.0.0.1:0"}, {"user", "list", "--db", path}, {"compact", "--db", path}, {"restore", "--db", path, path}} {
		start := time.Now()
		err := run(args, log)
		if err == nil || !strings.Contains(err.Error(), "in use by another process") {
			t.Errorf("%v: got %v, want the in-use message", args, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %v", args, d)
		}
	}
}

func TestFlagsFallBackToEnvironment(t *testing.T) {
	t.Setenv("PROJECTBOARD_DB", "/x/y.db")
	f := newFlagSet("t")
	db := dbFlag(f)
	if err := f.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if *db != "/x/y.db" {
		t.Fatalf("got %q, want /x/y.db", *db)
	}
}

// version is the version the tests run the command line with.
const version = "test"

// run runs the command line as main does.
func run(args []string, log *slog.Logger) error { return Run(args, version, log) }

// quietLog discards the log of the commands under test.
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// withStdin makes input the process's standard input (where the user commands read the
// password) until the test ends.
func withStdin(tb testing.TB, input string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "stdin")
	if err := os.WriteFile(path, []byte(input), 0o600); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	tb.Cleanup(func() { os.Stdin = old; f.Close() })
}

// runCLI runs the command line args with input on stdin and returns what it printed on stdout.
func runCLI(tb testing.TB, input string, args ...string) (string, error) {
	tb.Helper()
	withStdin(tb, input)
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() { b, _ := io.ReadAll(r); out <- string(b) }()
	err = run(args, quietLog())
	os.Stdout = old
	w.Close()
	return <-out, err
}

// mustRun runs a command line that must succeed.
func mustRun(tb testing.TB, input string, args ...string) {
	tb.Helper()
	if _, err := runCLI(tb, input, args...); err != nil {
		tb.Fatalf("%v: %v", args, err)
	}
}

func openStore(tb testing.TB, path string) *store.Store {
	tb.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// TestFirstStartMakesSureOfAnAdmin: whatever accounts the command line made before the first
// start, the server starts with an admin account, says why it made one, and prints a wall
// link or how to get one; a password from PROJECTBOARD_ADMIN_PASSWORD is never logged.
func TestFirstStartMakesSureOfAnAdmin(t *testing.T) {
	const pw = "a-long-password-1"
	for _, tc := range []struct {
		name     string
		before   [][]string // user add commands run before the first start
		envPW    string
		admin    string   // the admin account created, "" for none
		wall     bool     // a display token is created and its link printed
		logs     []string // in the log of the first start
		accounts int      // accounts afterwards
	}{
		{name: "new database", admin: "admin", wall: true, accounts: 1,
			logs: []string{"first start: created the admin account admin; this password is shown once", "password=", "/wall?token=pb_"}},
		{name: "an editor added before the first start", before: [][]string{{"bob"}}, admin: "admin", wall: true, accounts: 2,
			logs: []string{"no admin account: created the admin account admin; this password is shown once", "other_accounts=1", "/wall?token=pb_"}},
		{name: "the name admin taken by an editor", before: [][]string{{"admin"}, {"--role", "viewer", "admin-2"}}, admin: "admin-3", wall: true, accounts: 3,
			logs: []string{"created the admin account admin-3 (the name admin belongs to an account with the role editor)", "username=admin-3", "/wall?token=pb_"}},
		{name: "an admin added before the first start", before: [][]string{{"--role", "admin", "boss"}}, accounts: 1,
			logs: []string{"no display token, so no wall screen link: log in as an admin and create one in Admin → Tokens"}},
		{name: "PROJECTBOARD_ADMIN_PASSWORD", before: [][]string{{"--role", "viewer", "ann"}}, envPW: "from-the-environment", admin: "admin", wall: true, accounts: 2,
			logs: []string{"created the admin account admin with PROJECTBOARD_ADMIN_PASSWORD", "/wall?token=pb_"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PROJECTBOARD_ADMIN_PASSWORD", tc.envPW)
			path := filepath.Join(t.TempDir(), "pb.db")
			for _, args := range tc.before {
				mustRun(t, pw+"\n", append([]string{"user", "add", "--db", path}, args...)...)
			}
			st := openStore(t, path)
			var logs bytes.Buffer
			if err := firstStart(st, "http://localhost:8080", slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.logs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("the log lacks %q:\n%s", want, logs.String())
				}
			}
			if tc.envPW != "" && strings.Contains(logs.String(), tc.envPW) {
				t.Errorf("the log shows PROJECTBOARD_ADMIN_PASSWORD:\n%s", logs.String())
			}
			users, err := st.Users()
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != tc.accounts {
				t.Errorf("got %d accounts, want %d: %v", len(users), tc.accounts, users)
			}
			if tc.admin != "" {
				u, err := st.User(tc.admin)
				if err != nil || u.Role != store.RoleAdmin {
					t.Fatalf("account %s: got %+v, %v; want an admin", tc.admin, u, err)
				}
				if tc.envPW != "" {
					if _, err := st.Authenticate(tc.admin, tc.envPW); err != nil {
						t.Errorf("%s with PROJECTBOARD_ADMIN_PASSWORD: %v", tc.admin, err)
					}
				}
			}
			tokens, err := st.Tokens()
			if err != nil {
				t.Fatal(err)
			}
			if got := len(tokens) == 1 && tokens[0].Kind == "display"; got != tc.wall || (!tc.wall && len(tokens) != 0) {
				t.Errorf("got tokens %+v, want a display token: %v", tokens, tc.wall)
			}

			// The next start creates nothing more.
			logs.Reset()
			if err := firstStart(st, "http://localhost:8080", slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatal(err)
			}
			if users2, _ := st.Users(); len(users2) != len(users) {
				t.Errorf("the second start: got %d accounts, want %d", len(users2), len(users))
			}
			if tokens2, _ := st.Tokens(); len(tokens2) != len(tokens) {
				t.Errorf("the second start: got %d tokens, want %d", len(tokens2), len(tokens))
			}
			if strings.Contains(logs.String(), "created") {
				t.Errorf("the second start logs a creation:\n%s", logs.String())
			}
		})
	}
}

// TestUserCommandsCheckArgumentsFirst: a wrong role, name or password is refused at once,
// before the database file is opened: no file is created, and a file held by a server does
// not make the command wait for its lock.
func TestUserCommandsCheckArgumentsFirst(t *testing.T) {
	held := filepath.Join(t.TempDir(), "held.db")
	openStore(t, held)
	for _, tc := range []struct {
		name, input string
		args        []string
		want        string
		wantNoFile  string // the error without a database file, if not want
	}{
		{"user add: a wrong role", "a-long-password-1\n", []string{"user", "add", "--role", "boss", "bob"}, "role", ""},
		{"user add: a wrong name", "a-long-password-1\n", []string{"user", "add", "Bob Smith"}, "username", ""},
		{"user add: a short password", "short\n", []string{"user", "add", "bob"}, "password", ""},
		{"user passwd: a short password", "short\n", []string{"user", "passwd", "bob"}, "password", "no database at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "new.db")
			args := slices.Insert(slices.Clone(tc.args), 2, "--db", path)
			_, err := runCLI(t, tc.input, args...)
			wantNoFile := cmp.Or(tc.wantNoFile, tc.want)
			if err == nil || !strings.Contains(err.Error(), wantNoFile) {
				t.Errorf("%v: got %v, want an error with %q", args, err, wantNoFile)
			}
			if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v: the database's directory exists (%v); want nothing created", args, err)
			}

			args = slices.Insert(slices.Clone(tc.args), 2, "--db", held)
			start := time.Now()
			_, err = runCLI(t, tc.input, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v on a held file: got %v, want an error about the %s", args, err, tc.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%v on a held file took %v; want an answer at once", args, d)
			}
		})
	}
	t.Run("user passwd and list: no database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.db")
		for _, args := range [][]string{{"user", "passwd", "--db", path, "bob"}, {"user", "list", "--db", path}} {
			_, err := runCLI(t, "a-long-password-1\n", args...)
			if err == nil || !strings.Contains(err.Error(), "no database at") {
				t.Errorf("%v: got %v, want the no-database message", args, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%v created %s", args, path)
			}
		}
	})
}

// TestCommandLineChangesAreAudited: user add, user passwd and restore append to the audit log
// of the database they change, with the actor cli.
func TestCommandLineChangesAreAudited(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pb.db")
	mustRun(t, "a-long-password-1\n", "user", "add", "--db", path, "--role", "viewer", "Bob")
	mustRun(t, "another-password-2\n", "user", "passwd", "--db", path, "BOB")
	st := openStore(t, path)
	got, err := st.AuditLog(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.AuditEvent{
		{Type: store.AuditUserCreated, Actor: "cli", Target: "bob", Detail: "role viewer"},
		{Type: store.AuditUserPassword, Actor: "cli", Target: "bob"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d audit events %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g := got[i]
		if g.Type != want[i].Type || g.Actor != want[i].Actor || g.Target != want[i].Target || g.Detail != want[i].Detail {
			t.Errorf("event %d: got %+v, want %+v", i, g, want[i])
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	backup := filepath.Join(dir, "projectboard-20250101-rev0.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(dir, "restored.db")
	mustRun(t, "", "restore", "--db", restored, backup)
	st = openStore(t, restored)
	got, err = st.AuditLog(store.AuditFilter{Newest: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	wantDetail := "revision " + strconv.FormatUint(st.Rev(), 10)
	if len(got) != 1 || got[0].Type != store.AuditRestore || got[0].Actor != "cli" ||
		got[0].Target != filepath.Base(backup) || got[0].Detail != wantDetail {
		t.Errorf("the restored file's newest audit event: got %+v, want restore by cli of %s, %s", got, filepath.Base(backup), wantDetail)
	}
}

// TestHelpAndVersion: COMMAND -h prints the command's flags and succeeds; --version, -version
// and -v print the version like the version command.
func TestHelpAndVersion(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pb.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--db", db, "-h"}, "-addr"},
		{[]string{"serve", "--help"}, "-trusted-proxies"},
		{[]string{"user", "add", "--db", db, "-h"}, "-role"},
		{[]string{"user", "passwd", "-h"}, "-db"},
		{[]string{"user", "-h"}, "user add"},
		{[]string{"backup", "-h"}, "-token"},
		{[]string{"restore", "-h"}, "-db"},
		{[]string{"compact", "-h"}, "-db"},
		{[]string{"version"}, version + "\n"},
		{[]string{"--version"}, version + "\n"},
		{[]string{"-version"}, version + "\n"},
		{[]string{"-v"}, version + "\n"},
	} {
		out, err := runCLI(t, "", tc.args...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: got %q, %v; want %q on stdout and no error", tc.args, out, err, tc.want)
		}
	}
	if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("-h created the database %s", db)
	}
}

// A database loaded from the bundled data before restart dates existed gets them at the next
// start, as ordinary changes, so its 2022 开复工率 is the interview's 100 % again; and only once.
func TestBackfillRestartDates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	st := openStore(t, path)
	if err := seedIfEmpty(st, "jingyue-2022", quietLog()); err != nil {
		t.Fatal(err)
	}
	want := st.Summary(store.SummaryFilter{Year: 2022}).Planned.StartRate
	// As the binary before restart dates left it: none.
	projects, _ := st.Projects()
	cleared := 0
	for _, p := range projects {
		if p.ResumedAt != "" {
			empty := store.Date("")
			if _, err := st.Apply(store.Edit{Kind: store.ChangeUpdate, ProjectID: p.ID, IfMatch: p.Version,
				Patch: &store.Patch{ResumedAt: &empty}, By: "test"}); err != nil {
				t.Fatal(err)
			}
			cleared++
		}
	}
	if got := st.Summary(store.SummaryFilter{Year: 2022}).Planned.StartRate; cleared == 0 || got >= want {
		t.Fatalf("cleared %d restart dates; 开复工率 %.3f, want it below %.3f", cleared, got, want)
	}
	if err := backfillRestartDates(st, "jingyue-2022", quietLog()); err != nil {
		t.Fatal(err)
	}
	if got := st.Summary(store.SummaryFilter{Year: 2022}).Planned.StartRate; got != want || want != 1 {
		t.Fatalf("after the backfill 开复工率 %.3f, want %.3f (the interview's 100 %%)", got, want)
	}
	rev := st.Rev()
	if err := backfillRestartDates(st, "jingyue-2022", quietLog()); err != nil || st.Rev() != rev {
		t.Fatalf("a second start changed the database again: %v, rev %d → %d", err, rev, st.Rev())
	}
	last, _ := st.Changes(rev-1, 1)
	if len(last) != 1 || last[0].By != "system" || !strings.Contains(last[0].Comment, "复工") {
		t.Fatalf("the backfill's change: %+v", last)
	}
}
