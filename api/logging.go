package api

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
)

// ContextHandler adds to every log line what its context knows: the trace and
// span id inside a traced request (so a line leads to its trace), and the
// workflow and activity inside an activity (so a worker's line leads to its
// history in the Temporal UI).
type ContextHandler struct{ slog.Handler }

func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if ctx != nil && activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		r.AddAttrs(slog.String("workflow_id", info.WorkflowExecution.ID), slog.String("run_id", info.WorkflowExecution.RunID),
			slog.String("activity_type", info.ActivityType.Name), slog.String("activity_id", info.ActivityID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(attrs)}
}

func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}

// requestLevel is a request line's level: a server error is an error, a refused
// request (4xx) a warning, the rest information.
func requestLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
