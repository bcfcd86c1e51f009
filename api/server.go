// Package api is partnerops' HTTP API (Gin, JSON, under /v1). One file per
// resource; the shared mechanics (auth, errors, strict binding, idempotency,
// limits, pagination) live beside them and every handler uses them.
package api

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/domain"
	"github.com/partnerops/partnerops/workflows"
)

// Config holds the API's limits and network settings.
type Config struct {
	MaxBodyBytes int64
	// DecisionWait bounds how long a decision waits for its workflow's outcome
	// before answering 202 (pending); below RequestTimeout.
	DecisionWait time.Duration
	// AcceptWait bounds how long a decision waits for Temporal to accept its
	// Update (the workflow's validator ran): past it, or when the server cannot be
	// reached, nothing happened and the answer is 503 with Retry-After.
	AcceptWait     time.Duration
	MaxPageSize    int
	RequestTimeout time.Duration
	// Version is the build (/healthz says it).
	Version string
	// Postbacks are recorded by ConversionWriters writers in batches of at most
	// ConversionBatch (one transaction each); keep the writers below the pool size.
	ConversionWriters int
	ConversionBatch   int
	RateLimit         float64 // requests per second per API key (or client address); 0 disables
	RateBurst         int
	// AuthFailuresPerMinute: failed authentications allowed (a burst of as many)
	// per address for unknown keys and per key id for wrong secrets, before
	// further failures are answered 429; a valid key always passes. 0 disables.
	AuthFailuresPerMinute int
	// WebhookAllowPrivate accepts http and private addresses as webhook endpoints
	// (make run's demo mode, tests).
	WebhookAllowPrivate bool
	TrustedProxies      []string // only these may set X-Forwarded-For
	FilesDir            string   // where uploaded proof files are kept
	MaxFileBytes        int64    // largest proof file
	Click               ClickConfig
	// PaymentsWebhookSecret verifies the payment provider's confirmations.
	PaymentsWebhookSecret []byte
	// Tracer, when set, traces every request (but clicks) as a server span that
	// continues the caller's W3C traceparent; the Temporal client's tracing
	// interceptor carries it into workflows and activities.
	Tracer trace.Tracer
	// Registry is what /metrics serves; the process's other metrics (the worker's
	// pool, the Temporal SDK's) may be registered on it too. Nil: a new one.
	Registry *prometheus.Registry
	Portal   PortalConfig
}

func DefaultConfig() Config {
	return Config{MaxBodyBytes: 1 << 20, MaxPageSize: 200, RequestTimeout: 15 * time.Second, ConversionWriters: 1, ConversionBatch: 128, DecisionWait: 10 * time.Second, AcceptWait: 4 * time.Second, RateLimit: 50, RateBurst: 100, AuthFailuresPerMinute: 20,
		FilesDir: ".data/files", MaxFileBytes: 10 << 20, Click: DefaultClickConfig(), Portal: DefaultPortalConfig()}
}

type Server struct {
	cfg      Config
	store    *db.Store
	temporal client.Client
	logger   *slog.Logger
	limiter  *limiter
	// authFailures counts failed authentications per address and per key id (AuthFailuresPerMinute).
	authFailures *limiter
	engine       *gin.Engine
	routes       []Route
	// routeHandlers: every API route by "METHOD /v1/path/:id", for the portal.
	routeHandlers map[string]Route
	pages         []PortalPage
	templates     map[string]*template.Template
	files         FileStore
	registry      *prometheus.Registry
	ingest        *activities.Ingest // the conversion pipeline
	conversions   *conversionQueue   // postbacks recorded in batches
	httpMetrics   *httpMetrics
	clicker       *Clicker
	refunds       *ttlCache[uuid.UUID, db.PartnerRefundStatsRow]
	// Short-lived caches for the conversion path (a change shows within seconds).
	programs *ttlCache[uuid.UUID, db.Program]
	rules    *ttlCache[uuid.UUID, []domain.CommissionRule]
	partners *ttlCache[uuid.UUID, db.Partner]
	keys     *ttlCache[string, db.APIKey] // by prefix; a revocation shows within 10 s
	// draining: the process is stopping; /readyz answers 503 so the balancer
	// sends nothing new while requests in flight finish.
	draining atomic.Bool
}

// Drain makes /readyz answer 503 from now on; the process keeps serving what
// still arrives (a balancer notices after its next checks).
func (s *Server) Drain() { s.draining.Store(true) }

// New builds the API. With a store and a click token key it also starts the
// click path (link cache and click writer); Close stops it.
func New(cfg Config, store *db.Store, tc client.Client, logger *slog.Logger) (*Server, error) {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, store: store, temporal: tc, logger: logger, limiter: newLimiter(cfg.RateLimit, cfg.RateBurst), engine: gin.New(),
		authFailures: newLimiter(float64(cfg.AuthFailuresPerMinute)/60, cfg.AuthFailuresPerMinute),
		files:        DiskStore{Dir: cfg.FilesDir}, registry: cfg.Registry,
		programs: newTTLCache[uuid.UUID, db.Program](5 * time.Second), rules: newTTLCache[uuid.UUID, []domain.CommissionRule](5 * time.Second),
		partners: newTTLCache[uuid.UUID, db.Partner](5 * time.Second), keys: newTTLCache[string, db.APIKey](10 * time.Second),
		refunds: newTTLCache[uuid.UUID, db.PartnerRefundStatsRow](time.Minute)}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.httpMetrics = newHTTPMetrics(s.registry)
	if store != nil {
		s.registry.MustRegister(NewPoolCollector(store.Pool, "api"), businessCollector{store: store})
	}
	if store != nil && len(cfg.Click.TokenKey) > 0 {
		k, err := NewClicker(context.Background(), cfg.Click, store, logger, s.registry)
		if err != nil {
			return nil, fmt.Errorf("start the click path: %w", err)
		}
		s.clicker = k
	}
	s.ingest = s.newIngest()
	s.conversions = newConversionQueue(store, s.ingest, cfg.ConversionWriters, cfg.ConversionBatch, cfg.RequestTimeout, s.registry)
	if err := s.engine.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	s.engine.HandleMethodNotAllowed = true
	// The hot path, registered before the middleware so that it runs none of it
	// but recover: a click never waits (no deadline), is counted by its own
	// metrics, and gets no request id, trace span or log line.
	s.handle(s.engine, http.MethodGet, clickRoute, anyone, s.click)
	s.engine.Use(s.recover, withRequestID, s.trace, s.measure, s.logRequests, s.deadline, s.cleanParams)
	s.engine.NoRoute(func(c *gin.Context) {
		s.abort(c, newHTTPError(http.StatusNotFound, "not_found", "no such endpoint", ""))
	})
	s.engine.NoMethod(func(c *gin.Context) {
		s.abort(c, newHTTPError(http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint does not take "+c.Request.Method, ""))
	})
	s.register()
	var err error
	if s.templates, err = loadTemplates(); err != nil {
		return nil, fmt.Errorf("portal templates: %w", err)
	}
	s.registerPortal()
	return s, nil
}

func (s *Server) Handler() http.Handler { return s.engine }

// Close flushes every accepted click; call it after the HTTP server has stopped.
func (s *Server) Close() {
	if s.clicker != nil {
		s.clicker.Close()
	}
}

// Clicker is the click path (nil without a store or key).
func (s *Server) Clicker() *Clicker { return s.clicker }

// NewHTTPServer is the HTTP server the API is served by: a slow client cannot
// hold a connection for ever (headers within 5 s, a body within 30 s), and an
// answer may take the request timeout and 5 s more. clickbench serves both the
// click path and its bare baseline with it.
func NewHTTPServer(h http.Handler, requestTimeout time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: requestTimeout + 5*time.Second, IdleTimeout: 2 * time.Minute}
}

func (s *Server) click(c *gin.Context) {
	defer s.recoverPanic(c)
	if s.clicker == nil {
		s.abort(c, newHTTPError(http.StatusServiceUnavailable, "unavailable", "click tracking is not configured", ""))
		return
	}
	s.clicker.Handle(c)
}

// MetricsHandler serves the registry for Prometheus. It is not on the API's
// public port: the process serves it on its own listener (METRICS_ADDR).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// register declares every route with the roles that may call it.
func (s *Server) register() {
	e := s.engine
	s.handle(e, http.MethodGet, "/healthz", anyone, s.healthz)
	s.handle(e, http.MethodGet, "/readyz", anyone, s.readyz)
	s.handle(e, http.MethodGet, "/openapi.json", anyone, serveOpenAPIJSON)
	s.handle(e, http.MethodGet, "/openapi.yaml", anyone, serveOpenAPIYAML)
	s.handle(e, http.MethodGet, "/t.js", anyone, serveSnippet)

	v1 := e.Group("/v1")
	s.handle(v1, http.MethodPost, "/programs", admins, s.createProgram)
	s.handle(v1, http.MethodGet, "/programs", staff, s.listPrograms)
	s.handle(v1, http.MethodGet, "/programs/:id", staff, s.getProgram)
	s.handle(v1, http.MethodPost, "/programs/:id/tiers", admins, s.createTier)

	s.handle(v1, http.MethodPost, "/applications", anyone, s.createApplication)
	s.handle(v1, http.MethodGet, "/applications", staff, s.listApplications)
	s.handle(v1, http.MethodGet, "/partners", staff, s.listPartners)
	s.handle(v1, http.MethodGet, "/partners/:id", staffAndOwn, s.getPartner)
	s.handle(v1, http.MethodPost, "/partners/:id/approve", managers, s.approvePartner)
	s.handle(v1, http.MethodPost, "/partners/:id/reject", managers, s.rejectPartner)
	s.handle(v1, http.MethodPost, "/partners/:id/certifications", managers, s.recordCertification)
	s.handle(v1, http.MethodPut, "/partners/:id/tier", adminOrManager, s.setPartnerTier)
	s.handle(v1, http.MethodGet, "/me", partners, s.getMe)
	s.handle(v1, http.MethodPost, "/me/agreement", partners, s.acceptAgreement)
	s.handle(v1, http.MethodPut, "/me/payout-details", partners, s.setPayoutDetails)
	s.handle(v1, http.MethodGet, "/me/payout-details", partners, s.getPayoutDetails)
	s.handle(v1, http.MethodPost, "/partners/:id/payout-details/confirm", financeOnly, s.confirmPayoutDetails)

	s.handle(v1, http.MethodPost, "/customers", admins, s.loadCustomers)
	s.handle(v1, http.MethodPost, "/deals", partners, s.createDeal)
	s.handle(v1, http.MethodGet, "/deals", staffAndOwn, s.listDeals)
	s.handle(v1, http.MethodGet, "/deals/:id", staffAndOwn, s.getDeal)
	s.handle(v1, http.MethodPost, "/deals/:id/approve", managers, s.approveDeal)
	s.handle(v1, http.MethodPost, "/deals/:id/reject", managers, s.rejectDeal)
	s.handle(v1, http.MethodPost, "/deals/:id/extension", partners, s.requestExtension)
	s.handle(v1, http.MethodPost, "/deals/:id/extension/approve", managers, s.approveExtension)
	s.handle(v1, http.MethodPost, "/deals/:id/extension/reject", managers, s.rejectExtension)
	s.handle(v1, http.MethodPost, "/deals/:id/stage", partnerOrManager, s.setDealStage)
	s.handle(v1, http.MethodPost, "/deals/:id/won", partnerOrManager, s.winDeal)
	s.handle(v1, http.MethodPost, "/deals/:id/won/confirm", managers, s.confirmWon)
	s.handle(v1, http.MethodPost, "/deals/:id/won/reject", managers, s.rejectWon)
	s.handle(v1, http.MethodPost, "/deals/:id/reverse-margin", managers, s.reverseMargin)
	s.handle(v1, http.MethodPost, "/deals/:id/lost", partnerOrManager, s.loseDeal)
	s.handle(v1, http.MethodGet, "/reports/pipeline", staff, s.pipeline)

	s.handle(v1, http.MethodPost, "/mdf/allocations", managers, s.createAllocation)
	s.handle(v1, http.MethodPost, "/mdf/allocations/tier-defaults", managers, s.applyTierDefaults)
	s.handle(v1, http.MethodGet, "/mdf/balance", staffAndOwn, s.getBalance)
	s.handle(v1, http.MethodPost, "/mdf/requests", partners, s.createMDFRequest)
	s.handle(v1, http.MethodGet, "/mdf/requests", staffAndOwn, s.listMDFRequests)
	s.handle(v1, http.MethodGet, "/mdf/requests/:id", staffAndOwn, s.getMDFRequest)
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/approve", managers, s.mdfDecision(workflows.MDFApprove))
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/reject", managers, s.mdfDecision(workflows.MDFReject))
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/withdraw", partners, s.mdfDecision(workflows.MDFWithdraw))
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/claim", partners, s.claimMDF)
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/claim/approve", managers, s.mdfDecision(workflows.MDFApproveClaim))
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/claim/reject", managers, s.mdfDecision(workflows.MDFRejectClaim))
	s.handle(v1, http.MethodPost, "/mdf/requests/:id/claim/request-proof", managers, s.mdfDecision(workflows.MDFRequestProof))
	s.handle(v1, http.MethodGet, "/mdf/requests/:id/files/:file_id", staffAndOwn, s.downloadMDFFile)
	s.handle(v1, http.MethodGet, "/reports/mdf", staff, s.mdfReport)

	s.handle(v1, http.MethodPut, "/programs/:id/affiliate", admins, s.setAffiliateSettings)
	s.handle(v1, http.MethodPost, "/programs/:id/signing-secrets", admins, s.addSigningSecret)
	s.handle(v1, http.MethodPost, "/commission-rules", admins, s.createRule)
	s.handle(v1, http.MethodGet, "/commission-rules", staff, s.listRules)
	s.handle(v1, http.MethodPost, "/links", partners, s.createLink)
	s.handle(v1, http.MethodGet, "/links", staffAndOwn, s.listLinks)
	s.handle(v1, http.MethodDelete, "/links/:id", partnerOrManager, s.disableLink)
	s.handle(v1, http.MethodPost, "/coupons", managers, s.createCoupon)
	// Conversions authenticate themselves: an integration key or an HMAC signature.
	s.handle(v1, http.MethodPost, "/conversions", integrationOrSigned, s.createConversion)
	s.handle(v1, http.MethodGet, "/conversions", staffAndOwn, s.listConversions)
	s.handle(v1, http.MethodGet, "/conversions/:id", staffAndOwn, s.getConversion)
	s.handle(v1, http.MethodPost, "/conversions/:id/approve", managers, s.reviewConversion(workflows.ReviewApprove))
	s.handle(v1, http.MethodPost, "/conversions/:id/reject", managers, s.reviewConversion(workflows.ReviewReject))
	s.handle(v1, http.MethodGet, "/reports/affiliate", staffAndOwn, s.affiliateReport)

	s.handle(v1, http.MethodPut, "/programs/:id/payouts", admins, s.setPayoutSettings)
	s.handle(v1, http.MethodPut, "/programs/:id/deals", admins, s.setDealSettings)
	s.handle(v1, http.MethodPut, "/programs/:id/mdf", admins, s.setMDFSettings)
	s.handle(v1, http.MethodPost, "/closes", financeOnly, s.startClose)
	s.handle(v1, http.MethodGet, "/closes/:id", financeAndAdmin, s.getClose)
	s.handle(v1, http.MethodPost, "/closes/:id/adjustments", financeOnly, s.addAdjustment)
	s.handle(v1, http.MethodPost, "/closes/:id/approve", financeOnly, s.approveClose)
	s.handle(v1, http.MethodGet, "/closes/:id/recompute", financeAndAdmin, s.recomputeClose)
	s.handle(v1, http.MethodGet, "/closes/:id/statements.csv", financeAndAdmin, s.exportStatements)
	s.handle(v1, http.MethodGet, "/statements", financeOrPartner, s.statements)
	s.handle(v1, http.MethodGet, "/statements.csv", financeOrPartner, s.statementsCSV)
	s.handle(v1, http.MethodPost, "/payouts/:id/retry", financeOnly, s.retryPayout)
	s.handle(v1, http.MethodPost, "/payouts/:id/mark-paid", financeOnly, s.markPayout(workflows.PayoutMarkPaid))
	s.handle(v1, http.MethodPost, "/payouts/:id/mark-failed", financeOnly, s.markPayout(workflows.PayoutMarkFailed))
	// The payment provider's confirmations: verified by HMAC signature, not by key.
	s.handle(v1, http.MethodPost, "/webhooks/payments", signedWebhook, s.paymentsWebhook)

	s.handle(v1, http.MethodPost, "/keys", admins, s.createKey)
	s.handle(v1, http.MethodDelete, "/keys/:id", admins, s.revokeKey)
	s.handle(v1, http.MethodGet, "/audit", admins, s.listAudit)
	s.handle(v1, http.MethodPost, "/users", admins, s.createUser)
	s.handle(v1, http.MethodGet, "/users", admins, s.listUsers)
	s.handle(v1, http.MethodDelete, "/users/:id", admins, s.disableUser)
	s.handle(v1, http.MethodGet, "/me/notifications", partners, s.listMyNotifications)
	s.handle(v1, http.MethodGet, "/me/notification-preferences", partners, s.getNotificationPreferences)
	s.handle(v1, http.MethodPut, "/me/notification-preferences", partners, s.setNotificationPreferences)
	s.handle(v1, http.MethodGet, "/notifications", staff, s.listNotifications)
	s.handle(v1, http.MethodPost, "/webhook-endpoints", adminOrPartner, s.createWebhookEndpoint)
	s.handle(v1, http.MethodGet, "/webhook-endpoints", adminOrPartner, s.listWebhookEndpoints)
	s.handle(v1, http.MethodDelete, "/webhook-endpoints/:id", adminOrPartner, s.deleteWebhookEndpoint)
	s.handle(v1, http.MethodPost, "/webhook-endpoints/:id/secrets", adminOrPartner, s.rotateWebhookSecret)
	s.handle(v1, http.MethodGet, "/webhook-endpoints/:id/deliveries", adminOrPartner, s.listWebhookDeliveries)
	s.handle(v1, http.MethodPost, "/webhook-deliveries/:id/replay", adminOrPartner, s.replayWebhookDelivery)
}

// recover turns a panic into the JSON 500 shape, logged with the stack.
func (s *Server) recover(c *gin.Context) {
	defer s.recoverPanic(c)
	c.Next()
}

// recoverPanic, deferred, answers a panic with a logged 500.
func (s *Server) recoverPanic(c *gin.Context) {
	if r := recover(); r != nil {
		s.logger.ErrorContext(c.Request.Context(), "panic", "panic", r, "path", c.Request.URL.Path)
		c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorBody{Error: ErrorDetail{Code: "internal", Message: "internal error"}})
	}
}

// clickRoute is the hot path: it runs outside the middleware (New).
const clickRoute = "/c/:code"

// cleanParams refuses NUL bytes and invalid UTF-8 in the path and the query string
// before any handler sees them (PostgreSQL text cannot hold them).
func (s *Server) cleanParams(c *gin.Context) {
	for _, p := range c.Params {
		if !cleanText(p.Value) {
			s.abort(c, newHTTPError(http.StatusBadRequest, "invalid_text", "the path holds a NUL byte or invalid UTF-8", p.Key))
			return
		}
	}
	for name, values := range c.Request.URL.Query() {
		for _, v := range values {
			if !cleanText(name) || !cleanText(v) {
				s.abort(c, newHTTPError(http.StatusBadRequest, "invalid_text", "query parameter "+name+" holds a NUL byte or invalid UTF-8", name))
				return
			}
		}
	}
	c.Next()
}

// logRequests writes one line a request: the route template (not the path, which
// carries ids), the status and its level, the duration in milliseconds; the
// trace and span id come from the context (ContextHandler).
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route, status := c.FullPath(), c.Writer.Status()
	if route == "" {
		route = "unmatched"
	}
	s.logger.LogAttrs(c.Request.Context(), requestLevel(status), "request",
		slog.String("method", c.Request.Method), slog.String("route", route),
		slog.Int("status", status), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("client", c.ClientIP()), slog.String("request_id", requestID(c)))
}

// deadline bounds every request's work (database and Temporal calls).
func (s *Server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": s.cfg.Version})
}

// readyz answers 200 only when PostgreSQL and Temporal both answer.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	status := http.StatusOK
	if s.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining", "checks": gin.H{"process": "stopping"}})
		return
	}
	if err := s.store.Pool.Ping(ctx); err != nil {
		checks["postgres"], status = err.Error(), http.StatusServiceUnavailable
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], status = err.Error(), http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"status": map[bool]string{true: "ready", false: "not ready"}[status == http.StatusOK], "checks": checks})
}
