// Package tracing follows one request through a small system of services with OpenTelemetry:
// an HTTP API asks a user directory over gRPC and announces the lookup on NATS, and every hop
// adds its spans to one trace, exported over OTLP to Jaeger.
//
// The pieces, each in its own file:
//
//	tracing.go     Setup: the tracer provider (resource, sampler, batching, OTLP exporter) and propagators
//	middleware.go  TracingMiddleware: a server span for each HTTP request
//	service.go     UserService and TracedUserService, whose GetUser adds a child span
//	api.go         the HTTP API: GET /users/{id}
//	client.go      NewHTTPClient: a client span for each outgoing request
//	grpc.go        the UserDirectory over gRPC, traced by otelgrpc stats handlers
//	events.go      NATS messages that carry the trace context in their headers
//	logging.go     NewLogHandler: slog records that carry trace_id and span_id
//
// Nothing here reads the global OpenTelemetry state: each piece gets its tracer provider and
// propagator from a Telemetry, so that a test can give it its own. Only initTracing, the
// seed's entry point, sets the globals, for programs that want them.
//
// The services already work; what is missing is their tracing. Each TODO names the criterion
// it serves (see README.md).
package tracing

//go:generate go tool -modfile=../tools/go.mod buf generate

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names the tracers of this package (the instrumentation scope of its
// spans).
const instrumentationName = "github.com/microservices-workbook/workbook/ex08-tracing"

// ErrInvalidConfig is returned, wrapped, by Setup for a Config it cannot use.
var ErrInvalidConfig = errors.New("invalid tracing config")

// ErrNotImplemented is returned by the parts of the starter that are still to be written.
var ErrNotImplemented = errors.New("not implemented")

// Config configures the tracing of one service. Only ServiceName is required; each other
// field's zero value means the default written in its comment.
type Config struct {
	// ServiceName names the service in every span it exports (service.name). Required.
	ServiceName string
	// ServiceVersion is the version of the service (service.version). Default "dev".
	ServiceVersion string
	// Environment is where the service runs (deployment.environment.name), such as
	// "production". Default "development".
	Environment string
	// SampleRatio is the share of new traces that are recorded, from 0 to 1. It decides only
	// for spans without a parent: a span with a parent follows its parent's decision, so a
	// trace is never recorded in part. Default 1: every trace.
	SampleRatio float64
	// Endpoint is the OTLP/HTTP URL the spans are sent to, path included, such as
	// "http://localhost:4318/v1/traces". Default: the OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT environment variable, else http://localhost:4318/v1/traces.
	Endpoint string
	// Exporter receives the spans instead of the OTLP exporter (tests give an in-memory one).
	// Default nil: OTLP over HTTP to Endpoint.
	Exporter sdktrace.SpanExporter
	// BatchTimeout is the longest a finished span waits in the batch before it is exported.
	// Default 5s.
	BatchTimeout time.Duration
}

// Telemetry is what an instrumented piece needs: where its spans go, and how the trace
// context crosses the wire. Setup returns one; tests build their own.
type Telemetry struct {
	// TracerProvider creates the tracers. Default nil: the global provider
	// (otel.GetTracerProvider), which initTracing sets.
	TracerProvider trace.TracerProvider
	// Propagator writes the trace context into outgoing requests and messages and reads it
	// from incoming ones. Default nil: W3C Trace Context and Baggage (Propagator()).
	Propagator propagation.TextMapPropagator
}

// tracer returns the tracer of this package from t's provider.
func (t Telemetry) tracer() trace.Tracer {
	return t.tracerProvider().Tracer(instrumentationName)
}

// tracerProvider returns t.TracerProvider, or the global provider when it is nil.
func (t Telemetry) tracerProvider() trace.TracerProvider {
	if t.TracerProvider == nil {
		return otel.GetTracerProvider()
	}
	return t.TracerProvider
}

// propagator returns t.Propagator, or Propagator() when it is nil.
func (t Telemetry) propagator() propagation.TextMapPropagator {
	if t.Propagator == nil {
		return Propagator()
	}
	return t.Propagator
}

// Propagator returns the propagator of every service in the system: W3C Trace Context (the
// traceparent and tracestate headers) and W3C Baggage (the baggage header).
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Setup builds the tracing of one service: a tracer provider whose spans carry the service's
// name, version and environment, sampled by a parent-based ratio sampler, and exported in
// batches over OTLP (or to cfg.Exporter). It returns the Telemetry to give the instrumented
// pieces, and shutdown, which exports the spans still in the batch and stops the provider:
// call it before the program exits, or the last spans are lost.
func Setup(ctx context.Context, cfg Config) (tel Telemetry, shutdown func(context.Context) error, err error) {
	// TODO(ex08.setup): build the tracing of one service.
	//   - Reject a Config without ServiceName, with SampleRatio outside [0, 1], or with an
	//     Endpoint that is not an http:// or https:// URL: an error wrapping ErrInvalidConfig.
	//   - Replace zero fields by the defaults written on Config.
	//   - A resource (go.opentelemetry.io/otel/sdk/resource) with service.name,
	//     service.version and deployment.environment.name (semconv v1.43.0).
	//   - The exporter: cfg.Exporter, or otlptracehttp.New with WithEndpointURL(cfg.Endpoint)
	//     when an Endpoint is set.
	//   - sdktrace.NewTracerProvider with that resource, a parent-based ratio sampler
	//     (sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))) and a batch span processor
	//     (sdktrace.WithBatcher, with cfg.BatchTimeout).
	//   - Return Telemetry{TracerProvider: tp, Propagator: Propagator()} and tp.Shutdown.
	return Telemetry{}, nil, ErrNotImplemented
}

// shutdownTimeout bounds the final export of initTracing's shutdown function.
const shutdownTimeout = 5 * time.Second

// initTracing is the seed's entry point: it sets up tracing for serviceName with the defaults
// of Config (OTLP to the endpoint of the environment), makes it the global tracer provider and
// propagator, and returns a function that flushes and stops it, logging a failure to slog's
// default logger.
func initTracing(serviceName string) (func(), error) {
	// TODO(ex08.setup): call Setup with the defaults, set the result as the global tracer
	// provider and propagator (otel.SetTracerProvider, otel.SetTextMapPropagator), and return
	// a function that calls shutdown with a timeout of shutdownTimeout.
	return nil, ErrNotImplemented
}
