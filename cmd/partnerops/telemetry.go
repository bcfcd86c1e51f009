package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"

	"github.com/partnerops/partnerops/workflows"
)

// newRegistry is the process's metrics: Go runtime and process figures, and the
// Temporal SDK's own metrics (workflow task latency, activity failures and
// retries, schedule-to-start, poller counts, service request latency) through the
// SDK's OpenTelemetry handler exported to Prometheus.
func newRegistry() (*prometheus.Registry, client.MetricsHandler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, fmt.Errorf("metrics exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithView(sdkHelp))
	handler := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:   provider.Meter("temporal-sdk-go"),
		OnError: func(err error) { slog.Default().Warn("temporal sdk metric", "error", err) },
		// Counters as counters (Prometheus "counter", *_total): increase() and
		// rate() in the alert rules need them monotonic, not gauges.
		UseMonotonicCounters: true,
	})
	return reg, handler, nil
}

// sdkHelp gives the Temporal SDK's instruments, which carry no description, a
// HELP line that says where they come from and what they count.
func sdkHelp(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	if i.Scope.Name != "temporal-sdk-go" || i.Description != "" {
		return sdkmetric.Stream{}, false
	}
	what := strings.ReplaceAll(strings.TrimPrefix(i.Name, "temporal_"), "_", " ")
	return sdkmetric.Stream{Name: i.Name, Description: "Temporal SDK: " + what + " (see docs.temporal.io/references/sdk-metrics)", Unit: i.Unit}, true
}

// serveMetrics serves the registry on addr (the worker's own /metrics) until ctx ends.
// A ready function, when given, also serves /healthz (the process answers) and
// /readyz (ready answers nil: a worker whose Temporal server answers).
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger, ready ...func(context.Context) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Go's profiles (goroutines, CPU, heap), for operators: on this internal
	// listener only, never on the API's port.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if len(ready) > 0 {
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
			rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := ready[0](rctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		})
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	logger.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// tracing sets up OpenTelemetry traces when the standard environment asks for
// them (OTEL_TRACES_EXPORTER=otlp, or an OTEL_EXPORTER_OTLP_ENDPOINT /
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); off by default. The OTLP/HTTP exporter
// reads the rest of the OTEL_* variables itself (headers, TLS, timeout).
// It returns the API's tracer, the Temporal client's interceptors (which carry
// the trace into workflows and activities) and a shutdown that flushes.
func tracing(ctx context.Context) (trace.Tracer, []interceptor.ClientInterceptor, func(), error) {
	if !tracingOn() {
		return nil, nil, func() {}, nil
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	name := os.Getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "partnerops"
	}
	res, _ := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name), attribute.String("service.version", versionString())))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	interceptors, err := temporalTracing(tp)
	if err != nil {
		return nil, nil, nil, err
	}
	return tp.Tracer("partnerops"), interceptors, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}, nil
}

// tracingOn: the standard environment asks for traces.
func tracingOn() bool {
	on := os.Getenv("OTEL_TRACES_EXPORTER") == "otlp" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	return on && os.Getenv("OTEL_SDK_DISABLED") != "true"
}

// queryTracer makes a span of every database query, named after its sqlc query
// ("db GetPartner"), with the statement (never its arguments) as db.statement.
// The global provider delegates to the one tracing sets up, whenever that is.
func queryTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithTrimSQLInSpanName(), otelpgx.WithDisableQuerySpanNamePrefix(), otelpgx.WithSpanNameFunc(querySpanName))
}

// querySpanName is "db <sqlc name>" for a generated query, else "db" and the
// statement's first word (SELECT, COPY, BEGIN).
func querySpanName(stmt string) string {
	if rest, ok := strings.CutPrefix(stmt, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok {
			return "db " + name
		}
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(stmt), " ")
	return "db " + strings.ToUpper(verb)
}

// temporalTracing is the SDK's OpenTelemetry interceptor on tp: client calls
// (start, update, signal) and, on the worker built from the same client, the
// workflow and activity executions, as spans of one trace.
func temporalTracing(tp trace.TracerProvider) ([]interceptor.ClientInterceptor, error) {
	// SpanContextKey: the workflows hand an Update's span to the activities that
	// carry it out (workflows.TraceSpanKey), so a decision's write is in its trace.
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer("temporal"), SpanContextKey: workflows.TraceSpanKey})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	return []interceptor.ClientInterceptor{ti}, nil
}
