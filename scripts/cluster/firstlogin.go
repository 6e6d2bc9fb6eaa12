package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// firstLogin is what the first instance's log says once, on the cluster's first start: the
// admin account's password and the wall screen's link.
type firstLogin struct {
	Username, Password string
	WallURL            string
}

// readFirstLogin finds the first start's lines in a server log (slog's text format):
//
//	msg="first start: created the admin account admin; this password is shown once" url=… username=admin password=…
//	msg="first start: wall screen link (display token, shown once)" url=http://…/wall?token=…
func readFirstLogin(r io.Reader) firstLogin {
	var fl firstLogin
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		msg := logValue(line, "msg")
		switch {
		case strings.Contains(msg, ": created the admin account"):
			fl.Username, fl.Password = logValue(line, "username"), logValue(line, "password")
		case strings.Contains(msg, "wall screen link"):
			fl.WallURL = logValue(line, "url")
		}
	}
	return fl
}

// logValue is the value of key in one line of slog's text format: key=value, or
// key="quoted value" when the value has spaces, quotes or other characters that need them.
// It is empty when the key is not there.
func logValue(line, key string) string {
	for rest := line; rest != ""; {
		rest = strings.TrimLeft(rest, " ")
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			return ""
		}
		var v string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				return ""
			}
			v, _ = strconv.Unquote(q)
			rest = after[len(q):]
		} else {
			v, rest, _ = strings.Cut(after, " ")
		}
		if k == key {
			return v
		}
	}
	return ""
}
