package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/breaker"
	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/telemetry"
)

// InstanceHeader is the response header in which every instance names itself.
const InstanceHeader = "X-Instance"

// instanceDeps is what an instance is built from.
type instanceDeps struct {
	cfg      Config
	service  string
	id       string
	port     int
	registry ServiceRegistry
	data     *stores
	natsURL  string
	tracer   *sdktrace.TracerProvider
	logger   *slog.Logger
}

// env is what a service's handlers and consumers get from their instance.
type env struct {
	id         string
	logger     *slog.Logger
	metrics    *prometheus.Registry
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	js         jetstream.JetStream // nil for a service without events
	newCaller  func(service string) *caller
}

// service is what each of the six services provides to its instances.
type service interface {
	// routes adds the service's API to mux.
	routes(mux *http.ServeMux)
	// consume starts the service's event consumer, if it has one, and returns the function
	// that stops it, draining the event in progress.
	consume(ctx context.Context) (stop func(context.Context) error, err error)
}

// serviceUsesNATS reports whether a service publishes or consumes events.
func serviceUsesNATS(name string) bool {
	return name == OrderService || name == PaymentService || name == InventoryService || name == NotificationService
}

// instance is one running instance of a service.
type instance struct {
	info     ServiceInfo
	registry ServiceRegistry
	logger   *slog.Logger
	server   *http.Server
	served   chan error
	nc       *nats.Conn
	stop     func(context.Context) error // stops the consumer
	draining atomic.Bool
}

// startInstance starts an instance: its NATS connection and stream, its HTTP server on a port,
// its consumer, and then its registration, with a check on /ready.
func startInstance(ctx context.Context, d instanceDeps) (_ *instance, err error) {
	in := &instance{registry: d.registry, logger: d.logger, stop: func(context.Context) error { return nil }}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("start %s: %w", d.id, err), in.close(context.WithoutCancel(ctx)))
		}
	}()
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e := &env{
		id: d.id, logger: d.logger, metrics: metrics,
		tracer:     d.tracer.Tracer(instrumentationName),
		propagator: telemetry.Propagator(),
	}
	client := &http.Client{Transport: otelhttp.NewTransport(callTransport(),
		otelhttp.WithTracerProvider(d.tracer), otelhttp.WithPropagators(e.propagator))}
	breakers, err := breaker.NewMetrics(metrics)
	if err != nil {
		return in, err
	}
	e.newCaller = func(callee string) *caller { return newCaller(d.cfg, callee, d.registry, client, breakers) }

	if serviceUsesNATS(d.service) {
		if in.nc, err = connectNATS(d.natsURL, d.id, d.logger); err != nil {
			return in, err
		}
		if e.js, err = jetstream.New(in.nc); err != nil {
			return in, fmt.Errorf("jetstream: %w", err)
		}
		if err := ensureStream(ctx, e.js); err != nil {
			return in, err
		}
	}
	svc, err := newService(d.service, e, d.data)
	if err != nil {
		return in, err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(d.cfg.Host, strconv.Itoa(d.port)))
	if err != nil {
		return in, fmt.Errorf("listen: %w", err)
	}
	api := http.NewServeMux()
	svc.routes(api)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", in.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.Handle("/", otelhttp.NewHandler(observe(d.service, d.logger, metrics, api), d.service,
		otelhttp.WithTracerProvider(d.tracer), otelhttp.WithPropagators(e.propagator)))
	in.server = &http.Server{Handler: named(d.id, mux), ReadHeaderTimeout: 5 * time.Second}
	in.served = make(chan error, 1)
	go func() { in.served <- in.server.Serve(ln) }()

	if in.stop, err = svc.consume(context.WithoutCancel(ctx)); err != nil {
		return in, err
	}
	in.info = ServiceInfo{
		ID: d.id, Name: d.service, Address: d.cfg.AdvertiseHost, Port: ln.Addr().(*net.TCPAddr).Port,
	}
	in.info.Health = HealthCheck{HTTP: in.info.URL() + "/ready", Interval: d.cfg.HealthInterval, Timeout: 2 * time.Second}
	if err := d.registry.Register(ctx, in.info); err != nil {
		in.info = ServiceInfo{}
		return in, fmt.Errorf("register: %w", err)
	}
	d.logger.InfoContext(ctx, "instance started", "url", in.info.URL())
	return in, nil
}

// ready answers /ready: 200 while the instance takes requests and its NATS connection, if it
// has one, is up; 503 once it drains or while NATS is down.
func (in *instance) ready(w http.ResponseWriter, _ *http.Request) {
	switch {
	case in.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	case in.nc != nil && !in.nc.IsConnected():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "nats unavailable"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// shutdown stops the instance gracefully: it reports not ready and deregisters (no new caller
// finds it), finishes the requests in flight, drains its consumer, and closes NATS.
func (in *instance) shutdown(ctx context.Context) error {
	in.draining.Store(true)
	var errs []error
	if in.info.ID != "" {
		if err := in.registry.Deregister(ctx, in.info.ID); err != nil {
			errs = append(errs, fmt.Errorf("deregister %s: %w", in.info.ID, err))
		}
	}
	errs = append(errs, in.close(ctx))
	in.logger.InfoContext(ctx, "instance stopped")
	return errors.Join(errs...)
}

// close stops serving (draining the requests in flight), stops the consumer and closes NATS.
func (in *instance) close(ctx context.Context) error {
	var errs []error
	if in.server != nil {
		if err := in.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop serving: %w", err))
		}
		if err := <-in.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
	}
	if in.stop == nil {
		in.stop = func(context.Context) error { return nil }
	}
	if err := in.stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop consuming: %w", err))
	}
	if in.nc != nil {
		in.nc.Close()
	}
	return errors.Join(errs...)
}

// connectNATS connects to NATS for good: it retries the first connection and reconnects
// forever, so that readiness, not a crash, tells that NATS is away.
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

// named adds the instance header to every response.
func named(id string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(InstanceHeader, id)
		next.ServeHTTP(w, r)
	})
}

// httpMetrics are the request series of a server.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers http_requests_total and http_request_duration_seconds on reg.
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
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		// The mux writes the pattern it matched into r: known only now.
		route := routeOf(r.Pattern)
		method := knownMethod(r.Method)
		status := rec.status()
		elapsed := time.Since(start)
		m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
		trace.SpanFromContext(r.Context()).SetName(method + " " + route)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", elapsed))
	})
}
