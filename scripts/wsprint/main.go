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
	"context"
	"fmt"
	"io"
	"os"

	"github.com/fasthttp/websocket"

	"projectboard/scripts/internal/feedclient"
	"projectboard/server/feedwire"
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
	client := &feedclient.Client{URL: url, Dialer: websocket.DefaultDialer}
	conn, res, err := client.Dial(context.Background(), 0, "")
	if err != nil {
		if res != nil {
			return fmt.Errorf("%v (the server answered %s)", err, res.Status)
		}
		return err
	}
	defer conn.Close()
	for {
		msgs, err := conn.Read()
		if err != nil {
			return err
		}
		for _, line := range lines(msgs) {
			fmt.Fprintln(out, line)
		}
	}
}

// describe gives one line per message in a frame: a frame holds one message, or with
// ?batch=1 a JSON array of them.
func describe(frame []byte) ([]string, error) {
	msgs, err := feedwire.Decode(frame)
	if err != nil {
		return nil, fmt.Errorf("a frame that is not a message or a list of them: %w", err)
	}
	return lines(msgs), nil
}

// lines gives one line per message.
func lines(msgs []feedwire.Message) []string {
	lines := make([]string, len(msgs))
	for i, m := range msgs {
		switch m.Type {
		case feedwire.TypeSnapshot:
			lines[i] = fmt.Sprintf("snapshot rev=%d projects=%d", m.Rev, len(m.Projects))
		case feedwire.TypeChange:
			id := ""
			if m.Change != nil {
				id = m.Change.ProjectID
			}
			lines[i] = fmt.Sprintf("change rev=%d project=%s", m.Rev, id)
		case feedwire.TypeReload:
			lines[i] = "reload"
		default:
			lines[i] = fmt.Sprintf("%s rev=%d", m.Type, m.Rev)
		}
	}
	return lines
}
