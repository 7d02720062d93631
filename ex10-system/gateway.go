package system

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Routes maps each path prefix the gateway serves to the service that answers it. The path
// goes upstream unchanged: GET /api/users/42 reaches an instance of user as GET /api/users/42.
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

// gatewayServer is the running gateway.
type gatewayServer struct {
	url string
	// TODO(ex10.load-balancing): its *http.Server, its transport to the upstreams.
}

// startGateway starts the gateway on cfg.GatewayAddr: each route proxied to an instance of its
// service, picked in turn among those the registry returns, with its own /health, /ready and
// /metrics.
func startGateway(ctx context.Context, cfg Config, registry ServiceRegistry, tp *sdktrace.TracerProvider, logger *slog.Logger) (*gatewayServer, error) {
	// TODO(ex10.load-balancing): as in exercise 06: an httputil.ReverseProxy (Rewrite) whose
	// Transport asks the registry for the route's service on every request, leaves out the
	// instances that refused a connection (for downFor), picks one with a
	// discovery.RoundRobin, and sends a request that is safe to repeat (an idempotent method
	// and no body) to the next instance when the connection is refused. No instance: 503.
	// Trace it (otelhttp.NewHandler around observe, otelhttp.NewTransport) and count its
	// requests with service "gateway" (ex10.tracing, ex10.metrics).
	// TODO(ex10.health-checks): GET /health: 200. GET /ready: 200 when every route's service
	// has a healthy instance, else 503.
	return nil, fmt.Errorf("gateway: %w", ErrNotImplemented)
}

// shutdown stops taking requests and waits, within ctx, for those in flight.
func (gw *gatewayServer) shutdown(ctx context.Context) error {
	// TODO(ex10.graceful-shutdown)
	return ErrNotImplemented
}
