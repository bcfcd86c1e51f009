package workflows

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/partnerops/partnerops/domain"
)

// The write that carries out a decision is in the decision's trace: the
// activity recording a deal's approval is a child of the approve Update's
// span, not of the workflow's run (which belongs to the registration's trace).
func TestDecisionWriteIsInTheDecisionsTrace(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer("temporal"), SpanContextKey: TraceSpanKey})
	if err != nil {
		t.Fatal(err)
	}
	h := newDealHarness(t, dealPolicy("none"), noConflicts, nil)
	h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{ti}})
	h.at(time.Hour, func() {
		h.send(DealApprove, DealDecision{Actor: "mgr", Margin: ptr(decimal.RequireFromString("0.18"))})
	})
	h.at(2*time.Hour, func() { h.send(DealLose, DealDecision{Actor: "partner", Reason: "went elsewhere"}) })
	if st := h.run(); st.Status != domain.DealLost {
		t.Fatalf("status %s", st.Status)
	}
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		byID[s.SpanContext().SpanID().String()] = s
	}
	var checked int
	for _, s := range spans.Ended() {
		if s.Name() != "StartActivity:RecordDealChange" {
			continue
		}
		parent := byID[s.Parent().SpanID().String()]
		if parent == nil {
			t.Fatalf("%s has no recorded parent", s.Name())
		}
		// The first recording is the registration's (conflict check), under the run.
		if parent.Name() == "HandleUpdate:approve" || parent.Name() == "HandleUpdate:lose" {
			checked++
		} else if parent.Name() != "RunWorkflow:DealWorkflow" {
			t.Errorf("RecordDealChange under %s", parent.Name())
		}
	}
	if checked != 2 {
		var names []string
		for _, s := range spans.Ended() {
			names = append(names, s.Name()+" < "+byID[s.Parent().SpanID().String()].Name())
		}
		t.Fatalf("%d decision writes under their Update's span, want 2: %v", checked, names)
	}
}
