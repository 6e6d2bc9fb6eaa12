package rrproxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// named is a backend that answers every request with its name and echoes the body after it.
func named(tb testing.TB, name string) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, name+" "+string(body))
	}))
	tb.Cleanup(s.Close)
	return s
}

// refusedURL is an http:// URL on which nothing listens.
func refusedURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func newProxy(tb testing.TB, backends []string, opt Options) *httptest.Server {
	tb.Helper()
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p, err := New(backends, opt)
	if err != nil {
		tb.Fatal(err)
	}
	front := httptest.NewServer(p)
	tb.Cleanup(front.Close)
	ctx := tb.Context()
	go p.Run(ctx)
	return front
}

// send makes a request through the proxy and returns the answer's body; anything but 200
// fails the test.
func send(tb testing.TB, method, url, body string) string {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("%s %s: got %s %q, want 200", method, url, res.Status, b)
	}
	return string(b)
}

func TestRoundRobinSpreadsRequests(t *testing.T) {
	var urls []string
	for _, name := range []string{"a", "b", "c"} {
		urls = append(urls, named(t, name).URL)
	}
	front := newProxy(t, urls, Options{})
	counts := map[string]int{}
	for range 30 {
		counts[strings.Fields(send(t, "GET", front.URL+"/x", ""))[0]]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if counts[name] != 10 {
			t.Errorf("backend %s: got %d of 30 requests, want 10 (all: %v)", name, counts[name], counts)
		}
	}
}

func TestRefusedBackendIsSkipped(t *testing.T) {
	dead := refusedURL(t)
	urls := []string{named(t, "a").URL, dead, named(t, "c").URL}
	// A long interval: the requests, not the probe, find the dead backend.
	front := newProxy(t, urls, Options{CheckInterval: time.Hour})
	counts := map[string]int{}
	for i := range 30 {
		// POST with a body: the retry after the refused dial must send it whole.
		body := strings.Repeat("x", i)
		got := send(t, "POST", front.URL+"/api/projects", body)
		name, echoed, _ := strings.Cut(got, " ")
		if echoed != body {
			t.Fatalf("request %d: backend %s got body %q, want %q", i, name, echoed, body)
		}
		counts[name]++
	}
	if counts["a"]+counts["c"] != 30 || counts["a"] < 10 || counts["c"] < 10 {
		t.Errorf("got %v, want all 30 requests on a and c, at least 10 each", counts)
	}
}

func TestBackendComesBackAfterHealthCheck(t *testing.T) {
	dead := refusedURL(t)
	front := newProxy(t, []string{named(t, "a").URL, dead}, Options{CheckInterval: 20 * time.Millisecond})
	send(t, "GET", front.URL+"/", "")
	send(t, "GET", front.URL+"/", "") // one of the two met the refused dial

	ln, err := net.Listen("tcp", strings.TrimPrefix(dead, "http://"))
	if err != nil {
		t.Skipf("the refused port was taken meanwhile: %v", err)
	}
	back := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "b ")
	})}}
	back.Start()
	t.Cleanup(back.Close)

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.HasPrefix(send(t, "GET", front.URL+"/", ""), "b ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the backend that came back got no request in 5 s")
}

func TestAllBackendsRefusingIsBadGateway(t *testing.T) {
	front := newProxy(t, []string{refusedURL(t), refusedURL(t)}, Options{})
	res, err := http.Get(front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("got %s, want 502 Bad Gateway", res.Status)
	}
}

// TestWebsocketPassesThrough checks an upgrade end to end, with the headers the server's
// origin check and client address need: the client's Host and Origin unchanged, and
// X-Forwarded-For and -Proto set, whatever the client claimed. When the backend's connection dies, the client's does too,
// so a screen notices and reconnects (through the proxy, to another backend).
func TestWebsocketPassesThrough(t *testing.T) {
	type seen struct{ host, origin, forwardedFor, forwardedProto string }
	got := make(chan seen, 1)
	upgrader := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool {
		return r.Header.Get("Origin") == "http://"+r.Host // what projectboard's server checks
	}}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("Origin"), r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto")}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if string(msg) == "die" {
				conn.UnderlyingConn().Close() // as a killed process's socket: no close frame
				return
			}
			if err := conn.WriteMessage(websocket.TextMessage, append([]byte("echo "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(backend.Close)
	front := newProxy(t, []string{backend.URL}, Options{})
	host := strings.TrimPrefix(front.URL, "http://")

	conn, res, err := websocket.DefaultDialer.Dial("ws://"+host+"/ws", http.Header{"Origin": {"http://" + host}, "X-Forwarded-For": {"192.0.2.1"}})
	if err != nil {
		status := ""
		if res != nil {
			status = res.Status
		}
		t.Fatalf("dial through the proxy: %v %s", err, status)
	}
	defer conn.Close()
	want := seen{host: host, origin: "http://" + host, forwardedFor: "127.0.0.1", forwardedProto: "http"}
	if s := <-got; s != want {
		t.Errorf("the backend saw %+v, want %+v", s, want)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := conn.ReadMessage()
	if err != nil || string(msg) != "echo hello" {
		t.Fatalf("got %q, %v, want \"echo hello\"", msg, err)
	}

	if err := conn.WriteMessage(websocket.TextMessage, []byte("die")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("after the backend's socket closed: got %v, want the connection closed", err)
	}
}

func TestNewRefusesBadBackends(t *testing.T) {
	for _, backends := range [][]string{nil, {"127.0.0.1:8081"}, {"http://127.0.0.1:8081/app"}, {"ftp://h"}} {
		if _, err := New(backends, Options{}); err == nil {
			t.Errorf("New(%q): got no error, want one", backends)
		}
	}
}
