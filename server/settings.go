package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

// The warning rules (预警规则), edited on the admin settings page: a change re-evaluates every
// project in the same transaction and reaches every screen through the feed.

func (s *Server) handleWarningRulesGet(c *fiber.Ctx) error {
	r := s.store.WarningRules()
	c.Set(fiber.HeaderETag, etag(r.Version))
	return c.JSON(r)
}

// rulesReadOnly are the fields of WarningRules a PUT may send back as it read them; they are
// ignored (the version is If-Match's).
var rulesReadOnly = []string{"version", "updatedAt", "updatedBy"}

// rulesRequired is every threshold and switch of the rules: a PUT gives them all.
var rulesRequired = leafPaths(reflect.TypeFor[store.WarningRules](), "", rulesReadOnly)

// leafPaths lists the JSON paths of a struct type's non-struct fields ("notStarted.redMonths").
func leafPaths(t reflect.Type, prefix string, skip []string) []string {
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			out = append(out, leafPaths(sf.Type, prefix, skip)...)
			continue
		}
		if name == "" || name == "-" || slices.Contains(skip, name) {
			continue
		}
		if sf.Type.Kind() == reflect.Struct {
			out = append(out, leafPaths(sf.Type, joinPath(prefix, name), skip)...)
			continue
		}
		out = append(out, joinPath(prefix, name))
	}
	return out
}

func (s *Server) handleWarningRulesPut(c *fiber.Ctx) error {
	version, err := ifMatchVersion(c, true)
	if err != nil {
		return err
	}
	var r store.WarningRules
	present, err := decodeBody(c, &r, false)
	if err != nil {
		return err
	}
	if err := present.require("", rulesRequired...); err != nil {
		return err
	}
	r.Version, r.UpdatedAt, r.UpdatedBy = 0, nil, ""
	before := s.store.WarningRules()
	a := currentActor(c)
	out, err := s.store.SetWarningRules(r, version, a.Name())
	if err != nil {
		return err
	}
	if out.Version != before.Version {
		s.audit(c, store.AuditEvent{Type: auditSettingsChanged, Target: "warnings", Detail: rulesDiff(before, out)})
	}
	c.Set(fiber.HeaderETag, etag(out.Version))
	return c.JSON(out)
}

// rulesDiff says which thresholds changed, "investmentPace.redPoints 30 → 40; …", for the
// audit log.
func rulesDiff(before, after store.WarningRules) string {
	a, b := flatten(before), flatten(after)
	var parts []string
	for _, p := range rulesRequired {
		if a[p] != b[p] {
			parts = append(parts, fmt.Sprintf("%s %s → %s", p, a[p], b[p]))
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

// flatten gives the rules' leaf values by path, as JSON text.
func flatten(r store.WarningRules) map[string]string {
	out := map[string]string{}
	data, _ := json.Marshal(r)
	var tree map[string]any
	_ = json.Unmarshal(data, &tree)
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				walk(joinPath(prefix, k), x)
			}
			return
		}
		text, _ := json.Marshal(v)
		out[prefix] = string(text)
	}
	walk("", tree)
	return out
}
