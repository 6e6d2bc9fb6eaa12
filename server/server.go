// Package server is Projectboard's HTTP API, live websocket feed and static UI, on Fiber.
package server

import (
	"context"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"projectboard/server/hub"
	"projectboard/server/notify"
	"projectboard/store"
)

// Config configures a Server. The zero value of each field means its documented default.
type Config struct {
	// Build identifies the running binary and UI; screens reload when it changes.
	Build string
	// UI is the built web UI; nil or one without index.html serves a "not built" page.
	UI fs.FS
	// AllowedOrigins are origins besides the server's own that may make changes and open
	// websockets, e.g. "https://board.example.org".
	AllowedOrigins []string
	// TrustedProxies are the addresses whose X-Forwarded-For and X-Forwarded-Proto are
	// believed; without them those headers are ignored.
	TrustedProxies []string
	// BodyLimit caps a request body (default 1 MiB).
	BodyLimit int
	// WSPerAddr caps open websockets per client address (default 5000).
	WSPerAddr int
	// WSQueue is how many messages a screen may fall behind before it is dropped (default 256).
	WSQueue int
	// PingInterval is the websocket ping period (default 25 s); a screen that does not answer
	// within PongWait (default 60 s) is dropped.
	PingInterval, PongWait time.Duration
	// Throttle limits password guessing (see loginThrottle; zero fields take the defaults).
	Throttle ThrottleConfig
	// Now gives the current time (default time.Now); tests move it.
	Now func() time.Time
	// ReadTimeout, WriteTimeout and IdleTimeout bound how long a client may take to send a
	// request, to read a response and to keep an idle connection (defaults 15 s, 15 s, 120 s),
	// so a slow client cannot hold connections forever.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// WarningEvery is how often the warnings are re-evaluated on the clock (default 30 s):
	// they change at a month boundary or a report deadline without any edit.
	WarningEvery time.Duration
	// Webhooks configure the reminders' notifier (zero fields: its defaults, the server's
	// clock and log).
	Webhooks notify.Options
	// AdvertiseURL is where the other instances of a cluster reach this one (forward.go);
	// empty on a single node.
	AdvertiseURL string
	// CutOffGrace is how long an instance of a cluster may be cut off from etcd's quorum
	// before it stops keeping screens live (cluster.go; default 5 s).
	CutOffGrace time.Duration
}

// Server is the Fiber app with its live hub.
type Server struct {
	cfg      Config
	store    *store.Store
	hub      *hub.Hub
	app      *fiber.App
	log      *slog.Logger
	feed     *feed
	throttle *loginThrottle
	proxies  proxySet         // the trusted proxies, parsed
	peers    *fasthttp.Client // forwards writes to the cluster's writer (forward.go)
	audits   auditThrottle
	imports  imports // dry runs waiting to be applied
	metrics  *metrics

	gzipped  sync.Map // UI file name → its gzip-compressed bytes
	wsWG     sync.WaitGroup
	stopping chan struct{}
	stopOnce sync.Once
	warnDone chan struct{} // closed when the warnings' clock has stopped
	notifier *notify.Notifier
}

// New builds the server on an open store and hooks the live feed to its commits.
func New(st *store.Store, cfg Config) *Server {
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.WSPerAddr == 0 {
		cfg.WSPerAddr = 5000
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 25 * time.Second
	}
	if cfg.PongWait == 0 {
		cfg.PongWait = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 15 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 15 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Build == "" {
		cfg.Build = "dev"
	}
	if cfg.CutOffGrace <= 0 {
		cfg.CutOffGrace = 5 * time.Second
	}
	if cfg.WarningEvery <= 0 {
		cfg.WarningEvery = 30 * time.Second
	}
	s := &Server{cfg: cfg, store: st, log: cfg.Logger,
		throttle: newLoginThrottle(cfg.Throttle, cfg.Now), proxies: parseProxies(cfg.TrustedProxies),
		peers: &fasthttp.Client{MaxConnsPerHost: 512, ReadTimeout: forwardTimeout, WriteTimeout: forwardTimeout,
			MaxIdleConnDuration: 5 * time.Second},
		stopping: make(chan struct{})}
	s.hub = hub.New(hub.Options{Queue: cfg.WSQueue, PingInterval: cfg.PingInterval,
		Delivered:   func(at time.Time) { s.metrics.observeDelivery(at) },
		WriteFailed: func() { s.metrics.writeFailures.Inc() }})
	s.feed = newFeed(st, s.hub)
	s.metrics = newMetrics(s.hub, st, cfg.AdvertiseURL)
	s.notifier = newNotifier(st, cfg)
	st.SetCommitHook(func(ev []store.Event) {
		s.feed.publish(ev)
		// On a cluster every instance publishes every change, and the one that committed it
		// sends its reminders: the clock's re-evaluation runs on every instance, but only one
		// instance's commit of a warning's move wins the log (the others find it made).
		if local := localEvents(ev); len(local) > 0 {
			s.notifier.Handle(local)
		}
	})
	st.SetCommitObserver(s.metrics.observeCommit)
	s.app = fiber.New(fiber.Config{
		Immutable:      true, // Fiber reuses request buffers; we keep strings past the handler
		BodyLimit:      cfg.BodyLimit,
		ReadTimeout:    cfg.ReadTimeout,
		WriteTimeout:   cfg.WriteTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		ReadBufferSize: 4096, // caps the request line and headers (431 beyond); a websocket keeps it for life
		ErrorHandler:   s.errorHandler,
		// fasthttp would parse a multipart body before any handler ran, so before the login
		// check; no route takes one as a form.
		DisablePreParseMultipartForm: true,
		DisableStartupMessage:        true,
		// Believe X-Forwarded-Proto from trusted proxies only. The client's address is ours to
		// work out (clientIP), so Fiber's ProxyHeader, which takes the raw header, is not set.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		AppName:                 "projectboard",
	})
	// Imports take files of up to 20 MB; every other request keeps the 1 MiB limit, refused on
	// the announced length before any of the body is read.
	s.app.Server().HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if isImportUpload(h) {
			return fasthttp.RequestConfig{MaxRequestBodySize: maxUpload}
		}
		return fasthttp.RequestConfig{}
	}
	s.routes()
	s.startWarnings()
	if st.Clustered() {
		go s.watchCutOff()
	}
	return s
}

// maxUpload is the largest file an import takes; the transport reads no more.
const maxUpload = 20 << 20

// isImportUpload reports whether a request is an import's file upload that presents a login
// (which the route then checks): only those may send more than BodyLimit.
func isImportUpload(h *fasthttp.RequestHeader) bool {
	if string(h.Method()) != fiber.MethodPost {
		return false
	}
	path, _, _ := strings.Cut(string(h.RequestURI()), "?")
	if path != "/api/imports" {
		return false
	}
	return len(h.Peek(fiber.HeaderAuthorization)) > 0 || len(h.Cookie(sessionCookie)) > 0
}

// App is the Fiber app, for tests (app.Test) and for Listen.
func (s *Server) App() *fiber.App { return s.app }

// Hub is the live hub.
func (s *Server) Hub() *hub.Hub { return s.hub }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.app.Listen(addr) }

// Shutdown closes every websocket with 1001 so screens reconnect at once, stops accepting,
// and waits up to the context's deadline for requests and sockets to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	// The warnings' clock stops first: its last run commits before the store closes.
	select {
	case <-s.warnDone:
	case <-ctx.Done():
	}
	// Stop accepting first, so that screens told to reconnect do not hammer this process.
	shut := make(chan error, 1)
	go func() { shut <- s.app.ShutdownWithContext(ctx) }()
	s.hub.Drop(func(hub.Meta) bool { return true }, hub.CodeGoingAway, "server restarting")
	done := make(chan struct{})
	go func() { s.wsWG.Wait(); close(done) }()
	select {
	case <-done:
		s.hub.Close()
	case <-ctx.Done():
	}
	err := <-shut
	s.notifier.Close() // after the last request: what it has not sent stays pending for the next start
	return err
}

// localEvents is the events of changes this instance committed (all of them on a single
// node), in order.
func localEvents(ev []store.Event) []store.Event {
	n := 0
	for i := range ev {
		if !ev[i].Remote {
			n++
		}
	}
	if n == len(ev) {
		return ev
	}
	out := make([]store.Event, 0, n)
	for i := range ev {
		if !ev[i].Remote {
			out = append(out, ev[i])
		}
	}
	return out
}
