//go:build e2e

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/partnerops/partnerops/activities"
	"github.com/partnerops/partnerops/db"
)

// With tracing on, a database query is a span named after its sqlc query, and an
// outgoing call (here the payments API) is a client span whose trace context
// reaches the server it calls — all in the caller's trace.
func TestQueriesAndOutgoingCallsAreSpans(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) }()

	ctx, root := tp.Tracer("test").Start(context.Background(), "decision")
	pool, err := db.Open(ctx, sys.dbURL, 1, queryTracer(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := db.New(pool).GetPartner(ctx, uuid.New()); err == nil {
		t.Fatal("a partner that does not exist")
	}

	var traceparent string
	pay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparent = r.Header.Get("traceparent")
		_, _ = w.Write([]byte(`{"id": "tr_1", "status": "paid"}`))
	}))
	defer pay.Close()
	a := &activities.Activities{Payments: activities.Payments{URL: pay.URL, APIKey: "k"}}
	if r, err := a.CheckPayout(ctx, "tr_1"); err != nil || r.Status != "paid" {
		t.Fatalf("check payout: %+v %v", r, err)
	}
	root.End()

	var query, call bool
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			continue
		}
		switch {
		case s.Name() == "db GetPartner":
			for _, kv := range s.Attributes() {
				query = query || (kv.Key == "db.statement" || kv.Key == "db.query.text") && strings.Contains(kv.Value.AsString(), "FROM partners")
			}
		case strings.HasPrefix(s.Name(), "HTTP GET") || s.Name() == "GET":
			call = strings.Contains(traceparent, s.SpanContext().SpanID().String()) && strings.Contains(traceparent, root.SpanContext().TraceID().String())
		}
	}
	if !query || !call {
		var names []string
		for _, s := range spans.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("query span %v, outgoing call span %v (traceparent %q); spans %v", query, call, traceparent, names)
	}
}
