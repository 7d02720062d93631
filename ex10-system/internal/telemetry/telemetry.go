// Package telemetry is exercise 08's OpenTelemetry set-up, given: a tracer provider per service
// (resource, parent-based sampler, batching, OTLP over HTTP or any exporter), the W3C
// propagator, a slog handler that adds trace_id and span_id to each record logged inside a span,
// and a carrier that reads and writes the trace context in NATS message headers.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Config configures the tracing of one service.
type Config struct {
	// ServiceName is the service.name of every span. Required.
	ServiceName string
	// Exporter receives the spans. Default nil: OTLP over HTTP to Endpoint, when it is set.
	Exporter sdktrace.SpanExporter
	// Endpoint is the OTLP/HTTP traces URL, path included, such as
	// "http://jaeger:4318/v1/traces". Default "": with no Exporter either, spans are made (their
	// ids reach the logs and the next hop) but exported nowhere.
	Endpoint string
	// BatchTimeout is the longest a finished span waits in the batch. Default 5s.
	BatchTimeout time.Duration
}

// NewTracerProvider returns the tracer provider of one service. Shut it down when the service
// stops: Shutdown exports the spans still in the batch.
func NewTracerProvider(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, error) {
	if cfg.ServiceName == "" {
		return nil, fmt.Errorf("telemetry: ServiceName is required")
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 5 * time.Second
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	}
	exporter := cfg.Exporter
	if exporter == nil && cfg.Endpoint != "" {
		// The HTTP exporter connects on its first export: no collector is needed yet.
		if exporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint)); err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
		}
	}
	if exporter != nil {
		opts = append(opts, sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(cfg.BatchTimeout)))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// Propagator returns W3C Trace Context and Baggage, the propagator of every service.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// NewLogHandler wraps next so that each record logged with a context that holds a span
// (logger.InfoContext(ctx, …)) carries trace_id and span_id.
func NewLogHandler(next slog.Handler) slog.Handler { return logHandler{next: next} }

type logHandler struct{ next slog.Handler }

func (h logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{next: h.next.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{next: h.next.WithGroup(name)}
}

// HeaderCarrier lets a propagator read and write NATS message headers, keeping the keys as the
// propagator spells them ("traceparent"): NATS headers are case-sensitive.
type HeaderCarrier nats.Header

// Get returns the value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set sets key to value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys of the headers.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
