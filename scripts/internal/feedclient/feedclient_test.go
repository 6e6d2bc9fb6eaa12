package feedclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"

	"projectboard/server/feedwire"
)

// TestResumeAndApply: a client resumes with since, epoch, token and batch, reads a batch
// frame into its state, and reports a gap as one.
func TestResumeAndApply(t *testing.T) {
	queries := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.RawQuery
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, m := range []string{
			`{"type":"hello","epoch":"E","rev":4,"build":"b"}`,
			`[{"type":"change","rev":4,"change":{"rev":4,"projectId":"A"},"projectPatch":{"version":2}},{"type":"change","rev":6,"change":{"rev":6,"projectId":"A"},"project":null}]`,
		} {
			_ = conn.WriteMessage(websocket.TextMessage, []byte(m))
		}
		_, _, _ = conn.ReadMessage()
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := New(addr, "pb_x")
	c.Batch = true
	st := &feedwire.State{Epoch: "E", Rev: 3, Projects: map[string]json.RawMessage{}}
	st.Projects["A"] = []byte(`{"id":"A","version":1}`)
	conn, _, err := c.Resume(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if q := <-queries; q != "batch=1&epoch=E&since=3&token=pb_x" {
		t.Errorf("got query %q", q)
	}
	if msgs, err := conn.ReadInto(st); err != nil || len(msgs) != 1 || msgs[0].Type != feedwire.TypeHello {
		t.Fatalf("hello: %v %v", msgs, err)
	}
	msgs, err := conn.ReadInto(st)
	if !errors.Is(err, feedwire.ErrGap) || len(msgs) != 1 || st.Rev != 4 {
		t.Fatalf("got %d applied, rev %d, %v; want the first applied and a gap", len(msgs), st.Rev, err)
	}
}
