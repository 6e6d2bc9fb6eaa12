package store

import (
	"context"
	"errors"
	"log"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// The preferred writer. Any instance may append to the log — the compared head keeps one
// order — but instances that append at once lose races to each other, and each loser reads
// and stages again: with editors on three instances the cluster committed about two times
// one client's rate (docs/scale-out.md). So the instances elect one of them (an etcd election
// on a lease: when its holder dies, the lease expires and another takes over) and the others
// forward their writes to it over HTTP (server/forward.go), where they share its group
// commits. The election is a preference, never a condition of correctness: an instance that
// cannot reach the writer commits itself.

// writerTTL is the election lease's life: how long a dead writer keeps the role.
const writerTTL = 3

type writerElection struct {
	mu     sync.Mutex
	url    string             // the writer's URL, "" while unknown
	secret string             // the cluster's peer secret (forwarded requests carry it)
	stop   context.CancelFunc // ends the campaign (Resign)
}

// Writer returns the URL of the cluster's preferred writer ("" on a single node or while it
// is unknown).
func (s *Store) Writer() string {
	if s.rep == nil {
		return ""
	}
	s.rep.elect.mu.Lock()
	defer s.rep.elect.mu.Unlock()
	return s.rep.elect.url
}

// PeerSecret is the secret instances of this cluster show each other on forwarded requests
// ("" on a single node): the writer takes the client's address from such a request only.
func (s *Store) PeerSecret() string {
	if s.rep == nil {
		return ""
	}
	return s.rep.elect.secret
}

// peerSecret reads the cluster's peer secret, making it if nobody has.
func (r *replica) peerSecret(ctx context.Context) (string, error) {
	key := r.log.Prefix() + "peer-secret"
	cli := r.log.Client()
	fresh := randomHex(32)
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, fresh)).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return "", err
	}
	if resp.Succeeded {
		return fresh, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return "", errors.New("the peer secret vanished")
	}
	return string(kvs[0].Value), nil
}

// Campaign makes this instance a candidate for the preferred writer, reachable by the other
// instances at url, and follows who holds the role, until Close. On a single node it does
// nothing.
func (s *Store) Campaign(url string) {
	if s.rep == nil {
		return
	}
	ctx, stop := context.WithCancel(s.rep.ctx)
	s.rep.elect.mu.Lock()
	s.rep.elect.stop = stop
	s.rep.elect.mu.Unlock()
	s.rep.campaigns.Add(1)
	go func() {
		defer s.rep.campaigns.Done()
		s.rep.campaign(ctx, url)
	}()
}

// Resign gives the writer's role up, if this instance holds it, and stops campaigning: a
// stopping instance calls it before it stops serving, so that the others forward to the next
// writer at once instead of to a server that is closing. Close does it too.
func (s *Store) Resign() {
	if s.rep == nil {
		return
	}
	s.rep.elect.mu.Lock()
	stop := s.rep.elect.stop
	s.rep.elect.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.rep.campaigns.Wait()
}

func (r *replica) campaign(ctx context.Context, url string) {
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
		err := r.campaignOnce(ctx, url)
		if ctx.Err() != nil {
			return
		}
		r.setWriter("")
		log.Printf("cluster: the writer election: %v (again in %v)", err, wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// campaignOnce campaigns on one lease until the lease is lost or ctx ends.
func (r *replica) campaignOnce(ctx context.Context, url string) error {
	sess, err := concurrency.NewSession(r.log.Client(), concurrency.WithTTL(writerTTL), concurrency.WithContext(ctx))
	if err != nil {
		return err
	}
	defer sess.Close()
	e := concurrency.NewElection(sess, r.log.Prefix()+"writer")
	octx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for resp := range e.Observe(octx) {
			if len(resp.Kvs) > 0 {
				r.setWriter(string(resp.Kvs[0].Value))
			}
		}
	}()
	campaigned := make(chan error, 1)
	go func() { campaigned <- e.Campaign(ctx, url) }()
	select {
	case err := <-campaigned:
		if err != nil {
			return err
		}
	case <-sess.Done():
		return errors.New("lease lost while campaigning")
	}
	select {
	case <-sess.Done():
		return errors.New("lease lost: no longer the writer")
	case <-ctx.Done():
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = e.Resign(rctx) // let another instance take over at once
		return ctx.Err()
	}
}

func (r *replica) setWriter(url string) {
	r.elect.mu.Lock()
	r.elect.url = url
	r.elect.mu.Unlock()
}

// WaitApplied waits until the view has applied entry n of the log, or for at most d, and
// reports whether it has: an instance that forwarded a write answers once its own view holds
// it, so that it never tells a client what it does not hold itself.
func (s *Store) WaitApplied(n uint64, d time.Duration) bool {
	if s.rep == nil {
		return true
	}
	deadline := time.Now().Add(d)
	for s.rep.appliedPub.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		s.rep.waitAdvance(time.Until(deadline))
	}
	return true
}

// waitAdvance waits until the view's position moves, for at most d.
func (r *replica) waitAdvance(d time.Duration) {
	r.advMu.Lock()
	ch := r.advanced
	r.advMu.Unlock()
	select {
	case <-ch:
	case <-time.After(d):
	}
}

// advance announces a new position to WaitApplied's callers.
func (r *replica) advance() {
	r.advMu.Lock()
	close(r.advanced)
	r.advanced = make(chan struct{})
	r.advMu.Unlock()
}

// SyncRead waits, for at most d, until the view holds every entry the log held when it was
// called, and reports whether it does: a read that follows it sees every write acknowledged
// before it began, on any instance — also by a client that moved to this instance from a
// faster one. Concurrent callers share one read of the log's head (a quorum read), begun
// after each of them arrived. Without etcd (no quorum) it gives up and the read shows the
// view as it is: reads go on while writes cannot.
func (s *Store) SyncRead(d time.Duration) bool {
	if s.rep == nil {
		return true
	}
	deadline := time.Now().Add(d)
	head, err := s.rep.linearHead(deadline)
	if err != nil {
		return false
	}
	return s.WaitApplied(head, time.Until(deadline))
}

type headCall struct {
	done chan struct{}
	head uint64
	err  error
}

// linearHead reads the log's head through a quorum, in a read begun after this call.
func (r *replica) linearHead(deadline time.Time) (uint64, error) {
	r.headMu.Lock()
	c := r.headNext
	if c == nil {
		c = &headCall{done: make(chan struct{})}
		r.headNext = c
		if !r.headRunning {
			r.headRunning = true
			go r.readHeads()
		}
	}
	r.headMu.Unlock()
	select {
	case <-c.done:
		return c.head, c.err
	case <-time.After(time.Until(deadline)):
		return 0, context.DeadlineExceeded
	}
}

// readHeads answers the waiting callers of linearHead, one quorum read for all who came
// while the previous read was out.
func (r *replica) readHeads() {
	for {
		r.headMu.Lock()
		c := r.headNext
		r.headNext = nil
		if c == nil {
			r.headRunning = false
			r.headMu.Unlock()
			return
		}
		r.headMu.Unlock()
		ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(r.ctx), time.Second)
		c.head, c.err = r.log.Head(ctx)
		cancel()
		close(c.done)
	}
}

// contactEvery is how often an instance checks that it can reach a quorum of etcd.
const contactEvery = time.Second

// CutOff is how long this instance has not reached a quorum of etcd (0 while it does, and on
// a single node). A cut-off instance still serves its view — the last state it had — but can
// neither write nor learn of others' writes: the server stops keeping screens live on it, so
// that they show as offline and, after the wall's delay, stale (server/cluster.go).
func (s *Store) CutOff() time.Duration {
	if s.rep == nil {
		return 0
	}
	last := s.rep.lastContact.Load()
	if last == 0 {
		return 0
	}
	if d := time.Since(time.Unix(0, last)); d > 2*contactEvery {
		return d
	}
	return 0
}

// keepContact reads the log's head through a quorum every contactEvery, until Close, and
// records when it last succeeded.
func (r *replica) keepContact() {
	r.lastContact.Store(time.Now().UnixNano())
	t := time.NewTicker(contactEvery)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(r.ctx), contactEvery)
		_, err := r.log.Head(ctx)
		cancel()
		if err == nil {
			r.lastContact.Store(time.Now().UnixNano())
		}
	}
}
