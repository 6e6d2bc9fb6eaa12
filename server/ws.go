package server

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	fws "github.com/gofiber/websocket/v2"

	"projectboard/server/hub"
	"projectboard/store"
)

const (
	wsReadLimit    = 4096
	wsWriteTimeout = 10 * time.Second
	// maxReplay is the most changes a resuming screen is ever sent one by one.
	maxReplay = 10_000
	// minReplay is how many changes a resuming screen may always be sent, however few
	// projects there are.
	minReplay = 64
)

// replayLimit is how far behind a resuming screen may be and still get the changes it missed
// rather than a snapshot. Each change message carries one whole project (and its diff), the
// snapshot each project once, so more changes than there are projects cost more bytes than
// the snapshot, and more work on both ends: beyond that the screen gets a snapshot. With the
// bundled 197 projects a screen more than 197 changes behind gets the 116 KiB snapshot
// instead of up to 10,000 changes.
func (s *Server) replayLimit() uint64 {
	return uint64(min(maxReplay, max(minReplay, s.store.Len())))
}

// handleWebsocket is GET /ws. Login (by the route's gate) and the Origin are checked before
// the upgrade.
func (s *Server) handleWebsocket() fiber.Handler {
	upgrade := fws.New(s.serveSocket, fws.Config{
		// The Origin is checked in the handler below, against the request's own host and the
		// configured origins; the library's list cannot express "own host".
		Origins: []string{"*"},
		// permessage-deflate, without context takeover: the hub compresses each change once
		// for every screen that negotiated it (browsers offer it). Screens send no data
		// frames, and one that does is closed before a frame is inflated (serveSocket).
		EnableCompression: true,
		ReadBufferSize:    1024,
		// The hub writes its own frames, so the library never needs a write buffer; with a
		// pool it allocates none per connection.
		WriteBufferPool: &sync.Pool{},
	})
	return func(c *fiber.Ctx) error {
		if !fws.IsWebSocketUpgrade(c) {
			return errorf(fiber.StatusUpgradeRequired, "upgrade_required", "", "this endpoint speaks websocket only")
		}
		if !s.originAllowed(c) {
			return errorf(fiber.StatusForbidden, "foreign_origin", "", "websockets from this origin are not allowed")
		}
		select {
		case <-s.stopping:
			return errorf(fiber.StatusServiceUnavailable, "unavailable", "", "server restarting")
		default:
		}
		if err := s.refuseCutOff(); err != nil {
			return err
		}
		addr := s.clientIP(c)
		if s.hub.CountAddr(addr) >= s.cfg.WSPerAddr {
			return errorf(fiber.StatusTooManyRequests, "too_many_requests", "", "too many open screens from this address")
		}
		c.Locals("addr", addr)
		c.Locals("deflate", offersDeflate(c.Get("Sec-WebSocket-Extensions")))
		return upgrade(c)
	}
}

// offersDeflate says whether the upgrader negotiates permessage-deflate for a request with
// this Sec-WebSocket-Extensions header: the same test as fasthttp/websocket's
// isCompressionEnable, which does not say what it decided.
func offersDeflate(header string) bool {
	for _, ext := range strings.Split(strings.TrimSpace(header), ",") {
		if strings.HasPrefix(strings.TrimSpace(ext), "permessage-deflate") {
			return true
		}
	}
	return false
}

type resume struct {
	since uint64
	epoch string
	ok    bool
}

func parseResume(conn *fws.Conn) resume {
	since, err := strconv.ParseUint(conn.Query("since"), 10, 64)
	epoch := conn.Query("epoch")
	return resume{since: since, epoch: epoch, ok: err == nil && epoch != ""}
}

// serveSocket runs one screen's connection: it sends the catch-up, hands the screen to the
// hub's fan-out, and then reads (screens send nothing; reading runs the control-frame handlers
// and sees the close). It returns only when the hub writes to the connection no more, because
// the library recycles the *Conn when it returns.
func (s *Server) serveSocket(conn *fws.Conn) {
	s.wsWG.Add(1)
	defer s.wsWG.Done()
	a, _ := conn.Locals("actor").(*actor)
	addr, _ := conn.Locals("addr").(string)
	sock := newSocket(conn)
	var format hub.Format
	if conn.Query("batch") == "1" {
		format |= hub.Batches
	}
	deflate, _ := conn.Locals("deflate").(bool)
	if deflate {
		format |= hub.Deflate
	}
	sub := s.hub.Subscribe(a.meta(addr), sock, format)
	defer func() {
		s.hub.Unsubscribe(sub)
		if code := sub.Code(); code != 0 && !sub.Broken() {
			sock.writeClose(hub.CloseFrame(code, sub.Reason()))
		}
	}()

	conn.SetReadLimit(wsReadLimit)
	extend := func() {
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.PongWait))
		// The hub wakes the reader of a dropped screen with a deadline in the past; a pong
		// read at that moment must not push it out again.
		select {
		case <-sub.Done():
			sock.Wake()
		default:
		}
	}
	extend()
	conn.SetPongHandler(func(string) error { extend(); return nil })
	// The library would answer pings and closes itself, writing beside the hub's writes.
	conn.SetPingHandler(func(p string) error { sub.Control(hub.PongFrame([]byte(p))); return nil })
	conn.SetCloseHandler(func(code int, _ string) error { sub.Control(hub.CloseFrame(code, "")); return nil })

	last, err := s.catchUp(parseResume(conn), sock, deflate)
	if err != nil {
		return
	}
	if err := sub.Live(last); err != nil {
		return
	}
	for {
		// NextReader returns only at a data message (it handles control frames itself).
		// Screens send none, and a compressed one could inflate a thousandfold: close
		// without reading it.
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
		sub.Control(hub.CloseFrame(closeUnsupportedData, "screens send nothing"))
		return
	}
}

const closeUnsupportedData = 1003

// socket is a screen's connection as the hub writes to it: directly on the TCP connection
// under the websocket, in frames the hub built. The websocket library reads, and writes only
// the handshake and, on its own, the close frame for a client that broke the protocol (1009
// for a frame over the read limit), after which the connection ends. The hub's shard
// goroutines call TryWrite; a writer the hub starts for a full socket calls Write.
type socket struct {
	conn    *fws.Conn
	nc      net.Conn
	raw     rawSink // writes without waiting (rawsink_unix.go; the fallback in rawsink_other.go)
	aborted atomic.Bool
}

func newSocket(conn *fws.Conn) *socket {
	nc := conn.UnderlyingConn()
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		nc = u.UnsafeConn() // fasthttp's wrapper of a hijacked connection, for reading
	}
	return &socket{conn: conn, nc: nc, raw: newRawSink(nc)}
}

// TryWrite makes one write of b on the non-blocking socket, without waiting.
func (k *socket) TryWrite(b []byte) (int, error) { return k.raw.tryWrite(b) }

var errAborted = errors.New("socket writes aborted")

// Write writes bufs with one writev, waiting up to wsWriteTimeout.
func (k *socket) Write(bufs ...[]byte) error {
	if k.aborted.Load() {
		return errAborted
	}
	_ = k.nc.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	if k.aborted.Load() { // Abort's deadline may have come before ours
		return errAborted
	}
	b := net.Buffers(bufs)
	if _, err := b.WriteTo(k.nc); err != nil {
		return err
	}
	// TryWrite goes through the same descriptor, which refuses at once once a deadline passed.
	_ = k.nc.SetWriteDeadline(time.Time{})
	return nil
}

func (k *socket) writeText(payload []byte) error {
	return k.Write(hub.TextHeader(len(payload)), payload)
}

// Wake stops the reader with a deadline in the past (fasthttp closes a hijacked connection
// only after the handler returns).
func (k *socket) Wake() { _ = k.conn.SetReadDeadline(time.Unix(1, 0)) }

// Abort stops a Write in progress.
func (k *socket) Abort() {
	k.aborted.Store(true)
	_ = k.nc.SetWriteDeadline(time.Unix(1, 0))
}

// writeClose sends a close frame, waiting at most a second.
func (k *socket) writeClose(frame []byte) {
	_ = k.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = k.nc.Write(frame)
}

// catchUp sends hello and then either the changes after the client's revision or a
// snapshot. The subscription already exists, so nothing committed meanwhile is missed; it
// returns the last revision sent.
func (s *Server) catchUp(r resume, sock *socket, deflate bool) (uint64, error) {
	write := sock.writeText
	if r.ok && r.epoch == s.store.Epoch() && s.store.Clustered() {
		// A screen that comes from another instance of the cluster may have been shown a
		// revision this one has not applied yet (they trail each other by milliseconds): wait
		// for it rather than send a snapshot.
		for deadline := time.Now().Add(3 * time.Second); s.store.Rev() < r.since && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The replay runs up to the current summary's revision, and its last change carries that
	// summary whole: the live changes after it carry deltas from it. (Anything committed
	// meanwhile is queued on the subscription, which exists already.)
	sum := s.store.Summary(store.SummaryFilter{})
	cur := sum.Rev
	if err := write(s.feed.helloBytes(s.store.Epoch(), cur, s.cfg.Build)); err != nil {
		return 0, err
	}
	if r.ok && r.epoch == s.store.Epoch() && r.since <= cur && cur-r.since <= s.replayLimit() {
		events, err := s.store.Replay(r.since, int(cur-r.since))
		if err == nil && uint64(len(events)) == cur-r.since {
			for i, e := range events {
				if i == len(events)-1 {
					e.Summary, e.SummaryDelta = sum, nil
				}
				if err := write(encodeChange(e)); err != nil {
					return 0, err
				}
			}
			return cur, nil
		}
		if err != nil {
			s.log.Error("replay failed; sending a snapshot", "since", r.since, "err", err)
		}
	}
	if deflate {
		frame, rev := s.feed.snapshotDeflated()
		return rev, sock.Write(frame)
	}
	snap, rev := s.feed.snapshotBytes()
	return rev, write(snap)
}
