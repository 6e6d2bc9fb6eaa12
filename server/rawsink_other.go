//go:build !unix

package server

import "net"

// rawSink is the fallback of rawsink_unix.go where sockets have no descriptor to write to
// without waiting: tryWrite never writes, so the hub hands every frame to a writer of its
// own, which writes it with socket.Write — one writev bounded by wsWriteTimeout. Screens get
// the same bytes in the same order; only the fan-out costs a goroutine hand-over per screen.
type rawSink struct{}

func newRawSink(net.Conn) rawSink { return rawSink{} }

// tryWrite writes nothing: the socket counts as full.
func (rawSink) tryWrite([]byte) (int, error) { return 0, nil }
