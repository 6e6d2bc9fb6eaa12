package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"projectboard/server/notify"
	"projectboard/store"
)

// auditWebhookTested is a test message sent from the webhook settings (a change of the
// settings is auditSettingsChanged with target "webhooks").
const auditWebhookTested store.AuditType = "webhook.tested"

// newNotifier starts the reminders' notifier with the server's clock and log unless the
// config gives its own.
func newNotifier(st *store.Store, cfg Config) *notify.Notifier {
	opt := cfg.Webhooks
	if opt.Now == nil {
		opt.Now = cfg.Now
	}
	if opt.Logger == nil {
		opt.Logger = cfg.Logger
	}
	return notify.New(st, opt)
}

func (s *Server) handleWebhooksGet(c *fiber.Ctx) error {
	w, err := s.store.Webhooks()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(w.Version))
	return c.JSON(w)
}

// webhooksBody is a PUT's body: the whole settings. version, updatedAt and updatedBy may be
// sent back as read; they are ignored (the version is If-Match's).
type webhooksBody struct {
	Hooks     *[]store.Webhook `json:"hooks"`
	BaseURL   string           `json:"baseUrl"`
	Version   any              `json:"version"`
	UpdatedAt any              `json:"updatedAt"`
	UpdatedBy any              `json:"updatedBy"`
}

func (s *Server) handleWebhooksPut(c *fiber.Ctx) error {
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var b webhooksBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	if b.Hooks == nil {
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "hooks", "hooks is required (send [] for none)")
	}
	before, err := s.store.Webhooks()
	if err != nil {
		return err
	}
	out, err := s.store.SetWebhooks(store.WebhookSettings{Hooks: *b.Hooks, BaseURL: b.BaseURL}, version, currentActor(c).Name())
	var stale *store.StaleError
	if errors.As(err, &stale) {
		// The one table's 412 with the current settings, in words of its own.
		e := toAPIError(err)
		e.Message = "the webhook settings were changed by someone else; reload them and apply your change again"
		e.MessageZh = "Webhook 设置已被他人修改，请刷新后重新操作"
		if cur, ok := stale.Current.(store.WebhookSettings); ok {
			c.Set(fiber.HeaderETag, etag(cur.Version))
		}
		return e
	}
	if err != nil {
		return err
	}
	s.audit(c, store.AuditEvent{Type: auditSettingsChanged, Target: "webhooks", Detail: webhooksDiff(before, out)})
	c.Set(fiber.HeaderETag, etag(out.Version))
	return c.JSON(out)
}

// webhooksDiff says what a PUT changed, for the audit log: addresses only masked (they hold
// the robots' keys).
func webhooksDiff(before, after store.WebhookSettings) string {
	var parts []string
	describe := func(h store.Webhook) string {
		state := "enabled"
		if !h.Enabled {
			state = "disabled"
		}
		return fmt.Sprintf("%q (%s %s, %s, events %s)", h.Name, h.Kind, store.MaskURL(h.URL), state, events(h.Events))
	}
	for _, h := range after.Hooks {
		old, ok := before.Hook(h.ID)
		if !ok {
			parts = append(parts, "added "+describe(h))
			continue
		}
		var what []string
		if old.Name != h.Name {
			what = append(what, fmt.Sprintf("name %q → %q", old.Name, h.Name))
		}
		if old.URL != h.URL {
			what = append(what, "url "+store.MaskURL(old.URL)+" → "+store.MaskURL(h.URL))
		}
		if old.Kind != h.Kind {
			what = append(what, "kind "+old.Kind+" → "+h.Kind)
		}
		if !slices.Equal(old.Events, h.Events) {
			what = append(what, "events "+events(old.Events)+" → "+events(h.Events))
		}
		if old.Enabled != h.Enabled {
			what = append(what, fmt.Sprintf("enabled %t → %t", old.Enabled, h.Enabled))
		}
		if len(what) > 0 {
			parts = append(parts, fmt.Sprintf("changed %q: %s", h.Name, strings.Join(what, ", ")))
		}
	}
	for _, h := range before.Hooks {
		if _, ok := after.Hook(h.ID); !ok {
			parts = append(parts, "removed "+describe(h))
		}
	}
	if before.BaseURL != after.BaseURL {
		parts = append(parts, "baseUrl "+maskOrNone(before.BaseURL)+" → "+maskOrNone(after.BaseURL))
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

func maskOrNone(u string) string {
	if u == "" {
		return "none"
	}
	return store.MaskURL(u)
}

func events(es []string) string {
	if len(es) == 0 {
		return "none"
	}
	return strings.Join(es, ",")
}

// webhookTestBody names a saved webhook by id, or gives an unsaved one (name, url, kind).
type webhookTestBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
	Kind string `json:"kind"`
}

// webhookTestTimeout bounds the test request, within the server's write timeout.
const webhookTestTimeout = 12 * time.Second

func (s *Server) handleWebhookTest(c *fiber.Ctx) error {
	var b webhookTestBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	var h store.Webhook
	switch {
	case b.URL != "":
		h = store.Webhook{ID: b.ID, Name: b.Name, URL: b.URL, Kind: b.Kind, Enabled: true}
		if h.Name == "" {
			h.Name = "test"
		}
		if err := store.ValidateWebhook("", &h); err != nil {
			return err
		}
	case b.ID != "":
		w, err := s.store.Webhooks()
		if err != nil {
			return err
		}
		var ok bool
		if h, ok = w.Hook(b.ID); !ok {
			return errorf(fiber.StatusNotFound, "not_found", "id", "no webhook with this id")
		}
	default:
		return errorf(fiber.StatusUnprocessableEntity, "invalid_value", "id", "give the id of a saved webhook, or its url and kind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhookTestTimeout)
	defer cancel()
	d, err := s.notifier.Test(ctx, h)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("%s %s: %s", h.Kind, store.MaskURL(h.URL), d.Status)
	if d.LastError != "" {
		detail += " (" + d.LastError + ")"
	}
	s.audit(c, store.AuditEvent{Type: auditWebhookTested, Target: h.Name, Detail: detail})
	return c.JSON(d)
}

func (s *Server) handleWebhookDeliveries(c *fiber.Ctx) error {
	limit, err := queryInt(c, "limit", 100, 1, store.MaxDeliveries)
	if err != nil {
		return err
	}
	ds, err := s.store.Deliveries(int(limit))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"deliveries": ds})
}
