package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// plainEntry is an entry in version 1's encoding (ops not compressed), as instances before
// version 2 wrote them: still read.
func plainEntry(id [16]byte, ops []op) []byte {
	return appendOps(append([]byte{entryPlain}, id[:]...), ops)
}

func TestEntryRoundTripBothVersions(t *testing.T) {
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	value := []byte(`{"id":"P1","name":"长春影视产业园","progress":41,"note":"` + strings.Repeat("施工中 ", 200) + `"}`)
	ops := []op{
		{kind: opSeq, bucket: []byte("changes"), seq: 1 << 40},
		{kind: opPut, bucket: []byte("projects"), key: []byte("P1"), value: value},
		{kind: opDel, bucket: []byte("sessions"), key: []byte("s1")},
		{kind: opPut, bucket: []byte("meta"), key: []byte("empty"), value: []byte{}},
	}
	compressed := encodeEntry(id, ops)
	if compressed[0] != entryCompressed || len(compressed) >= len(plainEntry(id, ops))/2 {
		t.Fatalf("version %d, %d bytes (plain %d): want version 2 and less than half", compressed[0], len(compressed), len(plainEntry(id, ops)))
	}
	for name, b := range map[string][]byte{"compressed": compressed, "plain": plainEntry(id, ops)} {
		gotID, got, err := decodeEntry(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if gotID != id || len(got) != len(ops) {
			t.Fatalf("%s: id %x, %d ops", name, gotID, len(got))
		}
		for i := range ops {
			g, w := got[i], ops[i]
			if g.kind != w.kind || !bytes.Equal(g.bucket, w.bucket) || !bytes.Equal(g.key, w.key) || !bytes.Equal(g.value, w.value) || g.seq != w.seq {
				t.Fatalf("%s: op %d is %+v, want %+v", name, i, g, w)
			}
		}
	}
	// A cut or unknown entry is refused, never half-applied (etcd's own checksums guard the bytes).
	for name, b := range map[string][]byte{
		"truncated":       compressed[:len(compressed)-3],
		"unknown version": append([]byte{9}, compressed[1:]...),
		"short":           compressed[:10],
	} {
		if _, _, err := decodeEntry(b); !errors.Is(err, errBadEntry) {
			t.Errorf("%s: %v, want errBadEntry", name, err)
		}
	}
}
