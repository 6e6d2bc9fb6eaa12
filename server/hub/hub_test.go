package hub

import (
	"fmt"
	"testing"
)

func msg(rev uint64) *Message { return &Message{Rev: rev, Data: []byte(fmt.Sprint(rev))} }

func TestOrderAndFanOut(t *testing.T) {
	h := New(100)
	a, b := h.Subscribe(Meta{Username: "a"}), h.Subscribe(Meta{Username: "b"})
	for r := uint64(1); r <= 50; r++ {
		h.Publish(msg(r))
	}
	for _, s := range []*Subscriber{a, b} {
		for want := uint64(1); want <= 50; want++ {
			if got := (<-s.C).Rev; got != want {
				t.Fatalf("%s: got rev %d, want %d", s.Meta.Username, got, want)
			}
		}
	}
}

func TestSlowSubscriberDroppedOthersUnaffected(t *testing.T) {
	h := New(4)
	slow, fast := h.Subscribe(Meta{Username: "slow"}), h.Subscribe(Meta{Username: "fast"})
	for r := uint64(1); r <= 10; r++ {
		h.Publish(msg(r))
		if got := (<-fast.C).Rev; got != r {
			t.Fatalf("fast: got rev %d, want %d", got, r)
		}
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber not dropped")
	}
	if slow.Code() != CodeSlowConsume {
		t.Fatalf("got close code %d, want %d", slow.Code(), CodeSlowConsume)
	}
	// What the slow one holds is a gap-free prefix.
	for want := uint64(1); len(slow.C) > 0; want++ {
		if got := (<-slow.C).Rev; got != want {
			t.Fatalf("slow: got rev %d, want %d", got, want)
		}
	}
	if st := h.Stats(); st.Subscribers != 1 || st.Dropped != 1 {
		t.Fatalf("got stats %+v, want 1 subscriber and 1 drop", st)
	}
}

func TestBatchNeverSplit(t *testing.T) {
	h := New(3)
	s := h.Subscribe(Meta{})
	h.Publish(msg(1), msg(2))
	h.Publish(msg(3), msg(4)) // only one place left: dropped, gets neither
	if len(s.C) != 2 || s.Code() != CodeSlowConsume {
		t.Fatalf("got %d queued and code %d, want 2 and %d", len(s.C), s.Code(), CodeSlowConsume)
	}
}

func TestDropByMeta(t *testing.T) {
	h := New(4)
	a := h.Subscribe(Meta{TokenID: "t1", Addr: "10.0.0.1"})
	b := h.Subscribe(Meta{TokenID: "t2", Addr: "10.0.0.1"})
	if n := h.CountAddr("10.0.0.1"); n != 2 {
		t.Fatalf("CountAddr: got %d, want 2", n)
	}
	if n := h.Drop(func(m Meta) bool { return m.TokenID == "t1" }, CodeRevoked, "revoked"); n != 1 {
		t.Fatalf("dropped %d, want 1", n)
	}
	if a.Code() != CodeRevoked || b.Code() != 0 {
		t.Fatalf("got codes %d and %d, want %d and 0", a.Code(), b.Code(), CodeRevoked)
	}
	h.Unsubscribe(a) // already gone: harmless
	if n := h.CountAddr("10.0.0.1"); n != 1 {
		t.Fatalf("CountAddr after a drop and a repeated unsubscribe: got %d, want 1", n)
	}
	h.Unsubscribe(b)
	if h.Len() != 0 {
		t.Fatalf("got %d subscribers, want 0", h.Len())
	}
}
