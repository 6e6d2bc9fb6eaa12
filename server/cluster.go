package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/hub"
)

// An instance cut off from etcd's quorum (its members lost, or this machine partitioned)
// still answers reads from its view, but can no longer tell whether that view is current: it
// stops keeping screens live. After CutOffGrace it closes their sockets and refuses new ones,
// so a screen behind a proxy moves to an instance that still reaches the cluster, and when no
// instance does (quorum lost) the screens keep their last state, show as offline and, after
// the wall's usual delay, stale. Once the instance reaches the quorum again it accepts screens,
// which resume from their revision.

// cutOff reports whether this instance has been cut off from the cluster for longer than
// the grace.
func (s *Server) cutOff() bool {
	return s.store.Clustered() && s.store.CutOff() > s.cfg.CutOffGrace
}

// watchCutOff drops every screen once the instance is cut off, until Shutdown; and once the
// instance has loaded a newer base in place (it was cut off while the log was pruned past
// it: store/rebase.go), so that every screen starts again from its revision.
func (s *Server) watchCutOff() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	dropped := false
	reloads := s.store.Reloads()
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
		if n := s.store.Reloads(); n != reloads {
			reloads = n
			k := s.hub.Drop(func(hub.Meta) bool { return true }, hub.CodeGoingAway, "this instance loaded a newer base of the cluster's log")
			s.log.Warn("loaded a newer base of the cluster's log: screens closed to resume", "screens", k)
		}
		switch cut := s.cutOff(); {
		case cut && !dropped:
			n := s.hub.Drop(func(hub.Meta) bool { return true }, hub.CodeGoingAway, "this instance cannot reach the cluster")
			s.log.Warn("cut off from the cluster: screens closed, new ones refused", "screens", n, "for", s.store.CutOff().Round(time.Second))
			dropped = true
		case !cut && dropped:
			s.log.Info("in contact with the cluster again: screens accepted")
			dropped = false
		}
	}
}

// refuseCutOff answers a screen's handshake 503 while the instance is cut off.
func (s *Server) refuseCutOff() error {
	if !s.cutOff() {
		return nil
	}
	return errorf(fiber.StatusServiceUnavailable, "cluster_unreachable", "",
		"this instance cannot reach the cluster, so it cannot keep a screen live")
}
