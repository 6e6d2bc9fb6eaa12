// Package feedclient is a client of the live feed for our tools (crashtest, soak, wsprint):
// it dials GET /ws with since, epoch and batch, reads frames as feedwire messages, and
// resumes a feedwire.State — which applies the messages and detects gaps and mismatches.
package feedclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fasthttp/websocket"

	"projectboard/server/feedwire"
)

// Client dials one server's feed.
type Client struct {
	// URL is the feed's address, ws://HOST:PORT/ws; a query in it (token=…) is kept.
	URL string
	// Token, when set, is sent as token=.
	Token string
	// Header is sent with the handshake (Origin: a server refuses a foreign one).
	Header http.Header
	// Batch asks for batch=1: all a screen has queued in one frame, as an array.
	Batch bool
	// Dialer dials; nil: one with a 5 s handshake timeout.
	Dialer *websocket.Dialer
	// WithoutSummary decodes single messages without their whole summary
	// (feedwire.DecodeWithoutSummary), for clients that do not keep it.
	WithoutSummary bool
}

// New returns a client of the server at addr (HOST:PORT) that logs in with token and
// sends the Origin of the server's own pages.
func New(addr, token string) *Client {
	return &Client{URL: "ws://" + addr + "/ws", Token: token, Header: http.Header{"Origin": {"http://" + addr}}}
}

// Dial opens a connection. With since > 0 (and the epoch it belongs to) the server resumes
// after that revision; otherwise it sends a snapshot. The response is returned when the
// server answered the handshake, also with an error (a refused login: 401, 403).
func (c *Client) Dial(ctx context.Context, since uint64, epoch string) (*Conn, *http.Response, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, nil, err
	}
	q := u.Query()
	if c.Token != "" {
		q.Set("token", c.Token)
	}
	if since > 0 {
		q.Set("since", strconv.FormatUint(since, 10))
		q.Set("epoch", epoch)
	}
	if c.Batch {
		q.Set("batch", "1")
	}
	u.RawQuery = q.Encode()
	d := c.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	ws, res, err := d.DialContext(ctx, u.String(), c.Header)
	if err != nil {
		return nil, res, err
	}
	return &Conn{WS: ws, withoutSummary: c.WithoutSummary && !c.Batch}, res, nil
}

// Resume dials for st: after its revision if it holds a board, else for a snapshot.
func (c *Client) Resume(ctx context.Context, st *feedwire.State) (*Conn, *http.Response, error) {
	if st.Held() {
		return c.Dial(ctx, st.Rev, st.Epoch)
	}
	return c.Dial(ctx, 0, "")
}

// Conn is one connection to the feed. WS is the websocket, for deadlines, ping handlers and
// closing; only one goroutine may read.
type Conn struct {
	WS             *websocket.Conn
	withoutSummary bool
}

// Read reads one frame: one message, or with batch several.
func (c *Conn) Read() ([]feedwire.Message, error) {
	_, data, err := c.WS.ReadMessage()
	if err != nil {
		return nil, err
	}
	if c.withoutSummary && (len(data) == 0 || data[0] != '[') {
		m, err := feedwire.DecodeWithoutSummary(data)
		if err != nil {
			return nil, &DecodeError{Frame: data, Err: err}
		}
		return []feedwire.Message{m}, nil
	}
	msgs, err := feedwire.Decode(data)
	if err != nil {
		return nil, &DecodeError{Frame: data, Err: err}
	}
	return msgs, nil
}

// ReadInto reads one frame and applies its messages to st; it returns the messages applied.
// An error wrapping feedwire.ErrGap or feedwire.ErrMismatch means st must resync (Reset,
// then Resume); the messages before it were applied.
func (c *Conn) ReadInto(st *feedwire.State) ([]feedwire.Message, error) {
	msgs, err := c.Read()
	if err != nil {
		return nil, err
	}
	for i, m := range msgs {
		if err := st.Apply(m); err != nil {
			return msgs[:i], err
		}
	}
	return msgs, nil
}

// Close closes the connection without a close frame.
func (c *Conn) Close() error { return c.WS.Close() }

// DecodeError is a frame that is not a feed message.
type DecodeError struct {
	Frame []byte
	Err   error
}

func (e *DecodeError) Error() string {
	return "undecodable message " + truncate(e.Frame, 200) + ": " + e.Err.Error()
}
func (e *DecodeError) Unwrap() error { return e.Err }

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// CloseCode is the code of the close frame err reports, or 0.
func CloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
