// Command wsprint connects to Projectboard's live feed and prints one line per message: its
// type and revision, and for a change the project it changed. It shows an edit arriving
// without a browser and without tools beyond Go:
//
//	go run ./scripts/wsprint "ws://localhost:8080/ws?token=pb_…"
//
// prints
//
//	hello rev=197
//	snapshot rev=197 projects=197
//	change rev=198 project=JY22-P001
//
// It sends nothing (the server closes a connection that sends data) and answers the server's
// pings, so it stays connected until the server closes the feed or Ctrl-C ends it.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/fasthttp/websocket"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, `usage: wsprint "ws://HOST:PORT/ws?token=pb_…"`)
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wsprint:", err)
		os.Exit(1)
	}
}

// run prints the feed at url to out until the connection ends, and returns why it ended.
func run(url string, out io.Writer) error {
	conn, res, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		if res != nil {
			return fmt.Errorf("%v (the server answered %s)", err, res.Status)
		}
		return err
	}
	defer conn.Close()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		lines, err := describe(data)
		if err != nil {
			return err
		}
		for _, line := range lines {
			fmt.Fprintln(out, line)
		}
	}
}

// message is the part of a feed message (docs/api.md) that is printed.
type message struct {
	Type     string            `json:"type"`
	Rev      uint64            `json:"rev"`
	Projects []json.RawMessage `json:"projects"`
	Change   struct {
		ProjectID string `json:"projectId"`
	} `json:"change"`
}

// describe gives one line per message in a frame: a frame holds one message, or with
// ?batch=1 a JSON array of them.
func describe(frame []byte) ([]string, error) {
	var msgs []message
	if bytes.HasPrefix(bytes.TrimSpace(frame), []byte("[")) {
		if err := json.Unmarshal(frame, &msgs); err != nil {
			return nil, fmt.Errorf("a frame that is not a list of messages: %w", err)
		}
	} else {
		var m message
		if err := json.Unmarshal(frame, &m); err != nil {
			return nil, fmt.Errorf("a frame that is not a message: %w", err)
		}
		msgs = []message{m}
	}
	lines := make([]string, len(msgs))
	for i, m := range msgs {
		switch m.Type {
		case "snapshot":
			lines[i] = fmt.Sprintf("snapshot rev=%d projects=%d", m.Rev, len(m.Projects))
		case "change":
			lines[i] = fmt.Sprintf("change rev=%d project=%s", m.Rev, m.Change.ProjectID)
		case "reload":
			lines[i] = "reload"
		default:
			lines[i] = fmt.Sprintf("%s rev=%d", m.Type, m.Rev)
		}
	}
	return lines, nil
}
