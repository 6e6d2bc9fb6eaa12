package feedwire

import "bytes"

// Head reads a message's type and revision from its first bytes, without decoding the
// message and without allocating: for clients that read thousands of sockets and need only
// which revision arrived (scripts/loadgen). It relies on the server's encoding, which writes
// "type" first and, for a snapshot and a change, "rev" second: {"type":"change","rev":N,…}.
// typ is one of the Type constants, or "" for anything else (another type, a batch, a
// prefix too short to hold the type). rev is 0 for hello (its epoch comes first: decode a
// Hello for it) and reload; b need only hold the message's start, up to the end of rev.
func Head(b []byte) (typ string, rev uint64) {
	const pre = `{"type":"`
	if !bytes.HasPrefix(b, []byte(pre)) {
		return "", 0
	}
	b = b[len(pre):]
	end := bytes.IndexByte(b, '"')
	if end < 0 {
		return "", 0
	}
	switch string(b[:end]) { // no allocation: the compiler compares with the constants
	case TypeChange:
		typ = TypeChange
	case TypeSnapshot:
		typ = TypeSnapshot
	case TypeHello:
		return TypeHello, 0
	case TypeReload:
		return TypeReload, 0
	default:
		return "", 0
	}
	b = b[end:]
	i := bytes.Index(b, []byte(`"rev":`))
	if i < 0 {
		return typ, 0
	}
	for _, ch := range b[i+len(`"rev":`):] {
		if ch < '0' || ch > '9' {
			break
		}
		rev = rev*10 + uint64(ch-'0')
	}
	return typ, rev
}

var changeHead = []byte(`{"type":"change","rev":`)

// NextChange finds the next change message in b — a frame, or a batch as a connection with
// batch=1 gets it ([{"type":"change","rev":N,…},{"type":"change","rev":N+1,…}]) — and
// returns its revision and the bytes after that revision, to pass to the next call; ok is
// false when b holds no further change. Like Head it does not decode or allocate. The
// sequence {"type":"change","rev": cannot occur inside a JSON string (its quotes would be
// escaped), so every match is a message's start.
func NextChange(b []byte) (rev uint64, rest []byte, ok bool) {
	i := bytes.Index(b, changeHead)
	if i < 0 {
		return 0, nil, false
	}
	b = b[i+len(changeHead):]
	for len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		rev = rev*10 + uint64(b[0]-'0')
		b = b[1:]
	}
	return rev, b, true
}
