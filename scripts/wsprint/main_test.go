package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		want        []string
	}{
		{"hello", `{"type":"hello","epoch":"e1","rev":7,"build":"dev"}`, []string{"hello rev=7"}},
		{"snapshot", `{"type":"snapshot","rev":7,"projects":[{"id":"A"},{"id":"B"}],"summary":{}}`, []string{"snapshot rev=7 projects=2"}},
		{"change", `{"type":"change","rev":8,"change":{"rev":8,"projectId":"JY22-P001"},"project":{}}`, []string{"change rev=8 project=JY22-P001"}},
		{"reload", `{"type":"reload"}`, []string{"reload"}},
		{"batch", `[{"type":"change","rev":8,"change":{"projectId":"A"}},{"type":"change","rev":9,"change":{"projectId":"B"}}]`,
			[]string{"change rev=8 project=A", "change rev=9 project=B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := describe([]byte(tc.frame))
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := describe([]byte("not json")); err == nil {
		t.Error("got no error for a frame that is not JSON")
	}
}

// TestRun: wsprint prints what a feed sends and ends with the server's close.
func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, m := range []string{`{"type":"hello","rev":3}`, `{"type":"change","rev":4,"change":{"projectId":"P1"}}`} {
			conn.WriteMessage(websocket.TextMessage, []byte(m))
		}
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"))
	}))
	defer srv.Close()
	var out strings.Builder
	err := run("ws"+strings.TrimPrefix(srv.URL, "http"), &out)
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("got %v, want the server's close 1001", err)
	}
	if want := "hello rev=3\nchange rev=4 project=P1\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
