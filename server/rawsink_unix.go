//go:build unix

package server

import (
	"net"
	"syscall"
)

// rawSink makes one write(2) on a screen's non-blocking socket and never waits: the hub's
// shard goroutines call it for every screen they pass over (socket.TryWrite), so a socket
// that reads takes the whole frame without a goroutine woken or a timer set. A full socket
// is the hub's to handle: it hands the screen to a writer of its own, which waits in
// socket.Write. Measured against a writer goroutine per screen in docs/performance.md.
// rawsink_other.go is the fallback where there are no such descriptors.
type rawSink struct {
	rc syscall.RawConn // nil if the connection has no descriptor: then tryWrite never writes
}

func newRawSink(nc net.Conn) rawSink {
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return rawSink{rc: rc}
		}
	}
	return rawSink{}
}

// tryWrite writes what of b the socket takes now (0 when it is full).
func (s rawSink) tryWrite(b []byte) (int, error) {
	if s.rc == nil {
		return 0, nil
	}
	var n int
	var werr error
	if err := s.rc.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // never wait: a full socket is the hub's to handle
	}); err != nil {
		return 0, err
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		return 0, nil
	}
	return n, werr
}
