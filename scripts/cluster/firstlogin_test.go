package main

import (
	"strings"
	"testing"
)

func TestReadFirstLogin(t *testing.T) {
	log := `time=2026-11-29T13:00:00.000Z level=INFO msg="on an etcd cluster" endpoints="[http://127.0.0.1:1 http://127.0.0.1:2]" prefix=/projectboard/ tls=false
time=2026-11-29T13:00:01.000Z level=INFO msg="first start: created the admin account admin; this password is shown once" url=http://127.0.0.1:41000/login username=admin password=Ab-c_9xYz
time=2026-11-29T13:00:01.100Z level=INFO msg="first start: wall screen link (display token, shown once)" url="http://127.0.0.1:41000/wall?token=pb_abc"
time=2026-11-29T13:00:01.200Z level=INFO msg="projectboard is running" url=http://127.0.0.1:41000/
`
	got := readFirstLogin(strings.NewReader(log))
	want := firstLogin{Username: "admin", Password: "Ab-c_9xYz", WallURL: "http://127.0.0.1:41000/wall?token=pb_abc"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestReadFirstLoginOfALaterInstance(t *testing.T) {
	log := `time=2026-11-29T13:00:01.000Z level=INFO msg="another instance of the cluster created the admin account first: its log shows the first login" username=admin
`
	if got := readFirstLogin(strings.NewReader(log)); got != (firstLogin{}) {
		t.Errorf("got %+v, want nothing", got)
	}
}

func TestLogValue(t *testing.T) {
	line := `time=t level=INFO msg="a \"quoted\" message" empty= k=v last="x y"`
	for key, want := range map[string]string{
		"msg": `a "quoted" message`, "k": "v", "last": "x y", "empty": "", "level": "INFO", "missing": "",
	} {
		if got := logValue(line, key); got != want {
			t.Errorf("logValue(%q): got %q, want %q", key, got, want)
		}
	}
}
