package hub

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"sync"
	"time"
)

// Websocket frames as a server sends them (RFC 6455 §5.2: final, unmasked). The hub frames
// each message once and writes the same bytes to every screen.

const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
	finBit  = 0x80
	rsv1Bit = 0x40 // the frame's payload is compressed (RFC 7692)
)

// appendHeader appends the header of a final frame of opcode op carrying n payload bytes.
func appendHeader(b []byte, op byte, n int) []byte {
	b = append(b, finBit|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// TextHeader is the header of a text frame carrying n payload bytes.
func TextHeader(n int) []byte { return appendHeader(make([]byte, 0, 10), opText, n) }

// FrameRoom is the room FramedMessage needs in front of a payload: the longest header.
const FrameRoom = 10

// FramedMessage makes a text message of buf[FrameRoom:], writing its frame header into the
// room in front of it, so the frame needs no copy of the payload.
func FramedMessage(rev uint64, at time.Time, buf []byte) *Message {
	payload := buf[FrameRoom:]
	h := appendHeader(make([]byte, 0, FrameRoom), opText, len(payload))
	start := FrameRoom - len(h)
	copy(buf[start:], h)
	return &Message{Rev: rev, Data: payload, At: at, frame: buf[start:]}
}

func textFrame(payload []byte) []byte {
	b := appendHeader(make([]byte, 0, 10+len(payload)), opText, len(payload))
	return append(b, payload...)
}

// controlFrame is a ping, pong or close frame; control payloads are at most 125 bytes.
func controlFrame(op byte, payload []byte) []byte {
	if len(payload) > 125 {
		payload = payload[:125]
	}
	return append([]byte{finBit | op, byte(len(payload))}, payload...)
}

// CloseFrame is a close frame with a status code and a reason; 1005 (no status) is sent as
// an empty close frame, as that code must not be.
func CloseFrame(code int, reason string) []byte {
	if code == 0 || code == 1005 {
		return controlFrame(opClose, nil)
	}
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return controlFrame(opClose, append(p, reason...))
}

// PongFrame answers a client's ping with its payload.
func PongFrame(payload []byte) []byte { return controlFrame(opPong, payload) }

var pingFrame = controlFrame(opPing, nil)

// appendArray appends one text frame holding the messages' payloads as a JSON array,
// compressed if deflate.
func appendArray(b []byte, msgs []*Message, deflate bool) []byte {
	n := 1 // ']'
	for _, m := range msgs {
		n += 1 + len(m.Data) // '[' or ',' and the message
	}
	if deflate {
		return appendDeflated(b, appendArrayPayload(make([]byte, 0, n), msgs))
	}
	return appendArrayPayload(appendHeader(b, opText, n), msgs)
}

func appendArrayPayload(b []byte, msgs []*Message) []byte {
	for i, m := range msgs {
		if i == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = append(b, m.Data...)
	}
	return append(b, ']')
}

// Compressed frames (permessage-deflate, RFC 7692, negotiated without context takeover):
// every message is compressed on its own, so the same compressed bytes are valid for every
// screen that negotiated it, and are made once.

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // the level is valid: no error
	return w
}}

// deflateTail is what a sync flush ends with and RFC 7692 §7.2.1 has the sender remove.
var deflateTail = []byte{0, 0, 0xff, 0xff}

// appendDeflated appends one compressed text frame carrying payload.
func appendDeflated(buf, payload []byte) []byte {
	var z bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&z)
	_, _ = w.Write(payload) // writes to a bytes.Buffer cannot fail
	_ = w.Flush()
	deflaters.Put(w)
	c := bytes.TrimSuffix(z.Bytes(), deflateTail)
	start := len(buf)
	buf = appendHeader(buf, opText, len(c))
	buf[start] |= rsv1Bit
	return append(buf, c...)
}

// DeflatedText is one compressed text frame carrying payload (for a snapshot, built once per
// revision and written to every compressing screen that needs it).
func DeflatedText(payload []byte) []byte { return appendDeflated(nil, payload) }
