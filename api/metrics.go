package api

import (
	"context"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
)

// httpMetrics are the RED metrics per route: rate and errors by status code,
// duration as a histogram. The route label is the route's pattern
// (/v1/deals/:id), never the raw path, so its cardinality is bounded.
type httpMetrics struct {
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	decisions *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "partnerops_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code."}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "partnerops_http_request_duration_seconds",
			Help: "HTTP request duration, by method and route pattern.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}},
			[]string{"method", "route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "partnerops_decisions_total",
			Help: "Decisions sent to workflows, by record, decision and outcome (applied, refused, pending, failed)."}, []string{"record", "decision", "outcome"}),
	}
	reg.MustRegister(m.requests, m.durations, m.decisions)
	return m
}

// measure is the middleware; the click path has its own counters and skips it.
func (s *Server) measure(c *gin.Context) {
	route := c.FullPath()
	start := time.Now()
	c.Next()
	if route == "" {
		route = "unmatched"
	}
	s.httpMetrics.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
	s.httpMetrics.durations.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
}

// PoolCollector exports a pgx pool's statistics under a pool label (api, worker).
type PoolCollector struct {
	pool *pgxpool.Pool
	name string
}

func NewPoolCollector(pool *pgxpool.Pool, name string) *PoolCollector {
	return &PoolCollector{pool: pool, name: name}
}

var (
	poolConns    = prometheus.NewDesc("partnerops_db_pool_connections", "Connections in the pool, by state (acquired, idle, constructing) and the maximum (max).", []string{"pool", "state"}, nil)
	poolAcquires = prometheus.NewDesc("partnerops_db_pool_acquires_total", "Connections acquired from the pool.", []string{"pool"}, nil)
	poolWaits    = prometheus.NewDesc("partnerops_db_pool_empty_acquires_total", "Acquires that had to wait because the pool was empty.", []string{"pool"}, nil)
	poolWaited   = prometheus.NewDesc("partnerops_db_pool_acquire_wait_seconds_total", "Time spent waiting to acquire connections.", []string{"pool"}, nil)
	poolCanceled = prometheus.NewDesc("partnerops_db_pool_canceled_acquires_total", "Acquires canceled by their context (a deadline while the pool was empty).", []string{"pool"}, nil)
)

// Describe describes nothing: an unchecked collector, so the API's and the
// worker's pools can both be registered in one process (their series differ by
// the pool label).
func (p *PoolCollector) Describe(chan<- *prometheus.Desc) {}

func (p *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(st.AcquiredConns()), p.name, "acquired")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(st.IdleConns()), p.name, "idle")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(st.ConstructingConns()), p.name, "constructing")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(st.MaxConns()), p.name, "max")
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()), p.name)
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()), p.name)
	ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, st.EmptyAcquireWaitTime().Seconds(), p.name)
	ch <- prometheus.MustNewConstMetric(poolCanceled, prometheus.CounterValue, float64(st.CanceledAcquireCount()), p.name)
}

// businessCollector reads business state from PostgreSQL at scrape time, so
// every API replica reports the same truth: payouts by status, closes by status
// and how long the oldest has been in it, notifications waiting in the outbox.
type businessCollector struct{ store *db.Store }

var (
	payoutsByStatus = prometheus.NewDesc("partnerops_payouts", "Payouts by status.", []string{"status"}, nil)
	closesByStatus  = prometheus.NewDesc("partnerops_closes", "Monthly closes by status.", []string{"status"}, nil)
	closeOldest     = prometheus.NewDesc("partnerops_close_oldest_age_seconds", "Age of the oldest close in a status (computing or paying for long: stuck).", []string{"status"}, nil)
	outbox          = prometheus.NewDesc("partnerops_notifications_pending", "Notifications written to the outbox.", nil, nil)
	webhooks        = prometheus.NewDesc("partnerops_webhook_deliveries", "Webhook deliveries by status (pending: being retried).", []string{"status"}, nil)
	startsUnmade    = prometheus.NewDesc("partnerops_workflow_starts_unmade", "Workflow starts recorded with their records and not made yet (the workers' sweep makes them).", nil, nil)
	startsOldest    = prometheus.NewDesc("partnerops_workflow_starts_unmade_oldest_age_seconds", "Age of the oldest workflow start not made yet (growing: Temporal or every worker is away).", nil, nil)
)

func (b businessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- payoutsByStatus
	ch <- closesByStatus
	ch <- closeOldest
	ch <- outbox
	ch <- webhooks
	ch <- startsUnmade
	ch <- startsOldest
}

func (b businessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Every status is reported, zero included, so alerts and dashboards see a series.
	if rows, err := b.store.PayoutCountsByStatus(ctx); err == nil {
		n := map[string]int64{domain.PayoutPending: 0, domain.PayoutHeld: 0, domain.PayoutSubmitted: 0, domain.PayoutPaid: 0, domain.PayoutFailed: 0}
		for _, r := range rows {
			n[r.Status] = r.N
		}
		for status, v := range n {
			ch <- prometheus.MustNewConstMetric(payoutsByStatus, prometheus.GaugeValue, float64(v), status)
		}
	}
	if rows, err := b.store.CloseCountsByStatus(ctx); err == nil {
		n, age := map[string]int64{domain.CloseComputing: 0, domain.CloseReview: 0, domain.ClosePaying: 0, domain.CloseCompleted: 0}, map[string]float64{}
		for _, r := range rows {
			n[r.Status], age[r.Status] = r.N, r.OldestAgeSeconds
		}
		for status, v := range n {
			ch <- prometheus.MustNewConstMetric(closesByStatus, prometheus.GaugeValue, float64(v), status)
			ch <- prometheus.MustNewConstMetric(closeOldest, prometheus.GaugeValue, age[status], status)
		}
	}
	if r, err := b.store.UnmadeWorkflowStarts(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(startsUnmade, prometheus.GaugeValue, float64(r.N))
		ch <- prometheus.MustNewConstMetric(startsOldest, prometheus.GaugeValue, r.OldestAgeSeconds)
	}
	if n, err := b.store.CountNotifications(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(outbox, prometheus.GaugeValue, float64(n))
	}
	if rows, err := b.store.WebhookDeliveryCountsByStatus(ctx); err == nil {
		n := map[string]int64{"pending": 0, "delivered": 0, "failed": 0}
		for _, r := range rows {
			n[r.Status] = r.N
		}
		for status, v := range n {
			ch <- prometheus.MustNewConstMetric(webhooks, prometheus.GaugeValue, float64(v), status)
		}
	}
}
