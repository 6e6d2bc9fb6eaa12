package server

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// proxySet is the --trusted-proxies list: single addresses and CIDR ranges.
type proxySet []netip.Prefix

func parseProxies(list []string) proxySet {
	var out proxySet
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

func (ps proxySet) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address a request came from, for limits and the audit log. Without trusted
// proxies it is the connection's peer. When the peer is a trusted proxy, X-Forwarded-For is
// read from the right: each proxy appends the address it received the request from, so the
// right-most address that is not itself a trusted proxy is the first one no proxy of ours
// vouches for. Whatever a client writes into the header itself stands to the left of it and
// is never used — taking the left-most entry (or the raw header string) would let a client
// pick its own address and its own login budget.
func (s *Server) clientIP(c *fiber.Ctx) string {
	if ip, ok := s.forwardedFor(c); ok {
		return ip // another instance of the cluster forwarded the request (forward.go)
	}
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	peer = peer.Unmap()
	if len(s.proxies) == 0 || !s.proxies.contains(peer) {
		return peer.String()
	}
	addr := peer
	var hops []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), fiber.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
	})
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: nothing to its left can be trusted either
		}
		addr = a.Unmap()
		if !s.proxies.contains(addr) {
			break
		}
	}
	return addr.String()
}
