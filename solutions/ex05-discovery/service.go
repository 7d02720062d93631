package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
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

// The defaults of the zero fields of a ServiceConfig that are not a HealthCheck's.
const (
	defaultAddress    = "127.0.0.1"
	defaultHealthPath = "/health"
)

// withDefaults returns c with its zero Address, HealthPath and ID replaced by their defaults.
func (c ServiceConfig) withDefaults() ServiceConfig {
	c.Address = cmp.Or(c.Address, defaultAddress)
	c.HealthPath = cmp.Or(c.HealthPath, defaultHealthPath)
	c.ID = cmp.Or(c.ID, c.Name+"-"+c.Address+"-"+strconv.Itoa(c.Port))
	return c
}

// ServiceInfo returns the registration for config: its defaults applied, and an HTTP health
// check on HealthPath at Address and Port.
func (c ServiceConfig) ServiceInfo() ServiceInfo {
	c = c.withDefaults()
	info := ServiceInfo{ID: c.ID, Name: c.Name, Address: c.Address, Port: c.Port, Tags: c.Tags}
	info.Health = HealthCheck{
		HTTP:                           info.URL() + c.HealthPath,
		Interval:                       c.CheckInterval,
		Timeout:                        c.CheckTimeout,
		DeregisterCriticalServiceAfter: c.DeregisterCriticalServiceAfter,
	}.withDefaults()
	return info
}

// RegisterService registers the instance described by config, with its health check, in
// registry. It is RegisterServiceContext with a background context.
func RegisterService(registry ServiceRegistry, config ServiceConfig) error {
	return RegisterServiceContext(context.Background(), registry, config)
}

// RegisterServiceContext registers the instance described by config, with its health check, in
// registry.
func RegisterServiceContext(ctx context.Context, registry ServiceRegistry, config ServiceConfig) error {
	info := config.ServiceInfo()
	if err := registry.Register(ctx, info); err != nil {
		return fmt.Errorf("register %s: %w", info.ID, err)
	}
	return nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		return errors.New("service already started")
	}
	cfg := s.config
	cfg.Address = cmp.Or(cfg.Address, defaultAddress)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	cfg = cfg.withDefaults()
	info := cfg.ServiceInfo()

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+cfg.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	if s.handler != nil {
		mux.Handle("/", s.handler)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()

	if err := s.registry.Register(ctx, info); err != nil {
		_ = server.Close()
		<-served
		return fmt.Errorf("register %s: %w", info.ID, err)
	}
	s.server, s.info, s.served = server, info, served
	s.logger.InfoContext(ctx, "service started", "service", info.Name, "id", info.ID, "url", info.URL())
	return nil
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
	s.mu.Lock()
	server, info, served := s.server, s.info, s.served
	s.server = nil
	s.mu.Unlock()
	if server == nil {
		return nil
	}
	var errs []error
	if err := s.registry.Deregister(ctx, info.ID); err != nil {
		errs = append(errs, fmt.Errorf("deregister %s: %w", info.ID, err))
	}
	if err := server.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop serving: %w", err))
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serve: %w", err))
	}
	s.logger.InfoContext(ctx, "service stopped", "service", info.Name, "id", info.ID)
	return errors.Join(errs...)
}
