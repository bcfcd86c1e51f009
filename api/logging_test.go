package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A request line names the route template (never the ids in the path), the
// duration in milliseconds and a level from the status, and carries the trace
// and span id of the request's span.
func TestRequestLogLines(t *testing.T) {
	var buf bytes.Buffer
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	s := &Server{cfg: Config{Tracer: tp.Tracer("test")}, logger: slog.New(ContextHandler{Handler: slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})}
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(withRequestID, s.trace, s.logRequests)
	e.GET("/v1/partners/:id", func(c *gin.Context) {
		s.logger.InfoContext(c.Request.Context(), "inside the handler")
		c.Status(map[string]int{"ok": http.StatusOK, "missing": http.StatusNotFound, "broken": http.StatusInternalServerError}[c.Param("id")])
	})
	for _, id := range []string{"ok", "missing", "broken"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/partners/"+id, nil))
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 6 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	ended := spans.Ended()
	for i, want := range []struct{ level, status string }{{"INFO", "200"}, {"WARN", "404"}, {"ERROR", "500"}} {
		inside, req := lines[2*i], lines[2*i+1]
		sc := ended[i].SpanContext()
		if req["msg"] != "request" || req["level"] != want.level || req["route"] != "/v1/partners/:id" || req["path"] != nil ||
			strings.Contains(buf.String(), "/v1/partners/"+[]string{"ok", "missing", "broken"}[i]+"\"") {
			t.Errorf("request line %d: %v", i, req)
		}
		if _, ok := req["duration_ms"].(float64); !ok || req["status"] != mustFloat(want.status) {
			t.Errorf("request line %d: duration %v status %v", i, req["duration_ms"], req["status"])
		}
		for _, l := range []map[string]any{inside, req} {
			if l["trace_id"] != sc.TraceID().String() || l["span_id"] != sc.SpanID().String() {
				t.Errorf("line %v: trace %v span %v, want %s %s", l["msg"], l["trace_id"], l["span_id"], sc.TraceID(), sc.SpanID())
			}
		}
	}
	// Outside a traced request nothing is added.
	buf.Reset()
	s.logger.InfoContext(context.Background(), "no trace")
	if strings.Contains(buf.String(), "trace_id") {
		t.Errorf("a line outside a request: %s", buf.String())
	}
}

func mustFloat(s string) float64 {
	var f float64
	_ = json.Unmarshal([]byte(s), &f)
	return f
}
