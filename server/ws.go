package server

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	fws "github.com/gofiber/websocket/v2"

	"projectboard/server/hub"
	"projectboard/store"
)

const (
	wsReadLimit    = 4096
	wsWriteTimeout = 10 * time.Second
	// maxReplay is the most changes a resuming screen is sent one by one; beyond it a
	// snapshot is smaller.
	maxReplay = 10_000
)

// handleWebsocket is GET /ws. Login (by the route's gate) and the Origin are checked before
// the upgrade.
func (s *Server) handleWebsocket() fiber.Handler {
	upgrade := fws.New(s.serveSocket, fws.Config{
		// The Origin is checked in the handler below, against the request's own host and the
		// configured origins; the library's list cannot express "own host".
		Origins:           []string{"*"},
		EnableCompression: false, // a read limit then counts real bytes; changes are small
		ReadBufferSize:    1024,
		// Write buffers come from a pool and are held only while a message is written, so an
		// idle screen holds none; 16 KiB takes a change message in one write.
		WriteBufferSize: 16 << 10,
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
		addr := c.IP()
		if s.hub.CountAddr(addr) >= s.cfg.WSPerAddr {
			return errorf(fiber.StatusTooManyRequests, "too_many_requests", "", "too many open screens from this address")
		}
		c.Locals("addr", addr)
		return upgrade(c)
	}
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

// serveSocket runs one screen's connection. It is its connection's only writer; a reader
// goroutine handles control frames. It returns only after the reader has exited, because the
// library recycles the *Conn when it returns.
func (s *Server) serveSocket(conn *fws.Conn) {
	s.wsWG.Add(1)
	defer s.wsWG.Done()
	a, _ := conn.Locals("actor").(*actor)
	addr, _ := conn.Locals("addr").(string)
	sub := s.hub.Subscribe(a.meta(addr))
	defer s.hub.Unsubscribe(sub)

	conn.SetReadLimit(wsReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.PongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(s.cfg.PongWait)) })
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			// Screens send nothing; reading runs the control-frame handlers and sees the close.
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	defer func() {
		// fasthttp closes a hijacked connection only after this handler returns (Close is a
		// no-op until then), so a deadline in the past is what stops the reader. The pong
		// handler may push the deadline out again, hence the loop.
		for {
			_ = conn.SetReadDeadline(time.Unix(1, 0))
			select {
			case <-readerDone:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	write := func(b []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	last, err := s.catchUp(sub, parseResume(conn), write)
	if err != nil {
		s.closeSocket(conn, sub, err)
		return
	}
	batching := conn.Query("batch") == "1"
	pending := make([]*hub.Message, 0, maxFrameMessages)
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case m := <-sub.C:
			pending = append(pending[:0], m)
			// A screen that asked for batches gets what else is queued in the same frame:
			// one write instead of many when the server is busy, none of it delayed.
			for batching && len(pending) < maxFrameMessages && len(sub.C) > 0 {
				pending = append(pending, <-sub.C)
			}
			send := pending[:0]
			for _, m := range pending {
				if m.Rev != 0 {
					if m.Rev <= last {
						continue // already sent during catch-up
					}
					if m.Rev != last+1 {
						s.closeSocket(conn, sub, errGap)
						return
					}
					last = m.Rev
				}
				send = append(send, m)
			}
			if len(send) == 0 {
				continue
			}
			var err error
			if batching && len(send) > 1 {
				err = writeFrame(conn, send)
			} else {
				for _, m := range send {
					if err = write(m.Data); err != nil {
						break
					}
				}
			}
			if err != nil {
				// A screen that stopped reading fills its socket buffers before its queue:
				// the write times out and the connection is dropped without a close frame.
				s.metrics.writeFailures.Inc()
				return
			}
			for _, m := range send {
				s.metrics.observeDelivery(m.At)
			}
		case <-sub.Done():
			s.closeSocket(conn, sub, nil)
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteTimeout)); err != nil {
				return
			}
		case <-readerDone:
			return
		}
	}
}

var errGap = errors.New("revision gap")

// maxFrameMessages bounds how many messages one batched frame carries.
const maxFrameMessages = 64

// writeFrame writes messages as one text frame holding a JSON array of them, without
// copying them into a new buffer first.
func writeFrame(conn *fws.Conn, msgs []*hub.Message) error {
	_ = conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	w, err := conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		sep := []byte{','}
		if i == 0 {
			sep[0] = '['
		}
		if _, err := w.Write(sep); err != nil {
			return err
		}
		if _, err := w.Write(m.Data); err != nil {
			return err
		}
	}
	if _, err := w.Write([]byte{']'}); err != nil {
		return err
	}
	return w.Close()
}

// catchUp sends hello and then either the changes after the client's revision or a
// snapshot. The subscription already exists, so nothing committed meanwhile is missed; it
// returns the last revision sent.
func (s *Server) catchUp(sub *hub.Subscriber, r resume, write func([]byte) error) (uint64, error) {
	cur := s.store.Rev()
	if err := write(s.feed.helloBytes(s.store.Epoch(), cur, s.cfg.Build)); err != nil {
		return 0, err
	}
	if r.ok && r.epoch == s.store.Epoch() && r.since <= cur && cur-r.since <= maxReplay {
		events, err := s.store.Replay(r.since, int(cur-r.since))
		if err == nil && uint64(len(events)) == cur-r.since {
			sum := s.store.Summary(store.SummaryFilter{})
			for i, e := range events {
				if i == len(events)-1 && sum.Rev == e.Change.Rev {
					e.Summary = sum
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
	snap, rev := s.feed.snapshotBytes()
	return rev, write(snap)
}

// closeSocket sends the close frame for why the subscriber ended.
func (s *Server) closeSocket(conn *fws.Conn, sub *hub.Subscriber, err error) {
	code, reason := sub.Code(), sub.Reason()
	if errors.Is(err, errGap) {
		code, reason = hub.CodeSlowConsume, "resume with since"
	} else if err != nil {
		return
	}
	if code == 0 {
		code = websocket.CloseNormalClosure
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(time.Second))
}
