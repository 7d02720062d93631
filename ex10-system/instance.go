package system

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// InstanceHeader is the response header in which every instance names itself: each answer of
// an instance carries its ID there.
const InstanceHeader = "X-Instance"

// instanceDeps is what an instance is built from. (Given.)
type instanceDeps struct {
	cfg      Config
	service  string
	id       string
	port     int
	registry ServiceRegistry
	data     *stores
	natsURL  string
	tracer   *sdktrace.TracerProvider
	logger   *slog.Logger // with the attributes service and instance, trace ids added
}

// env is what a service's handlers and consumers get from their instance. (Given.)
type env struct {
	id         string
	logger     *slog.Logger
	metrics    *prometheus.Registry
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	js         jetstream.JetStream          // nil for a service without events
	newCaller  func(service string) *caller // the instance's caller of another service
}

// instance is one running instance of a service.
type instance struct {
	// TODO(ex10.system-running): its registration (ServiceInfo), its *http.Server, its NATS
	// connection, the function that stops its consumer, whether it drains.
}

// startInstance starts an instance: its NATS connection and stream, its HTTP server on a port,
// its consumer, and then its registration, with a check on /ready.
func startInstance(ctx context.Context, d instanceDeps) (*instance, error) {
	// TODO(ex10.system-running): each instance, in this order:
	//   - its own Prometheus registry (prometheus.NewRegistry), served on GET /metrics with
	//     promhttp.HandlerFor (ex10.metrics);
	//   - for order, payment, inventory and notification: its own NATS connection
	//     (connectNATS), a jetstream.JetStream, and the stream (ensureStream) (ex10.events);
	//   - an env for the service (newService), with newCaller building a caller for each
	//     service it calls (ex10.circuit-breakers);
	//   - a listener on cfg.Host and port, and an http.Server (ReadHeaderTimeout set) whose
	//     mux serves GET /health (200, JSON), GET /ready (instance.ready), GET /metrics, and
	//     the service's API wrapped in otelhttp.NewHandler (the service's tracer provider and
	//     telemetry.Propagator()) around observe (ex10.tracing, ex10.metrics); every answer
	//     carries InstanceHeader (ex10.load-balancing);
	//   - the service's event consumer, if it has one (ex10.events);
	//   - last, once it serves: its registration, ServiceInfo{ID, Name: service, Address:
	//     cfg.AdvertiseHost, Port} with a HealthCheck on its /ready every cfg.HealthInterval
	//     (ex10.discovery).
	// When a step fails, undo the steps before it.
	return nil, fmt.Errorf("start %s: %w", d.id, ErrNotImplemented)
}

// ready answers /ready: 200 while the instance takes requests and its NATS connection, if it
// has one, is up; 503 once it drains or while NATS is down.
func (in *instance) ready(w http.ResponseWriter, _ *http.Request) {
	// TODO(ex10.health-checks): nc.IsConnected() tells whether NATS is up.
	writeError(w, http.StatusServiceUnavailable, "not implemented")
}

// shutdown stops the instance gracefully: it reports not ready and deregisters (no new caller
// finds it), finishes the requests in flight (http.Server.Shutdown), drains its consumer, and
// closes NATS.
func (in *instance) shutdown(ctx context.Context) error {
	// TODO(ex10.discovery, ex10.graceful-shutdown)
	return ErrNotImplemented
}

// connectNATS connects to NATS for good: it retries the first connection and reconnects
// forever, so that readiness, not a crash, tells that NATS is away. (Given.)
func connectNATS(url, name string, logger *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: the connection was closed on purpose
				logger.Warn("NATS disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("NATS reconnected") }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

// httpMetrics are the request series of a server. (Given.)
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers http_requests_total{service,route,method,code} and
// http_request_duration_seconds{service,route,method} on reg, service set. (Given.)
func newHTTPMetrics(reg prometheus.Registerer, service string) httpMetrics {
	labels := prometheus.Labels{"service": service}
	m := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests served, by route, method and status code.", ConstLabels: labels,
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Time to serve an HTTP request.", ConstLabels: labels,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe serves next and then records the request: its metrics, the span's name and route,
// and one log line (inside the span, so that it carries the trace id).
func observe(service string, logger *slog.Logger, reg prometheus.Registerer, next http.Handler) http.Handler {
	m := newHTTPMetrics(reg, service)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		// TODO(ex10.metrics, ex10.tracing): the mux has written the pattern it matched into r:
		// count the request in m with route routeOf(r.Pattern), method knownMethod(r.Method)
		// and code rec.status(); observe its duration; name the span (trace.SpanFromContext)
		// "<method> <route>"; log one line with logger.LogAttrs(r.Context(), …).
		_, _ = m, strconv.Itoa(rec.status())
	})
}
