package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"projectboard/server/hub"
	"projectboard/store"
)

// metrics are the server's Prometheus series, in a registry of its own (no globals).
type metrics struct {
	reg           *prometheus.Registry
	forwarded     prometheus.Counter // on a cluster only
	commits       prometheus.Counter
	commitErrors  prometheus.Counter
	commitTime    prometheus.Histogram
	batchSize     prometheus.Histogram
	delivery      prometheus.Histogram
	writeFailures prometheus.Counter
	requests      *prometheus.CounterVec
	logins        *prometheus.CounterVec
	// warningChanges counts projects whose warning the clock changed (not an edit).
	warningChanges prometheus.Counter
}

func newMetrics(h *hub.Hub, st *store.Store, advertise string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "projectboard_commits_total",
			Help: "Edits committed to the database."}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "projectboard_commit_errors_total",
			Help: "Transactions that failed to commit (the edits got 503)."}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "projectboard_commit_seconds",
			Help: "Time of one writer transaction, fsyncs included.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "projectboard_commit_batch_edits",
			Help: "Edits per writer transaction (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 11)}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "projectboard_delivery_seconds",
			Help: "From a change's commit to its write on one screen's socket.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "projectboard_screen_write_failures_total",
			Help: "Live connections dropped because a write failed or timed out (a screen that stopped reading)."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projectboard_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projectboard_logins_total",
			Help: "Login attempts by result: ok, failed (wrong password or name), error (not checked), " +
				"or refused by the account, address or busy limit before any hash."}, []string{"result"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Name: "projectboard_cluster_forwarded_total",
			Help: "Write requests this instance forwarded to the cluster's preferred writer."}),
		warningChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "projectboard_warning_changes_total",
			Help: "Projects whose warning changed when the clock re-evaluated them (a month boundary, a deadline)."}),
	}
	m.reg.MustRegister(m.warningChanges, m.commits, m.commitErrors, m.commitTime, m.batchSize, m.delivery, m.writeFailures, m.requests, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_screens",
			Help: "Open live connections."}, func() float64 { return float64(h.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "projectboard_deliveries_total",
			Help: "Change messages written to live connections."}, func() float64 { return float64(h.Stats().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "projectboard_screen_drops_total",
			Help: "Live connections dropped because their queue was full (close 4008)."},
			func() float64 { return float64(h.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "projectboard_screen_backlogs_total",
			Help: "Times a screen's socket was full, so that its messages queued for a writer of its own."},
			func() float64 { return float64(h.Stats().Backlogs) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_revision",
			Help: "The last committed revision."}, func() float64 { return float64(st.Rev()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "projectboard_password_checks_total",
			Help: "Passwords checked at login (each one argon2id hash)."}, func() float64 { return float64(st.PasswordChecks()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_projects",
			Help: "Projects in the register."}, func() float64 { return float64(st.Len()) }),
	)
	if st.Clustered() {
		m.reg.MustRegister(m.forwarded,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_cluster_applied_entry",
				Help: "The last entry of the cluster's log this instance's view has applied."},
				func() float64 { return float64(st.Applied()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "projectboard_cluster_conflicts_total",
				Help: "Writes staged again because another instance's entries reached the log first."},
				func() float64 { return float64(st.Conflicts()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_cluster_base_entry",
				Help: "The entry the newest base this instance knows of includes: the log in etcd keeps the entries after the base before it."},
				func() float64 { return float64(st.Base().Entry) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_cluster_appends_to_leader",
				Help: "1 while this instance's appends go straight to etcd's leader, 0 while they go through the client's balancer (no leader found among the endpoints, or just lost)."},
				func() float64 {
					if st.AppendsToLeader() != "" {
						return 1
					}
					return 0
				}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "projectboard_cluster_reloads_total",
				Help: "Times this instance, running, loaded a newer base because the entries it needed were pruned."},
				func() float64 { return float64(st.Reloads()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "projectboard_cluster_writer",
				Help: "1 while this instance is the cluster's preferred writer."},
				func() float64 {
					if w := st.Writer(); w != "" && w == advertise {
						return 1
					}
					return 0
				}),
		)
	}
	return m
}

func (m *metrics) observeCommit(c store.CommitStats) {
	m.commitTime.Observe(c.Duration.Seconds())
	m.batchSize.Observe(float64(c.Edits))
	if c.Err != nil {
		m.commitErrors.Inc()
		return
	}
	m.commits.Add(float64(c.Edits))
}

func (m *metrics) observeDelivery(at time.Time) {
	if !at.IsZero() {
		m.delivery.Observe(time.Since(at).Seconds())
	}
}

// countRequests labels each request by its route pattern, never the raw path, so the
// series stay few.
func (m *metrics) countRequests(c *fiber.Ctx) error {
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status = toAPIError(err).Status
	}
	route := c.Route().Path
	if route == "/" || route == "" {
		route = "static"
	}
	m.requests.WithLabelValues(route, c.Method(), strconv.Itoa(status)).Inc()
	return err
}

// Handler serves the Prometheus text format.
func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// MetricsApp is a separate app that serves /metrics without login, for --metrics-addr.
func (s *Server) MetricsApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second})
	app.Get("/metrics", s.metrics.handler())
	return app
}
