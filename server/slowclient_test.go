package server

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSlowClientCut: a client that trickles its headers is disconnected after the read
// timeout instead of holding the connection; long request lines and headers are refused.
func TestSlowClientCut(t *testing.T) {
	f := newFixture(t)
	f.srv = New(f.store, Config{Build: "test", ReadTimeout: 500 * time.Millisecond, Logger: f.srv.log})
	l := &live{f: f, addr: "127.0.0.1:0", st: f.store}
	l.listen(t, f.srv)

	conn, err := net.Dial("tcp", l.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, _ = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
	closed := false
	for i := 0; i < 40 && !closed; i++ { // one header byte every 100 ms, for up to 4 s
		time.Sleep(100 * time.Millisecond)
		if _, err := conn.Write([]byte("X")); err != nil {
			closed = true
		}
	}
	if !closed {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		_, err := conn.Read(make([]byte, 1))
		closed = err != nil
	}
	if !closed {
		t.Fatal("a trickling client kept its connection for 4 s")
	}
	t.Logf("cut after %v", time.Since(start).Round(10*time.Millisecond))

	for _, req := range []string{
		"GET /" + strings.Repeat("a", 10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 10_000) + "\r\n\r\n",
	} {
		c, err := net.Dial("tcp", l.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(req))
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.Contains(line, "431") && !strings.Contains(line, "414") && !strings.Contains(line, "400") {
			t.Errorf("over-long request: got %q, want 431, 414 or 400", line)
		}
	}
}
