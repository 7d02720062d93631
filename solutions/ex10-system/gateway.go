package system

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/discovery"
	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/telemetry"
)

// Routes maps each path prefix the gateway serves to the service that answers it. The path
// goes upstream unchanged.
var Routes = map[string]string{
	"/api/users":         UserService,
	"/api/products":      ProductService,
	"/api/orders":        OrderService,
	"/api/inventory":     InventoryService,
	"/api/payments":      PaymentService,
	"/api/notifications": NotificationService,
}

// downFor is how long the gateway leaves out an instance that refused a connection.
const downFor = 5 * time.Second

// errNoInstance is behind a 503: no healthy instance of the route's service.
var errNoInstance = errors.New("no healthy instance")

// gatewayServer is the running gateway.
type gatewayServer struct {
	url       string
	server    *http.Server
	served    chan error
	upstreams *upstreams
}

// startGateway starts the gateway on cfg.GatewayAddr: each route proxied to an instance of its
// service, picked in turn among those the registry returns, with its own /health, /ready and
// /metrics.
func startGateway(ctx context.Context, cfg Config, registry ServiceRegistry, tp *sdktrace.TracerProvider, logger *slog.Logger) (*gatewayServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.GatewayAddr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen: %w", err)
	}
	gw := &gatewayServer{
		url:       "http://" + ln.Addr().String(),
		upstreams: &upstreams{registry: registry, balancer: discovery.NewRoundRobin(), transport: callTransport(), downUntil: map[string]time.Time{}},
	}
	propagator := telemetry.Propagator()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = Routes[routePrefix(pr.In.Pattern)] // the transport puts an instance there
			pr.SetXForwarded()
		},
		Transport: otelhttp.NewTransport(gw.upstreams, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator)),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			var netErr net.Error
			switch {
			case errors.Is(err, errNoInstance):
				status = http.StatusServiceUnavailable
			case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
				status = http.StatusGatewayTimeout
			}
			logger.WarnContext(r.Context(), "upstream error", "path", r.URL.Path, "error", err)
			writeError(w, status, http.StatusText(status))
		},
	}
	routes := http.NewServeMux()
	for prefix := range Routes {
		routes.Handle(prefix, proxy)
		routes.Handle(prefix+"/", proxy)
	}
	metrics := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", gw.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.Handle("/", otelhttp.NewHandler(observe(GatewayService, logger, metrics, routes), GatewayService,
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator)))
	gw.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	gw.served = make(chan error, 1)
	go func() { gw.served <- gw.server.Serve(ln) }()
	logger.InfoContext(ctx, "gateway started", "url", gw.url)
	return gw, nil
}

// routePrefix returns the route prefix of a mux pattern ("/api/users/" gives "/api/users").
func routePrefix(pattern string) string {
	if len(pattern) > 1 && pattern[len(pattern)-1] == '/' {
		return pattern[:len(pattern)-1]
	}
	return pattern
}

// ready answers /ready: 200 when every route's service has a healthy instance, else 503, with
// the count of each.
func (gw *gatewayServer) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, counts := http.StatusOK, map[string]int{}
	for _, service := range Routes {
		healthy, err := gw.upstreams.healthy(ctx, service)
		if err != nil || len(healthy) == 0 {
			status = http.StatusServiceUnavailable
		}
		counts[service] = len(healthy)
	}
	writeJSON(w, status, map[string]any{"status": http.StatusText(status), "instances": counts})
}

// shutdown stops taking requests and waits, within ctx, for those in flight.
func (gw *gatewayServer) shutdown(ctx context.Context) error {
	err := gw.server.Shutdown(ctx)
	if served := <-gw.served; !errors.Is(served, http.ErrServerClosed) {
		err = errors.Join(err, served)
	}
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// upstreams is the proxy's transport. For each request it picks, in turn, a healthy instance
// of the service named in the request's host. An instance that refuses the connection is left
// out for downFor (passive health), and a request that is safe to send again goes to the next
// instance.
type upstreams struct {
	registry  ServiceRegistry
	balancer  discovery.LoadBalancer
	transport http.RoundTripper

	mu        sync.Mutex
	downUntil map[string]time.Time // by instance ID
}

// RoundTrip sends req to an instance of the service named by req.URL.Host.
func (u *upstreams) RoundTrip(req *http.Request) (*http.Response, error) {
	service := req.URL.Host
	var tried []string
	for {
		healthy, err := u.healthy(req.Context(), service)
		if err != nil {
			return nil, err
		}
		healthy = slices.DeleteFunc(healthy, func(s ServiceInfo) bool { return slices.Contains(tried, s.ID) })
		if len(healthy) == 0 {
			return nil, fmt.Errorf("%w of %s", errNoInstance, service)
		}
		inst, err := u.balancer.Pick(service, healthy)
		if err != nil {
			return nil, err
		}
		out, target := *req, *req.URL // RoundTrip must not change req
		target.Host = net.JoinHostPort(inst.Address, fmt.Sprint(inst.Port))
		out.URL = &target
		resp, err := u.transport.RoundTrip(&out)
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return resp, err
		}
		u.mu.Lock()
		u.downUntil[inst.ID] = time.Now().Add(downFor)
		u.mu.Unlock()
		tried = append(tried, inst.ID)
		if !resendable(req) {
			return nil, err
		}
	}
}

// healthy returns the instances of service that the registry returns and that are not left out,
// ordered by ID.
func (u *upstreams) healthy(ctx context.Context, service string) ([]ServiceInfo, error) {
	instances, err := u.registry.Discover(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("%w of %s: registry: %w", errNoInstance, service, err)
	}
	now := time.Now()
	u.mu.Lock()
	instances = slices.DeleteFunc(instances, func(s ServiceInfo) bool { return now.Before(u.downUntil[s.ID]) })
	u.mu.Unlock()
	slices.SortFunc(instances, func(a, b ServiceInfo) int { return cmp.Compare(a.ID, b.ID) })
	return instances, nil
}

// resendable reports whether req may go to another instance: an idempotent method and no body.
func resendable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}
