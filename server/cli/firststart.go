package cli

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"projectboard/assets"
	"projectboard/store"
)

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
		if st.Clustered() && !st.Empty() {
			log.Info("another instance of the cluster loaded the bundled data first", "dataset", name)
			return nil
		}
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
		if st.Clustered() && errors.Is(err, store.ErrConflict) {
			log.Info("another instance of the cluster created the admin account first: its log shows the first login", "username", name)
			return nil
		}
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
