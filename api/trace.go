package api

import (
	"strconv"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// trace starts the request's server span (continuing the caller's traceparent)
// and answers the trace id in traceparent form, so a log line, an error body and
// a trace meet on the request id and the trace id.
func (s *Server) trace(c *gin.Context) {
	route := c.FullPath()
	if s.cfg.Tracer == nil {
		c.Next()
		return
	}
	if route == "" {
		route = "unmatched"
	}
	ctx := propagator.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
	ctx, span := s.cfg.Tracer.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route),
			attribute.String("partnerops.request_id", requestID(c))))
	defer span.End()
	c.Request = c.Request.WithContext(ctx)
	propagator.Inject(ctx, propagation.HeaderCarrier(c.Writer.Header()))
	c.Next()
	status := c.Writer.Status()
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
}
