package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"projectboard/store"
)

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
