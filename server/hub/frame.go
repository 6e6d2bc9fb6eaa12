package hub

import (
	"encoding/binary"
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
)

// FrameHeader returns the header of a final frame of opcode op carrying n payload bytes.
func FrameHeader(op byte, n int) []byte {
	return appendHeader(make([]byte, 0, 10), op, n)
}

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

// TextHeader is FrameHeader for a text frame.
func TextHeader(n int) []byte { return FrameHeader(opText, n) }

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

// appendArray appends one text frame holding the messages' payloads as a JSON array.
func appendArray(b []byte, msgs []*Message) []byte {
	n := 1 // ']'
	for _, m := range msgs {
		n += 1 + len(m.Data) // '[' or ',' and the message
	}
	b = appendHeader(b, opText, n)
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
