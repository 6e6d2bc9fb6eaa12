package store

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Webhook kinds: the group robots whose JSON a webhook speaks.
const (
	WebhookWeCom    = "wecom"    // 企业微信群机器人
	WebhookDingTalk = "dingtalk" // 钉钉群机器人
)

// Reminder events a webhook can subscribe to.
const (
	EventProjectRed     = "project_red"     // a project's warning turned red
	EventProblemOverdue = "problem_overdue" // a project has newly overdue problems
	EventReportMissing  = "report_missing"  // a unit's reports missing after the deadline
	// EventTest is a delivery sent from the settings page's test button.
	EventTest = "test"
)

// WebhookEvents lists the events a webhook can subscribe to.
var WebhookEvents = []string{EventProjectRed, EventProblemOverdue, EventReportMissing}

// Webhook is one outgoing reminder channel: a group robot's address. The URL holds the
// robot's key, so webhooks are kept outside the change log and the live feed, and are shown
// to admins only.
type Webhook struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Kind    string   `json:"kind"`   // WebhookWeCom or WebhookDingTalk
	Events  []string `json:"events"` // of WebhookEvents
	Enabled bool     `json:"enabled"`
}

// Wants reports whether the webhook is enabled and subscribed to event.
func (h *Webhook) Wants(event string) bool { return h.Enabled && slices.Contains(h.Events, event) }

// WebhookSettings are the admin's webhooks (GET|PUT /api/settings/webhooks). A database that
// never saved any is at version 1 with none.
type WebhookSettings struct {
	Version uint64    `json:"version"`
	Hooks   []Webhook `json:"hooks"`
	// BaseURL, when set, is the board's public address: messages link to BaseURL/projects/{id}
	// instead of the bare path.
	BaseURL   string     `json:"baseUrl"`
	UpdatedAt *time.Time `json:"updatedAt"`
	UpdatedBy string     `json:"updatedBy"`
}

// Hook finds a webhook by id.
func (w *WebhookSettings) Hook(id string) (Webhook, bool) {
	for _, h := range w.Hooks {
		if h.ID == id {
			return h, true
		}
	}
	return Webhook{}, false
}

// Limits of the webhook settings.
const (
	MaxWebhooks   = 20
	MaxWebhookURL = 2000
)

// ValidateWebhook checks one webhook; field names the webhook in errors (e.g. "hooks[2]";
// "" for bare field names). An empty ID is allowed (SetWebhooks assigns one).
func ValidateWebhook(field string, h *Webhook) error {
	if field != "" {
		field += "."
	}
	if h.ID != "" {
		if err := CheckText(field+"id", h.ID, 1, 40); err != nil {
			return err
		}
	}
	if err := CheckText(field+"name", h.Name, 1, 100); err != nil {
		return err
	}
	if err := CheckWebhookURL(field+"url", h.URL, true); err != nil {
		return err
	}
	if h.Kind != WebhookWeCom && h.Kind != WebhookDingTalk {
		return invalid(field+"kind", `must be "wecom" or "dingtalk"`)
	}
	seen := map[string]bool{}
	for _, e := range h.Events {
		if !slices.Contains(WebhookEvents, e) {
			return invalid(field+"events", "unknown event %q (known: %s)", e, strings.Join(WebhookEvents, ", "))
		}
		if seen[e] {
			return invalid(field+"events", "lists %q twice", e)
		}
		seen[e] = true
	}
	return nil
}

// CheckWebhookURL checks an http(s) address of at most MaxWebhookURL characters with a
// host; required says whether it may be empty.
func CheckWebhookURL(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if err := CheckText(field, v, 1, MaxWebhookURL); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return invalid(field, "must be an http:// or https:// address")
	}
	if strings.ContainsAny(v, " ") {
		return invalid(field, "must not contain spaces")
	}
	return nil
}

// MaskURL shows an address without its secrets — the query string (a robot's key or
// access_token), any user info and the path beyond its first segment — for logs and the
// audit log.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid address)"
	}
	out := u.Scheme + "://" + u.Host
	if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
		first, rest, _ := strings.Cut(p, "/")
		out += "/" + first
		if rest != "" {
			out += "/…"
		}
	}
	if u.RawQuery != "" {
		out += "?…"
	}
	return out
}

// Validate checks the settings: at most MaxWebhooks, each valid, ids unique.
func (w *WebhookSettings) Validate() error {
	if len(w.Hooks) > MaxWebhooks {
		return invalid("hooks", "at most %d webhooks", MaxWebhooks)
	}
	if err := CheckWebhookURL("baseUrl", w.BaseURL, false); err != nil {
		return err
	}
	ids := map[string]bool{}
	for i := range w.Hooks {
		field := fmt.Sprintf("hooks[%d]", i)
		if err := ValidateWebhook(field, &w.Hooks[i]); err != nil {
			return err
		}
		if id := w.Hooks[i].ID; id != "" {
			if ids[id] {
				return invalid(field+".id", "is used twice")
			}
			ids[id] = true
		}
	}
	return nil
}

// Webhooks are the current webhook settings.
func (s *Store) Webhooks() (WebhookSettings, error) {
	var w WebhookSettings
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		w, err = webhooksIn(tx)
		return err
	})
	return w, err
}

func webhooksIn(tx *bolt.Tx) (WebhookSettings, error) {
	w := WebhookSettings{Version: 1, Hooks: []Webhook{}}
	b := tx.Bucket(bucketSettings)
	if b == nil {
		return w, nil
	}
	if v := b.Get(keyWebhooks); v != nil {
		if err := decode(v, &w); err != nil {
			return w, fmt.Errorf("webhook settings: %w", err)
		}
	}
	if w.Hooks == nil {
		w.Hooks = []Webhook{}
	}
	return w, nil
}

// SetWebhooks replaces the webhook settings (admin). ifMatch is the version read; a stale
// one gets a *StaleError with the current settings. Hooks without an id get one. The
// settings are written on their own, not through the change log: their URLs hold keys.
func (s *Store) SetWebhooks(w WebhookSettings, ifMatch uint64, by string) (WebhookSettings, error) {
	if w.Hooks == nil {
		w.Hooks = []Webhook{}
	}
	w.Hooks = slices.Clone(w.Hooks)
	if err := w.Validate(); err != nil {
		return WebhookSettings{}, err
	}
	for i := range w.Hooks {
		if w.Hooks[i].ID == "" {
			w.Hooks[i].ID = "wh_" + randomHex(6)
		}
		if w.Hooks[i].Events == nil {
			w.Hooks[i].Events = []string{}
		}
	}
	var stale *StaleError
	errStale := errors.New("stale")
	now := s.opt.Now().UTC()
	err := s.update(func(tx *wtx) error {
		cur, err := webhooksIn(tx.Tx)
		if err != nil {
			return err
		}
		if cur.Version != ifMatch {
			stale = &StaleError{What: "webhooks", Current: cur}
			return errStale
		}
		w.Version = cur.Version + 1
		w.UpdatedAt, w.UpdatedBy = &now, by
		return tx.putJSON(bucketSettings, string(keyWebhooks), w)
	})
	if errors.Is(err, errStale) {
		return WebhookSettings{}, stale
	}
	if err != nil {
		return WebhookSettings{}, wrapWrite(err)
	}
	return w, nil
}

// Delivery statuses.
const (
	DeliveryPending = "pending" // queued or waiting for its next attempt
	DeliverySent    = "sent"
	DeliveryFailed  = "failed" // gave up
)

// Delivery is one reminder message to one webhook and how sending it went
// (GET /api/webhooks/deliveries). Pending deliveries survive a restart: the notifier
// resumes them at start.
type Delivery struct {
	Seq      uint64 `json:"seq"`
	Hook     string `json:"hook"`     // the webhook's id
	HookName string `json:"hookName"` // its name when the delivery was made
	Event    string `json:"event"`    // of WebhookEvents, or EventTest
	Title    string `json:"title"`
	// Body is the JSON the robot is sent (the message only: never the address).
	Body       string    `json:"body"`
	Attempts   int       `json:"attempts"`
	Status     string    `json:"status"` // DeliveryPending, DeliverySent or DeliveryFailed
	LastError  string    `json:"lastError,omitempty"`
	StatusCode int       `json:"statusCode,omitempty"` // of the last attempt's answer
	CreatedAt  time.Time `json:"createdAt"`
	// NextAt is when a pending delivery's next attempt is due.
	NextAt *time.Time `json:"nextAt,omitempty"`
	SentAt *time.Time `json:"sentAt,omitempty"`
}

// MaxDeliveries is how many deliveries the log keeps: appending beyond it drops the oldest.
const MaxDeliveries = 1000

// AppendDelivery adds deliveries to the log in one transaction and returns them with their
// sequence numbers (and CreatedAt set when zero). The oldest beyond MaxDeliveries are dropped.
func (s *Store) AppendDelivery(ds ...Delivery) ([]Delivery, error) {
	now := s.opt.Now().UTC()
	out := slices.Clone(ds)
	err := s.update(func(tx *wtx) error {
		for i := range out {
			seq, err := tx.nextSequence(bucketDeliveries)
			if err != nil {
				return err
			}
			out[i].Seq = seq
			if out[i].CreatedAt.IsZero() {
				out[i].CreatedAt = now
			}
			if err := putDelivery(tx, &out[i]); err != nil {
				return err
			}
		}
		if len(out) == 0 {
			return nil
		}
		last := out[len(out)-1].Seq
		if last <= MaxDeliveries {
			return nil
		}
		// Keys sort by sequence: drop from the front while below the newest MaxDeliveries.
		keep := u64(last - MaxDeliveries + 1)
		var drop [][]byte
		c := tx.Bucket(bucketDeliveries).Cursor()
		for k, _ := c.First(); k != nil && string(k) < string(keep); k, _ = c.Next() {
			drop = append(drop, append([]byte(nil), k...))
		}
		for _, k := range drop {
			if err := tx.del(bucketDeliveries, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapWrite(err)
	}
	return out, nil
}

func putDelivery(tx *wtx, d *Delivery) error {
	data, err := encode(d)
	if err != nil {
		return err
	}
	return tx.put(bucketDeliveries, u64(d.Seq), data)
}

// UpdateDelivery stores a delivery's new state; ErrNotFound when it has left the log.
func (s *Store) UpdateDelivery(d Delivery) error {
	err := s.update(func(tx *wtx) error {
		if tx.Bucket(bucketDeliveries).Get(u64(d.Seq)) == nil {
			return fmt.Errorf("delivery %d: %w", d.Seq, ErrNotFound)
		}
		return putDelivery(tx, &d)
	})
	return wrapWrite(err)
}

// Deliveries returns the newest deliveries, newest first, at most limit (default 100,
// at most MaxDeliveries).
func (s *Store) Deliveries(limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxDeliveries)
	out := []Delivery{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDeliveries).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var d Delivery
			if err := decode(v, &d); err != nil {
				return fmt.Errorf("delivery %d: %w", btou(k), err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// PendingDeliveries returns the deliveries still pending, oldest first.
func (s *Store) PendingDeliveries() ([]Delivery, error) {
	var out []Delivery
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDeliveries).ForEach(func(k, v []byte) error {
			var d Delivery
			if err := decode(v, &d); err != nil {
				return fmt.Errorf("delivery %d: %w", btou(k), err)
			}
			if d.Status == DeliveryPending {
				out = append(out, d)
			}
			return nil
		})
	})
	return out, err
}
