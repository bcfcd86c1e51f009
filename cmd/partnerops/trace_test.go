//go:build e2e

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"

	"github.com/partnerops/partnerops/api"
)

// One trace from the HTTP request through the workflow start into the first
// activity, with an in-memory exporter: the API's server span, the client's
// StartWorkflow, the workflow's StartActivity (its RunWorkflow span ends with the
// workflow) and the worker's RunActivity share its trace id.
func TestTraceFromHTTPToActivity(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.Background())
	interceptors, err := temporalTracing(tp)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: sys.temporalAddress, Namespace: "default", Interceptors: interceptors, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Only the traced worker runs while this test does.
	sys.worker.Stop()
	traced, err := startWorker(c, sys.workerStore, sys.logger, sys.payments)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		traced.Stop()
		w, err := startWorker(sys.temporal, sys.workerStore, sys.logger, sys.payments)
		if err != nil {
			t.Fatal(err)
		}
		sys.worker = w
	}()
	cfg := testAPIConfig()
	cfg.Click.TokenKey, cfg.Tracer = nil, tp.Tracer("partnerops")
	s, err := api.New(cfg, sys.store, c, sys.logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	f := newProgram(t)
	r := doAt(t, srv.URL, call{method: "POST", path: "/v1/applications", body: application(f, "affiliate"),
		headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	if r.status != http.StatusCreated || !strings.HasPrefix(r.header.Get("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Fatalf("application: %d %v %s", r.status, r.header, r.raw)
	}
	var names []string
	eventually(t, "the activity's span", func() bool {
		names = names[:0]
		for _, sp := range exporter.GetSpans() {
			if sp.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
				names = append(names, sp.Name)
			}
		}
		return slices.Contains(names, "RunActivity:LoadPartnerPolicy")
	})
	for _, want := range []string{"POST /v1/applications", "StartWorkflow:PartnerWorkflow", "StartActivity:LoadPartnerPolicy", "RunActivity:LoadPartnerPolicy"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q span in the caller's trace: %v", want, names)
		}
	}

	// The manager's approval, in a trace of its own: the write that carries it out
	// (RecordPartnerChange) is in the approval's trace, not in the application's.
	expect(t, doAt(t, srv.URL, call{method: "POST", path: "/v1/partners/" + r.str("id") + "/approve", key: f.manager, body: map[string]any{},
		headers: map[string]string{"traceparent": "00-5cf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b8-01"}}), http.StatusOK)
	eventually(t, "the approval's write in its trace", func() bool {
		names = names[:0]
		for _, sp := range exporter.GetSpans() {
			if sp.SpanContext.TraceID().String() == "5cf92f3577b34da6a3ce929d0e0e4737" {
				names = append(names, sp.Name)
			}
		}
		return slices.Contains(names, "RunActivity:RecordPartnerChange")
	})
	for _, want := range []string{"POST /v1/partners/:id/approve", "UpdateWorkflow:approve", "HandleUpdate:approve", "StartActivity:RecordPartnerChange"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q span in the approval's trace: %v", want, names)
		}
	}
}
