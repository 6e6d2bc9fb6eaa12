// Package notify sends reminders to group robots (企业微信 and 钉钉 webhooks): a project
// turning red, a problem overdue, a unit's reports missing at the deadline. It reads the
// store's committed events, never blocks the commit that hands them over, and keeps every
// delivery's progress in the store, so pending ones resume after a restart.
//
// Goroutines: Handle runs on the committer and only derives alerts and offers them to a
// bounded queue. One dispatcher goroutine takes them, addresses them to the subscribed
// webhooks and records the deliveries as pending; each delivery then runs on a goroutine of
// its own that waits out its backoff and sends when one of the Workers send slots is free.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"projectboard/store"
)

// Options configure a Notifier. The zero value of each field means its documented default.
type Options struct {
	// Client sends the requests (default: a 10 s timeout per request, no redirects followed).
	Client *http.Client
	// Now gives the current time (default time.Now); tests move it.
	Now func() time.Time
	// Backoff is the wait before the second attempt, doubled before each further one, at most
	// MaxBackoff (defaults 1 s and 5 min).
	Backoff, MaxBackoff time.Duration
	// Attempts is how many times a delivery is tried before it is given up (default 5).
	Attempts int
	// Queue is how many commits' reminders may wait for the dispatcher (default 256); beyond
	// it they are recorded as failed ("queue full") instead of blocking the commit.
	Queue int
	// Workers is how many requests may be in flight at once (default 4).
	Workers int
	// Logger receives the notifier's logs (default slog.Default()).
	Logger *slog.Logger
}

// Notifier delivers reminders of committed changes to the configured webhooks.
type Notifier struct {
	st  *store.Store
	opt Options
	log *slog.Logger

	queue   chan []alert
	dropMu  sync.Mutex
	dropped [][]alert     // reminders the full queue refused, to be recorded as failed
	lost    int           // beyond maxDropped: only counted
	dropSig chan struct{} // wakes the dispatcher to record dropped reminders
	slots   chan struct{} // send slots

	ctx      context.Context // cancelled by Close: ends waits and requests in flight
	cancel   context.CancelFunc
	closed   atomic.Bool
	stopped  chan struct{} // closed when the dispatcher has returned
	sends    sync.WaitGroup
	inFlight atomic.Int64 // deliveries running
	once     sync.Once
}

const maxDropped = 1000

// New starts a notifier on st: it resumes the deliveries a previous run left pending, then
// waits for Handle. Close stops it.
func New(st *store.Store, opt Options) *Notifier {
	n := newNotifier(st, opt)
	n.start()
	return n
}

func newNotifier(st *store.Store, opt Options) *Notifier {
	if opt.Client == nil {
		opt.Client = &http.Client{
			Timeout: 10 * time.Second,
			// A robot answers where it is asked; a redirect elsewhere is an error, not a hop.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Backoff <= 0 {
		opt.Backoff = time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Minute
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 5
	}
	if opt.Queue <= 0 {
		opt.Queue = 256
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	n := &Notifier{st: st, opt: opt, log: opt.Logger,
		queue: make(chan []alert, opt.Queue), dropSig: make(chan struct{}, 1),
		slots: make(chan struct{}, opt.Workers), stopped: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n
}

func (n *Notifier) start() {
	pending, err := n.st.PendingDeliveries()
	if err != nil {
		n.log.Error("webhooks: pending deliveries not resumed", "err", err)
	}
	for _, d := range pending {
		n.send(d)
	}
	if len(pending) > 0 {
		n.log.Info("webhooks: resuming pending deliveries", "count", len(pending))
	}
	go n.dispatch()
}

// Handle takes one commit's events (the store's commit hook, after the commit). It never
// blocks: it derives the reminders and offers them to the queue; when the queue is full they
// are recorded as failed deliveries ("queue full") by the dispatcher.
func (n *Notifier) Handle(events []store.Event) {
	if n == nil || n.closed.Load() {
		return
	}
	alerts := derive(events)
	if len(alerts) == 0 {
		return
	}
	select {
	case n.queue <- alerts:
		return
	default:
	}
	n.dropMu.Lock()
	if len(n.dropped) < maxDropped {
		n.dropped = append(n.dropped, alerts)
	} else {
		n.lost += len(alerts)
	}
	n.dropMu.Unlock()
	select {
	case n.dropSig <- struct{}{}:
	default:
	}
}

// Close stops the notifier: reminders still queued are recorded as pending (the next start
// sends them), requests in flight are cancelled, and deliveries waiting for their next
// attempt stay pending. It returns when every goroutine of the notifier has.
func (n *Notifier) Close() {
	if n == nil {
		return
	}
	n.once.Do(func() {
		n.closed.Store(true)
		n.cancel()
		<-n.stopped
		n.sends.Wait()
	})
}

// dispatch addresses queued reminders to webhooks until Close.
func (n *Notifier) dispatch() {
	defer close(n.stopped)
	for {
		select {
		case alerts := <-n.queue:
			n.address(alerts, "")
		case <-n.dropSig:
			n.recordDropped()
		case <-n.ctx.Done():
			// Keep what is queued as pending deliveries, in one transaction: the next start
			// sends them.
			var rest []alert
			for {
				select {
				case alerts := <-n.queue:
					rest = append(rest, alerts...)
				default:
					n.address(rest, "")
					n.recordDropped()
					return
				}
			}
		}
	}
}

func (n *Notifier) recordDropped() {
	n.dropMu.Lock()
	dropped, lost := n.dropped, n.lost
	n.dropped, n.lost = nil, 0
	n.dropMu.Unlock()
	var all []alert
	for _, alerts := range dropped {
		all = append(all, alerts...)
	}
	n.address(all, "queue full") // one transaction for all
	if lost > 0 {
		n.log.Error("webhooks: reminders lost, the queue was full", "alerts", lost)
	}
}

// address makes the deliveries of alerts, one per message and subscribed webhook, and
// records them: pending and then sent, or failed with failure as the error when it is set.
func (n *Notifier) address(alerts []alert, failure string) {
	settings, err := n.st.Webhooks()
	if err != nil {
		n.log.Error("webhooks: settings not read; reminders not sent", "err", err)
		return
	}
	now := n.opt.Now().UTC()
	var ds []store.Delivery
	for _, a := range alerts {
		var msgs []message
		for _, h := range settings.Hooks {
			if !h.Wants(a.Event) {
				continue
			}
			if msgs == nil {
				msgs = messages(a, settings.BaseURL)
			}
			for _, m := range msgs {
				d := store.Delivery{Hook: h.ID, HookName: h.Name, Event: m.Event, Title: m.Title,
					Body: body(h.Kind, m), Status: store.DeliveryPending, CreatedAt: now, NextAt: &now}
				if failure != "" {
					d.Status, d.LastError, d.NextAt = store.DeliveryFailed, failure, nil
				}
				ds = append(ds, d)
			}
		}
	}
	if len(ds) == 0 {
		return
	}
	ds, err = n.st.AppendDelivery(ds...)
	if err != nil {
		n.log.Error("webhooks: deliveries not recorded; reminders not sent", "deliveries", len(ds), "err", err)
		return
	}
	if failure != "" {
		n.log.Error("webhooks: reminders not sent", "deliveries", len(ds), "reason", failure)
		return
	}
	for _, d := range ds {
		if n.inFlight.Load() >= maxInFlight {
			d.Status, d.LastError, d.NextAt = store.DeliveryFailed, "too many deliveries waiting", nil
			if err := n.st.UpdateDelivery(d); err != nil {
				n.log.Error("webhooks: delivery state not stored", "seq", d.Seq, "err", err)
			}
			continue
		}
		n.send(d)
	}
}

// maxInFlight bounds the deliveries waiting for an attempt (each is a goroutine), should a
// robot hang while warnings keep changing; it is the size of the delivery log.
const maxInFlight = store.MaxDeliveries

// send runs a pending delivery to its end (sent or failed) on a goroutine of its own.
func (n *Notifier) send(d store.Delivery) {
	if n.ctx.Err() != nil {
		return // closing: it stays pending
	}
	n.sends.Add(1)
	n.inFlight.Add(1)
	go func() {
		defer n.sends.Done()
		defer n.inFlight.Add(-1)
		n.deliver(d)
	}()
}

// backoff is the wait after the attempt-th failed attempt.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.opt.Backoff
	for i := 1; i < attempt && d < n.opt.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, n.opt.MaxBackoff)
}

func (n *Notifier) deliver(d store.Delivery) {
	for {
		if d.NextAt != nil {
			wait := min(d.NextAt.Sub(n.opt.Now()), n.opt.MaxBackoff)
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-n.ctx.Done():
					t.Stop()
					return
				}
			}
		}
		select {
		case n.slots <- struct{}{}:
		case <-n.ctx.Done():
			return
		}
		settings, err := n.st.Webhooks()
		var code int
		if err == nil {
			h, ok := settings.Hook(d.Hook)
			switch {
			case !ok:
				err = errGone("the webhook was removed")
			case !h.Enabled && d.Event != store.EventTest:
				err = errGone("the webhook was disabled")
			default:
				code, err = n.post(n.ctx, h.URL, d.Body)
			}
		}
		<-n.slots
		if err != nil && n.ctx.Err() != nil {
			return // cancelled mid-request: not an attempt; it stays pending
		}
		d.Attempts++
		d.StatusCode = code
		now := n.opt.Now().UTC()
		var gone errGone
		switch {
		case err == nil:
			d.Status, d.LastError, d.SentAt, d.NextAt = store.DeliverySent, "", &now, nil
		case errors.As(err, &gone) || d.Attempts >= n.opt.Attempts:
			d.Status, d.LastError, d.NextAt = store.DeliveryFailed, err.Error(), nil
		default:
			next := now.Add(n.backoff(d.Attempts))
			d.LastError, d.NextAt = err.Error(), &next
		}
		if uerr := n.st.UpdateDelivery(d); uerr != nil {
			// Removed from the log (trimmed) or the database is away: stop here; a delivery
			// still pending in the file resumes at the next start.
			n.log.Error("webhooks: delivery state not stored", "seq", d.Seq, "err", uerr)
			return
		}
		switch d.Status {
		case store.DeliverySent:
			n.log.Info("webhook delivered", "seq", d.Seq, "hook", d.HookName, "event", d.Event, "attempts", d.Attempts)
			return
		case store.DeliveryFailed:
			n.log.Warn("webhook delivery failed", "seq", d.Seq, "hook", d.HookName, "event", d.Event,
				"attempts", d.Attempts, "err", d.LastError)
			return
		}
	}
}

// errGone is a failure no retry can mend.
type errGone string

func (e errGone) Error() string { return string(e) }

// Test sends a test message to hook once, records it as a delivery (event "test") and
// returns it: sent, or failed with the robot's or the network's error.
func (n *Notifier) Test(ctx context.Context, hook store.Webhook) (store.Delivery, error) {
	m := testMessage(hook.Name)
	now := n.opt.Now().UTC()
	d := store.Delivery{Hook: hook.ID, HookName: hook.Name, Event: store.EventTest, Title: m.Title,
		Body: body(hook.Kind, m), Status: store.DeliveryPending, CreatedAt: now}
	code, err := n.post(ctx, hook.URL, d.Body)
	d.Attempts, d.StatusCode = 1, code
	if err != nil {
		d.Status, d.LastError = store.DeliveryFailed, err.Error()
	} else {
		sent := n.opt.Now().UTC()
		d.Status, d.SentAt = store.DeliverySent, &sent
	}
	out, aerr := n.st.AppendDelivery(d)
	if aerr != nil {
		return d, aerr
	}
	return out[0], nil
}

// maxAnswer bounds how much of a robot's answer is read.
const maxAnswer = 64 << 10

// post sends body to address and checks the answer: a 2xx whose JSON has errcode 0, as both
// robots answer. Errors never quote the address, which holds the robot's key.
func (n *Notifier) post(ctx context.Context, address, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, address, strings.NewReader(body))
	if err != nil {
		return 0, errGone("the webhook's address is not valid")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "projectboard-webhook")
	res, err := n.opt.Client.Do(req)
	if err != nil {
		return 0, errors.New(transportError(err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return res.StatusCode, fmt.Errorf("HTTP %d, answer not read: %s", res.StatusCode, transportError(err))
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("HTTP %d: %s", res.StatusCode, snippet(data))
	}
	var answer struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(data), &answer); err != nil || answer.ErrCode == nil {
		return res.StatusCode, fmt.Errorf("HTTP %d without an errcode in the answer: %s", res.StatusCode, snippet(data))
	}
	if *answer.ErrCode != 0 {
		return res.StatusCode, fmt.Errorf("errcode %d: %s", *answer.ErrCode, snippet([]byte(answer.ErrMsg)))
	}
	return res.StatusCode, nil
}

// transportError describes a failed request without its address: *url.Error quotes the
// whole URL, key included.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time (timeout)"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return snippet([]byte(err.Error()))
}

// snippet is a short, printable quote of an answer.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "(empty answer)"
	}
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}
