package server

import (
	"crypto/subtle"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// On a cluster, the instances prefer one writer (store/writerelect.go): an instance that is
// not it forwards every write request to it, so that the cluster's edits share its group
// commits instead of racing each other for the log. The writer answers as if the client had
// come to it — sessions and tokens are the cluster's — and says which entry of the log its
// view had applied; the forwarding instance answers once its own view has applied that entry
// too (an instance never acknowledges what its own view does not hold: crashtest found one
// that did, killed before its view caught up). A read on any other instance waits for the
// log's head (SyncRead below).
//
// Forwards use kept-alive connections (a connection per forward cost a quarter of the
// cluster's write rate), idle for at most 5 s, far below the writer's idle timeout, so the
// writer does not close one under a request; a stopping writer gives its role up before it
// stops serving (store.Resign). A request that fails on a kept-alive connection may have
// reached the writer, so it is answered 503 (If-Match makes a retry safe); only a refused
// dial means "never arrived" and lets this instance commit the request itself.
//
// A forwarded request carries the cluster's peer secret and the client's address, so the
// writer's limits and audit log see the client, not the instance. If the writer cannot be
// reached (it died; the election has not moved yet), the instance commits the request itself:
// the log's compared head keeps one order either way.

const (
	headerPeer     = "X-Projectboard-Peer"    // the cluster's peer secret
	headerApplied  = "X-Projectboard-Applied" // the writer's view's position after the request
	forwardWait    = 5 * time.Second          // how long a forwarder waits for its view
	headerClientIP = "X-Projectboard-Client"  // the client's address, as the first instance saw it
	forwardTimeout = 30 * time.Second         // a forwarded request's answer (imports take long)
	syncReadWait   = time.Second              // how long a read waits to be consistent before it shows the view as it is
)

// forwardedFor returns the client's address of a request another instance forwarded.
func (s *Server) forwardedFor(c *fiber.Ctx) (string, bool) {
	peer := c.Get(headerPeer)
	if peer == "" || !s.isPeer(peer) {
		return "", false
	}
	ip := c.Get(headerClientIP)
	return ip, ip != ""
}

func (s *Server) isPeer(secret string) bool {
	own := s.store.PeerSecret()
	return own != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(own)) == 1
}

// isWrite reports whether a request may change something.
func isWrite(c *fiber.Ctx) bool {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return strings.HasPrefix(c.Path(), "/api/")
}

// forwardWrites sends a write request to the cluster's writer when this instance is not it,
// and marks the answers of requests forwarded to this one with its view's position.
func (s *Server) forwardWrites(c *fiber.Ctx) error {
	if !s.store.Clustered() {
		return c.Next()
	}
	if !isWrite(c) {
		if strings.HasPrefix(c.Path(), "/api/") && c.Method() == fiber.MethodGet {
			// A read sees every write acknowledged before it, on any instance: the client
			// may have been answered by another one a moment ago (store.SyncRead).
			s.store.SyncRead(syncReadWait)
		}
		return c.Next()
	}
	if peer := c.Get(headerPeer); peer != "" {
		if !s.isPeer(peer) {
			return errorf(fiber.StatusForbidden, "forbidden", "", "not an instance of this cluster")
		}
		err := c.Next()
		c.Set(headerApplied, strconv.FormatUint(s.store.Applied(), 10))
		return err
	}
	writer := s.store.Writer()
	if writer == "" || writer == s.cfg.AdvertiseURL {
		return c.Next()
	}
	req := &fasthttp.Request{}
	c.Request().CopyTo(req)
	req.SetRequestURI(writer + string(c.Request().URI().RequestURI()))
	req.UseHostHeader = true // the writer checks Origin against the Host the client used
	req.Header.SetHost(string(c.Request().Host()))
	req.Header.Set(headerPeer, s.store.PeerSecret())
	req.Header.Set(headerClientIP, s.clientIP(c))
	resp := c.Response()
	s.metrics.forwarded.Inc()
	if err := s.peers.DoTimeout(req, resp, forwardTimeout); err != nil {
		resp.Reset()
		if isDialError(err) {
			s.log.Warn("the cluster's writer is unreachable: committing here", "writer", writer, "err", err)
			return c.Next()
		}
		// The writer may have committed it: only If-Match makes a retry safe, so say so.
		s.log.Error("forwarding a write to the cluster's writer failed", "writer", writer, "err", err)
		return errorf(fiber.StatusServiceUnavailable, "unavailable", "",
			"the cluster's writer did not answer; the change may or may not have been made: reload and check")
	}
	if n, err := strconv.ParseUint(string(resp.Header.Peek(headerApplied)), 10, 64); err == nil {
		if !s.store.WaitApplied(n, forwardWait) {
			s.log.Warn("answering a forwarded write before this instance's view holds it", "entry", n, "applied", s.store.Applied())
		}
	}
	resp.Header.Del(headerApplied)
	return nil
}

// isDialError reports whether err means the request never reached the writer.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.Is(err, fasthttp.ErrDialTimeout) || (errors.As(err, &op) && op.Op == "dial") ||
		errors.Is(err, fasthttp.ErrNoFreeConns)
}
