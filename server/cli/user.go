package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"projectboard/store"
)

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
