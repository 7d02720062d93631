package discovery

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// ServiceConfig describes a service instance to register. Zero fields take the defaults written
// in their comments.
type ServiceConfig struct {
	// Name is the service's name. Required.
	Name string
	// ID identifies the instance. Default: Name-Address-Port, such as "orders-127.0.0.1-8080".
	ID string
	// Address is where the instance listens and is reached. Default: "127.0.0.1".
	Address string
	// Port is where the instance listens. RegisterService needs it; Service.Start listens on a
	// free port when it is 0 and registers that port.
	Port int
	// Tags are registered with the instance. Default: none.
	Tags []string
	// HealthPath is the path of the health endpoint the registry checks. Default: "/health".
	HealthPath string
	// CheckInterval is how often the registry checks the instance. Default: 10s.
	CheckInterval time.Duration
	// CheckTimeout bounds one check. Default: 2s.
	CheckTimeout time.Duration
	// DeregisterCriticalServiceAfter is how long the instance may fail its check before the
	// registry removes it. Default: 1m.
	DeregisterCriticalServiceAfter time.Duration
}

// ServiceInfo returns the registration for config: its defaults applied, and an HTTP health
// check on HealthPath at Address and Port.
func (c ServiceConfig) ServiceInfo() ServiceInfo {
	// TODO(ex05.auto-registration): apply the defaults (Address "127.0.0.1", HealthPath "/health",
	// ID Name-Address-Port) and build the ServiceInfo, with Health.HTTP = URL + HealthPath and the
	// check durations from the config (HealthCheck.withDefaults fills the zero ones).
	return ServiceInfo{}
}

// RegisterService registers the instance described by config, with its health check, in
// registry. It is RegisterServiceContext with a background context.
func RegisterService(registry ServiceRegistry, config ServiceConfig) error {
	return RegisterServiceContext(context.Background(), registry, config)
}

// RegisterServiceContext registers the instance described by config, with its health check, in
// registry.
func RegisterServiceContext(ctx context.Context, registry ServiceRegistry, config ServiceConfig) error {
	// TODO(ex05.auto-registration): register config.ServiceInfo(); wrap the registry's error.
	return ErrNotImplemented
}

// Service is an HTTP service that registers itself when it starts and deregisters itself when it
// shuts down. It serves the health endpoint that its registration's check calls.
type Service struct {
	registry ServiceRegistry
	config   ServiceConfig
	handler  http.Handler
	logger   *slog.Logger

	mu     sync.Mutex
	server *http.Server
	info   ServiceInfo
	served chan error // receives what Serve returned
}

// NewService returns a service that will serve handler (nil means none: only the health
// endpoint) and register itself in registry as config describes. logger records its lifecycle;
// nil means slog.Default().
func NewService(registry ServiceRegistry, config ServiceConfig, handler http.Handler, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{registry: registry, config: config, handler: handler, logger: logger}
}

// Start listens on the configured address and port (a free port when Port is 0), starts serving,
// and then registers the instance, so that its first health check finds it up. When registration
// fails, Start stops serving and returns the error.
func (s *Service) Start(ctx context.Context) error {
	// TODO(ex05.auto-registration): listen (net.ListenConfig.Listen) on Address:Port, take the
	// port from the listener, serve the health endpoint (200 on GET HealthPath) and the handler
	// with an http.Server in a goroutine, then register the ServiceInfo, passing ctx. If
	// registration fails, close the server (it must stop answering) and return the error wrapped.
	return ErrNotImplemented
}

// Info returns the registration of a started service, or the zero ServiceInfo.
func (s *Service) Info() ServiceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Shutdown deregisters the instance first, so that no caller discovers it any more, and only then
// stops serving: it closes the listener and waits, until ctx is done, for the requests in flight.
// It stops serving even when deregistration fails, and returns both errors joined.
func (s *Service) Shutdown(ctx context.Context) error {
	// TODO(ex05.graceful-deregistration): Deregister first, passing ctx, then
	// http.Server.Shutdown(ctx) (not Close: requests in flight must finish). Return the errors of
	// both joined (errors.Join), each wrapped.
	return ErrNotImplemented
}
