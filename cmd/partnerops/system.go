package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/api"
	"github.com/partnerops/partnerops/db"
	"github.com/partnerops/partnerops/workflows"
	"github.com/prometheus/client_golang/prometheus"
)

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(api.ContextHandler{Handler: slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})})
}

// openStore connects a pool of maxConns to PostgreSQL, creating the database
// first if it is missing.
func openStore(ctx context.Context, url string, maxConns int) (*db.Store, error) {
	if err := db.EnsureDatabase(ctx, url); err != nil {
		return nil, err
	}
	var tracer pgx.QueryTracer
	if tracingOn() { // otherwise no tracer at all: not even a no-op span per query on the hot paths
		tracer = queryTracer(otel.GetTracerProvider())
	}
	pool, err := db.Open(ctx, url, int32(maxConns), tracer)
	if err != nil {
		return nil, err
	}
	return db.NewStore(pool), nil
}

func dialTemporal(ctx context.Context, address, namespace string, logger *slog.Logger, metrics client.MetricsHandler, interceptors ...interceptor.ClientInterceptor) (client.Client, error) {
	conn, err := temporalConnection()
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: tlog.NewStructuredLogger(logger.With("component", "temporal")),
		MetricsHandler: metrics, Interceptors: interceptors, ConnectionOptions: conn, Identity: processIdentity})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", address, err)
	}
	return c, nil
}

// ensureSearchAttributes registers the custom search attributes the workflows
// use, if the namespace lacks them.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range workflows.SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("register search attributes: %w", err)
	}
	return nil
}

// startSweepInterval: how often a worker makes the workflow starts left
// unmade (package starts), each at least starts.Grace old.
const startSweepInterval = 10 * time.Second

// startWorker runs every workflow and activity on the task queue until stopped.
func startWorker(c client.Client, store *db.Store, logger *slog.Logger, payments activities.Payments) (worker.Worker, error) {
	// Pollers scale with the server's backlog: a burst of decisions (each a few
	// workflow tasks and an activity) is not queued behind two fixed pollers.
	w := worker.New(c, workflows.TaskQueue, worker.Options{WorkerStopTimeout: 10 * time.Second,
		WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		ActivityTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		Interceptors:               []interceptor.WorkerInterceptor{activities.Interceptor()}})
	mailer, err := mailerFromEnv()
	if err != nil {
		return nil, err
	}
	workflows.Register(w, &activities.Activities{Store: store, Logger: logger, Payments: payments, Temporal: c, TaskQueue: workflows.TaskQueue,
		WebhookAllowPrivate: webhookAllowPrivate(), Mail: mailer, ClickRetentionMonths: clickRetentionMonths()})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	if err := ensureSchedules(context.Background(), c); err != nil {
		w.Stop()
		return nil, err
	}
	return w, nil
}

// ensureSchedules creates the Temporal Schedules the system runs on, if missing:
// the commission holding period sweep every 15 minutes.
func ensureSchedules(ctx context.Context, c client.Client) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   "commission-payable-sweep",
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 15 * time.Minute}}},
		Action: &client.ScheduleWorkflowAction{ID: "commission-payable-sweep", Workflow: workflows.CommissionPayableWorkflow,
			StaticSummary: "hourly: commission lines whose holding period passed become payable",
			TaskQueue:     workflows.TaskQueue},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the commission schedule: %w", err)
	}
	// Daily at 02:00 UTC: start the monthly close of programs whose close day it is.
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   "monthly-close",
		Spec: client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{Hour: []client.ScheduleRange{{Start: 2}}}}},
		Action: &client.ScheduleWorkflowAction{ID: "monthly-close", Workflow: workflows.CloseSchedulerWorkflow, TaskQueue: workflows.TaskQueue,
			StaticSummary: "daily: start the monthly close of every program whose close day it is"},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the close schedule: %w", err)
	}
	// Hourly: expired Idempotency-Keys swept, click partitions kept three months ahead.
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   "housekeeping",
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}},
		Action: &client.ScheduleWorkflowAction{ID: "housekeeping", Workflow: workflows.HousekeepingWorkflow, TaskQueue: workflows.TaskQueue,
			StaticSummary: "housekeeping: expired idempotency keys and sessions, deliveries whose start was missed"},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the housekeeping schedule: %w", err)
	}
	// Quarter start (Jan, Apr, Jul, Oct 1st, 00:30 UTC): every tier's default MDF allocation.
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: "mdf-quarter-start",
		Spec: client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{Month: []client.ScheduleRange{{Start: 1, End: 10, Step: 3}},
			DayOfMonth: []client.ScheduleRange{{Start: 1}}, Hour: []client.ScheduleRange{{Start: 0}}, Minute: []client.ScheduleRange{{Start: 30}}}}},
		Action: &client.ScheduleWorkflowAction{ID: "mdf-quarter-start", Workflow: workflows.MDFQuarterStartWorkflow, TaskQueue: workflows.TaskQueue,
			StaticSummary: "quarter start: every active partner's tier default MDF allocation"},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the MDF schedule: %w", err)
	}
	// Quarter start, 00:05 UTC (before the quarter's MDF allocations): the tier review.
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: "tier-review",
		Spec: client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{Month: []client.ScheduleRange{{Start: 1, End: 10, Step: 3}},
			DayOfMonth: []client.ScheduleRange{{Start: 1}}, Hour: []client.ScheduleRange{{Start: 0}}, Minute: []client.ScheduleRange{{Start: 5}}}}},
		Action: &client.ScheduleWorkflowAction{ID: "tier-review", Workflow: workflows.TierReviewWorkflow, TaskQueue: workflows.TaskQueue,
			StaticSummary: "tier review: promotions, and demotions after a warning and a grace period"},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the tier review schedule: %w", err)
	}
	return nil
}

// serveAPI listens on addr and serves until ctx ends, then shuts down gracefully.
func serveAPI(ctx context.Context, cfg Config, store *db.Store, c client.Client, logger *slog.Logger, ready chan<- string) error {
	if cfg.API.Registry == nil {
		return errors.New("serveAPI needs the process's metrics registry")
	}
	var err error
	if cfg.API.Click.TokenKey, cfg.API.Click.IPKey, err = clickKeys(cfg); err != nil {
		return err
	}
	if cfg.API.Portal.Mailer == nil {
		if cfg.API.Portal.Mailer, err = mailerFromEnv(); err != nil {
			return err
		}
	}
	cfg.API.Version = versionString()
	srv, err := api.New(cfg.API, store, c, logger)
	if err != nil {
		return err
	}
	// After the HTTP server has drained, every accepted click is written.
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	hs := api.NewHTTPServer(srv.Handler(), cfg.API.RequestTimeout)
	logger.Info("API listening", "addr", ln.Addr().String())
	// /metrics on its own listener, never on the public port.
	mctx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	merr := make(chan error, 1)
	go func() { merr <- serveMetrics(mctx, cfg.MetricsAddr, cfg.API.Registry, logger) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case err := <-merr:
		_ = hs.Close()
		return err
	case <-ctx.Done():
	}
	if cfg.DrainDelay > 0 { // behind a balancer: fail readiness, let it notice, then stop
		srv.Drain()
		logger.Info("draining: /readyz answers 503", "for", cfg.DrainDelay)
		time.Sleep(cfg.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down API: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// devRetention is how long `make run`'s Temporal keeps a closed workflow's
// history (the dev server's own default is a day). Production sets retention on
// its namespace and archives histories (README, "Keeping histories").
const devRetention = 30 * 24 * time.Hour

// ensureRetention sets the namespace's retention of closed workflows' histories.
func ensureRetention(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	_, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("set the namespace's retention to %s: %w", retention, err)
	}
	return nil
}

// devServerTuning is the dynamic configuration `make run` and the tests give the
// Temporal dev server: one partition per task queue (a single host has nothing
// to spread; with four, a task waits up to seconds to be forwarded to a poller)
// and eager activities (an activity the workflow schedules runs on the worker
// that scheduled it, without a round trip through matching).
var devServerTuning = []string{
	"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
	"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
	"--dynamic-config-value", "system.enableActivityEagerExecution=true",
}

// process is what serve and worker each open: a pool, the process's metrics
// registry (the pool's figures and the Temporal SDK's on it), tracing if the
// environment asks for it, and a Temporal client that reports to both.
type process struct {
	store    *db.Store
	registry *prometheus.Registry
	tracer   trace.Tracer
	temporal client.Client
	closers  []func()
}

func connect(ctx context.Context, cfg Config, logger *slog.Logger, poolName string) (*process, error) {
	p := &process{}
	var err error
	if p.store, err = openStore(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.store.Pool.Close)
	reg, sdkMetrics, err := newRegistry()
	if err != nil {
		p.close()
		return nil, err
	}
	if poolName != "api" { // the API registers its own pool's collector (api.New)
		reg.MustRegister(api.NewPoolCollector(p.store.Pool, poolName))
	}
	p.registry = reg
	tracer, interceptors, shutdown, err := tracing(ctx)
	if err != nil {
		p.close()
		return nil, err
	}
	p.tracer = tracer
	p.closers = append(p.closers, shutdown)
	if p.temporal, err = dialTemporal(ctx, cfg.TemporalAddress, cfg.TemporalNamespace, logger, sdkMetrics, interceptors...); err != nil {
		p.close()
		return nil, err
	}
	p.closers = append(p.closers, p.temporal.Close)
	return p, nil
}

// close releases in reverse order of opening.
func (p *process) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// temporalConnection is how every Temporal client of this process connects:
// plain, or TLS when TEMPORAL_TLS_CA names the server's certificate authority,
// with a client certificate (mTLS) when TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY
// name one; TEMPORAL_TLS_SERVER_NAME overrides the name checked.
func temporalConnection() (client.ConnectionOptions, error) {
	cert, key, ca := os.Getenv("TEMPORAL_TLS_CERT"), os.Getenv("TEMPORAL_TLS_KEY"), os.Getenv("TEMPORAL_TLS_CA")
	if cert == "" && key == "" && ca == "" {
		return client.ConnectionOptions{}, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: os.Getenv("TEMPORAL_TLS_SERVER_NAME")}
	if (cert == "") != (key == "") {
		return client.ConnectionOptions{}, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return client.ConnectionOptions{}, fmt.Errorf("TEMPORAL_TLS_CERT/KEY: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return client.ConnectionOptions{}, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return client.ConnectionOptions{}, fmt.Errorf("TEMPORAL_TLS_CA: %s holds no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	return client.ConnectionOptions{TLS: cfg}, nil
}

// processIdentity names this process to Temporal (its pollers, its starts and
// Updates): pid@host, unique per process on a machine.
var processIdentity = func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}()

// workerReady answers nil while the Temporal server answers and this worker
// has a workflow-task and an activity-task poll in flight (the SDK's own
// temporal_num_pollers on the process's registry): its pollers are connected.
// (The server's DescribeTaskQueue was tried first: it reports the pollers of
// the root partition only, so with several partitions a connected worker could
// wait a minute to look ready.)
func workerReady(c client.Client, reg prometheus.Gatherer) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return err
		}
		fams, err := reg.Gather()
		if err != nil {
			return err
		}
		pollers := map[string]float64{}
		for _, f := range fams {
			if f.GetName() != "temporal_num_pollers" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "poller_type" {
						pollers[l.GetValue()] += m.GetGauge().GetValue()
					}
				}
			}
		}
		for _, typ := range []string{"workflow_task", "activity_task"} {
			if pollers[typ] < 1 {
				return fmt.Errorf("no %s poll of this worker in flight yet", typ)
			}
		}
		return nil
	}
}
