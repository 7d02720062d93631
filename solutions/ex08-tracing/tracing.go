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
package tracing

//go:generate go tool -modfile=../../tools/go.mod buf generate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names the tracers of this package (the instrumentation scope of its
// spans).
const instrumentationName = "github.com/microservices-workbook/workbook/ex08-tracing"

// ErrInvalidConfig is returned, wrapped, by Setup for a Config it cannot use.
var ErrInvalidConfig = errors.New("invalid tracing config")

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

// The defaults of Config.
const (
	defaultServiceVersion = "dev"
	defaultEnvironment    = "development"
	defaultSampleRatio    = 1
	defaultBatchTimeout   = 5 * time.Second
)

// validate reports what makes c unusable, wrapping ErrInvalidConfig.
func (c Config) validate() error {
	if c.ServiceName == "" {
		return fmt.Errorf("%w: ServiceName is required", ErrInvalidConfig)
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("%w: SampleRatio %v is not between 0 and 1", ErrInvalidConfig, c.SampleRatio)
	}
	if c.BatchTimeout < 0 {
		return fmt.Errorf("%w: negative BatchTimeout %v", ErrInvalidConfig, c.BatchTimeout)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: Endpoint %q is not an http:// or https:// URL", ErrInvalidConfig, c.Endpoint)
		}
	}
	return nil
}

// withDefaults returns c with its zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.ServiceVersion == "" {
		c.ServiceVersion = defaultServiceVersion
	}
	if c.Environment == "" {
		c.Environment = defaultEnvironment
	}
	if c.SampleRatio == 0 {
		c.SampleRatio = defaultSampleRatio
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = defaultBatchTimeout
	}
	return c
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
	if err := cfg.validate(); err != nil {
		return Telemetry{}, nil, err
	}
	cfg = cfg.withDefaults()

	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(
			semconv.ServiceName(cfg.ServiceName),
			semconv.ServiceVersion(cfg.ServiceVersion),
			semconv.DeploymentEnvironmentNameKey.String(cfg.Environment),
		),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return Telemetry{}, nil, fmt.Errorf("tracing resource: %w", err)
	}

	exporter := cfg.Exporter
	if exporter == nil {
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint))
		}
		// The HTTP exporter connects on its first export, so this does not fail when the
		// collector is not up yet.
		if exporter, err = otlptracehttp.New(ctx, opts...); err != nil {
			return Telemetry{}, nil, fmt.Errorf("OTLP exporter: %w", err)
		}
	}

	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		// A batch keeps the export off the request path; Shutdown flushes it.
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(cfg.BatchTimeout)),
	)
	return Telemetry{TracerProvider: tp, Propagator: Propagator()}, tp.Shutdown, nil
}

// shutdownTimeout bounds the final export of initTracing's shutdown function.
const shutdownTimeout = 5 * time.Second

// initTracing is the seed's entry point: it sets up tracing for serviceName with the defaults
// of Config (OTLP to the endpoint of the environment), makes it the global tracer provider and
// propagator, and returns a function that flushes and stops it, logging a failure to slog's
// default logger.
func initTracing(serviceName string) (func(), error) {
	tel, shutdown, err := Setup(context.Background(), Config{ServiceName: serviceName})
	if err != nil {
		return nil, err
	}
	otel.SetTracerProvider(tel.TracerProvider)
	otel.SetTextMapPropagator(tel.Propagator)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			slog.ErrorContext(ctx, "tracing shutdown", slog.Any("error", err))
		}
	}, nil
}
