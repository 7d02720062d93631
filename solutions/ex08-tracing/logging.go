package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// NewLogHandler wraps next so that each record logged with a context that holds a span
// (logger.InfoContext(ctx, …)) carries the span's trace_id and span_id, as 32 and 16
// lowercase hex digits: the keys that take a reader from a log line to its trace. Records
// logged outside a span carry neither.
func NewLogHandler(next slog.Handler) slog.Handler {
	return traceHandler{next: next}
}

// traceHandler adds the span's ids to each record, then hands it to next.
type traceHandler struct {
	next slog.Handler
}

// Enabled reports whether next handles records at level.
func (h traceHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds trace_id and span_id to r when ctx holds a span, and passes r on.
func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
		)
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler that adds attrs and still adds the span's ids.
func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a handler that opens a group and still adds the span's ids.
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{next: h.next.WithGroup(name)}
}
