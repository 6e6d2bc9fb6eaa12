package server

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"mime"
	"path"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const notBuiltPage = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>Projectboard</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Projectboard</h1><p>The web UI is not built into this binary. Build it with <code>make build</code>
(or <code>make run</code>), which runs <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>.</p>
<p>The API (<code>/api</code>) and the live feed (<code>/ws</code>) work regardless; see <code>docs/api.md</code>.</p>`

// handleStatic serves the built UI: hashed assets with a year's cache, index.html never
// cached, and index.html for every other non-API path so the app's routes load directly.
func (s *Server) handleStatic(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return errorf(fiber.StatusMethodNotAllowed, "method_not_allowed", "", "method not allowed")
	}
	ui := s.cfg.UI
	if ui == nil {
		return s.sendNotBuilt(c)
	}
	// c.Path() is already percent-decoded once; any ".." segment left is refused rather than
	// cleaned, so no encoding of it can reach outside the UI.
	p := c.Path()
	if strings.Contains(p, "\\") || strings.Contains(p, "\x00") {
		return errorf(fiber.StatusBadRequest, "bad_request", "", "bad path")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || strings.Contains(seg, "%") {
			return errorf(fiber.StatusBadRequest, "bad_request", "", "bad path")
		}
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name != "" && name != "index.html" {
		if data, err := fs.ReadFile(ui, name); err == nil {
			if strings.HasPrefix(name, "assets/") {
				c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			} else {
				c.Set(fiber.HeaderCacheControl, "no-cache")
			}
			ct := mime.TypeByExtension(path.Ext(name))
			if ct == "" {
				ct = "application/octet-stream"
			}
			c.Set(fiber.HeaderContentType, ct)
			return s.sendMaybeGzip(c, name, data)
		}
		if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
			return errorf(fiber.StatusNotFound, "not_found", "", "no such file")
		}
	}
	index, err := fs.ReadFile(ui, "index.html")
	if err != nil {
		return s.sendNotBuilt(c)
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return s.sendMaybeGzip(c, "index.html", index)
}

// compressible are the types worth compressing; images other than SVG already are.
var compressible = map[string]bool{".js": true, ".css": true, ".html": true, ".svg": true, ".json": true,
	".txt": true, ".map": true, ".mjs": true}

// sendMaybeGzip sends a UI file gzip-compressed to clients that accept it. The embedded
// files never change while the binary runs, so each is compressed once and kept.
func (s *Server) sendMaybeGzip(c *fiber.Ctx, name string, data []byte) error {
	c.Vary(fiber.HeaderAcceptEncoding)
	if len(data) < 1024 || !compressible[path.Ext(name)] || !acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		return c.Send(data)
	}
	gz, ok := s.gzipped.Load(name)
	if !ok {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = w.Write(data)
		_ = w.Close()
		gz, _ = s.gzipped.LoadOrStore(name, buf.Bytes())
	}
	c.Set(fiber.HeaderContentEncoding, "gzip")
	return c.Send(gz.([]byte))
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a q-value above zero.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		enc = strings.TrimSpace(enc)
		if !strings.EqualFold(enc, "gzip") && enc != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}

func (s *Server) sendNotBuilt(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// The page has an inline style attribute only, which the policy allows.
	return c.Status(fiber.StatusOK).SendString(notBuiltPage)
}
