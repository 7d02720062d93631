// Package system is a complete e-commerce system of microservices: users, products, orders,
// inventory, payments and notifications, each with its own data and JSON API, behind an API
// gateway. Instances find each other through a service registry, call each other through
// circuit breakers, tell each other what happened through NATS JetStream events, and are
// observed through OpenTelemetry traces, Prometheus metrics and JSON logs.
//
// Start runs any part of it in this process: all of it, with two instances of each service, an
// embedded NATS server and an in-memory registry (cmd/shop), or one service that joins the others
// through a real NATS server and Consul (the programs of cmd/, one per service, as deploy/ runs
// them).
//
// The files:
//
//	config.go       Config, its defaults, and ConfigFromEnv
//	system.go       Start, Run, the running System and its shutdown
//	instance.go     one instance of a service: its HTTP server, health, readiness, metrics, logs, registration
//	client.go       calls from one service to another: discovery, breakers, timeouts, tracing
//	events.go       the events on NATS JetStream: the stream, publishing, durable consumers
//	gateway.go      the API gateway: routes, load balancing over the registry, passive health
//	users.go … notifications.go   the six services
//	httpjson.go     JSON answers and errors
package system

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/nats-io/nats-server/v2/server"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/discovery"
	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/telemetry"
)

// instrumentationName names the tracers of the services.
const instrumentationName = "github.com/microservices-workbook/workbook/ex10-system"

// ServiceRegistry is a catalogue of running service instances (exercise 05's).
type ServiceRegistry = discovery.ServiceRegistry

// ServiceInfo describes one registered instance of a service.
type ServiceInfo = discovery.ServiceInfo

// HealthCheck is the HTTP check a registry runs on an instance.
type HealthCheck = discovery.HealthCheck

// Instance is a running instance of a service.
type Instance struct {
	// ID identifies the instance in the registry, such as "order-2".
	ID string
	// Service is the service's name, such as "order".
	Service string
	// URL is the instance's base URL, such as "http://127.0.0.1:40123".
	URL string
}

// System is a running system, or the part of it that this process runs.
type System struct {
	cfg      Config
	logger   *slog.Logger
	registry ServiceRegistry
	data     *stores
	tracers  map[string]*sdktrace.TracerProvider // by service

	natsServer *server.Server // nil with an external NATS
	natsURL    string
	tempDir    string // the embedded server's store when Config.DataDir is empty

	stopRegistry context.CancelFunc
	registryDone chan struct{}

	gateway *gatewayServer

	mu        sync.Mutex
	instances map[string]*instance // by ID
	started   map[string]int       // instances started so far, by service: numbers the IDs
	down      bool
}

// Start starts the services cfg lists and returns once each instance serves and is registered.
// Stop it with Shutdown. The system keeps running after ctx ends; ctx bounds the start.
func Start(ctx context.Context, cfg Config) (*System, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &System{
		cfg:       cfg,
		logger:    cfg.Logger,
		data:      newStores(),
		tracers:   map[string]*sdktrace.TracerProvider{},
		instances: map[string]*instance{},
		started:   map[string]int{},
	}
	if err := s.start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		return nil, errors.Join(err, s.Shutdown(sctx))
	}
	return s, nil
}

// start brings up, in order, the registry, NATS, the tracer providers, the instances and the
// gateway.
func (s *System) start(ctx context.Context) error {
	if err := s.startRegistry(); err != nil {
		return err
	}
	if s.usesNATS() {
		if err := s.startNATS(); err != nil {
			return err
		}
	}
	for _, name := range s.cfg.Services {
		tp, err := telemetry.NewTracerProvider(ctx, telemetry.Config{
			ServiceName: name, Exporter: s.cfg.TraceExporter, Endpoint: s.cfg.TraceEndpoint,
			BatchTimeout: s.cfg.TraceBatchTimeout,
		})
		if err != nil {
			return err
		}
		s.tracers[name] = tp
	}
	for _, name := range s.cfg.Services {
		if name == GatewayService {
			continue
		}
		for range s.cfg.Instances[name] {
			if _, err := s.StartInstance(ctx, name); err != nil {
				return err
			}
		}
	}
	if s.cfg.runs(GatewayService) {
		gw, err := startGateway(ctx, s.cfg, s.registry, s.tracers[GatewayService], s.serviceLogger(GatewayService, GatewayService))
		if err != nil {
			return err
		}
		s.gateway = gw
	}
	s.checkNow(ctx)
	return nil
}

// startRegistry picks the registry: the configured one, Consul, or an in-memory one whose
// checks run every HealthInterval until Shutdown.
func (s *System) startRegistry() error {
	switch {
	case s.cfg.Registry != nil:
		s.registry = s.cfg.Registry
	case s.cfg.ConsulAddr != "":
		reg, err := discovery.NewConsulServiceRegistry(&consul.Config{Address: s.cfg.ConsulAddr})
		if err != nil {
			return err
		}
		s.registry = reg
	default:
		reg := discovery.NewMemoryRegistry(discovery.WithLogger(s.logger.With("component", "registry")))
		ctx, cancel := context.WithCancel(context.Background())
		s.registry, s.stopRegistry, s.registryDone = reg, cancel, make(chan struct{})
		go func() {
			defer close(s.registryDone)
			reg.Run(ctx, s.cfg.HealthInterval)
		}()
	}
	return nil
}

// checkNow runs the in-memory registry's checks at once, so that new instances are routable
// without waiting for the next round.
func (s *System) checkNow(ctx context.Context) {
	if reg, ok := s.registry.(*discovery.MemoryRegistry); ok {
		reg.CheckNow(ctx)
	}
}

// usesNATS reports whether a service this process runs publishes or consumes events.
func (s *System) usesNATS() bool {
	return slices.ContainsFunc(s.cfg.Services, func(name string) bool { return serviceUsesNATS(name) })
}

// startNATS starts the embedded NATS server with JetStream, unless Config.NATSURL names one.
func (s *System) startNATS() error {
	if s.cfg.NATSURL != "" {
		s.natsURL = s.cfg.NATSURL
		return nil
	}
	dir := s.cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "shop-nats-")
		if err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		dir, s.tempDir = tmp, tmp
	}
	ns, err := startEmbeddedNATS(dir)
	if err != nil {
		return err
	}
	s.natsServer, s.natsURL = ns, ns.ClientURL()
	return nil
}

// serviceLogger returns the logger of one instance: trace ids added, service and instance set.
func (s *System) serviceLogger(service, id string) *slog.Logger {
	return slog.New(telemetry.NewLogHandler(s.logger.Handler())).With("service", service, "instance", id)
}

// GatewayURL returns the gateway's base URL, or "" when this process runs no gateway.
func (s *System) GatewayURL() string {
	if s.gateway == nil {
		return ""
	}
	return s.gateway.url
}

// NATSURL returns the URL of the NATS server the services use, or "" when none does.
func (s *System) NATSURL() string { return s.natsURL }

// Instances returns the running instances, ordered by service, then ID.
func (s *System) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, 0, len(s.instances))
	for _, in := range s.instances {
		out = append(out, Instance{ID: in.info.ID, Service: in.info.Name, URL: in.info.URL()})
	}
	slices.SortFunc(out, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// StartInstance starts one more instance of a service (not the gateway): it serves, joins its
// service's events, and registers itself.
func (s *System) StartInstance(ctx context.Context, service string) (Instance, error) {
	if service == GatewayService || !slices.Contains(s.cfg.Services, service) {
		return Instance{}, fmt.Errorf("%w: this system runs no service %q to start an instance of", ErrInvalidConfig, service)
	}
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return Instance{}, errors.New("the system is shut down")
	}
	s.started[service]++
	n := s.started[service]
	s.mu.Unlock()

	id := service + "-" + strconv.Itoa(n)
	port := 0
	if n == 1 {
		port = s.cfg.Port
	}
	in, err := startInstance(ctx, instanceDeps{
		cfg: s.cfg, service: service, id: id, port: port, registry: s.registry, data: s.data,
		natsURL: s.natsURL, tracer: s.tracers[service], logger: s.serviceLogger(service, id),
	})
	if err != nil {
		return Instance{}, err
	}
	s.mu.Lock()
	s.instances[id] = in
	s.mu.Unlock()
	s.checkNow(ctx)
	return Instance{ID: id, Service: service, URL: in.info.URL()}, nil
}

// StopInstance stops one instance gracefully: it deregisters, stops taking requests, finishes
// those in flight and the event it is handling, and closes its NATS connection.
func (s *System) StopInstance(ctx context.Context, id string) error {
	s.mu.Lock()
	in, ok := s.instances[id]
	delete(s.instances, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no running instance %q", id)
	}
	return in.shutdown(ctx)
}

// shutdownOrder lists the services in the order they stop: callers before the services they
// call, publishers before consumers, so that every request in flight finds what it needs.
var shutdownOrder = [][]string{{OrderService}, {UserService, ProductService, PaymentService}, {InventoryService, NotificationService}}

// Shutdown stops the system gracefully within ctx: the gateway stops taking requests and
// finishes those in flight, then the services stop in shutdownOrder (each instance deregisters,
// drains its requests and its consumer, closes NATS), then the spans still batched are exported
// and the registry and the embedded NATS server stop. It returns every error met, joined.
func (s *System) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.down = true
	s.mu.Unlock()
	var errs []error
	if s.gateway != nil {
		errs = append(errs, s.gateway.shutdown(ctx))
	}
	for _, group := range shutdownOrder {
		s.mu.Lock()
		var stopping []*instance
		for id, in := range s.instances {
			if slices.Contains(group, in.info.Name) {
				stopping = append(stopping, in)
				delete(s.instances, id)
			}
		}
		s.mu.Unlock()
		groupErrs := make([]error, len(stopping))
		var wg sync.WaitGroup
		for i, in := range stopping {
			wg.Go(func() { groupErrs[i] = in.shutdown(ctx) })
		}
		wg.Wait()
		errs = append(errs, groupErrs...)
	}
	for name, tp := range s.tracers {
		if err := tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush the spans of %s: %w", name, err))
		}
	}
	if s.stopRegistry != nil {
		s.stopRegistry()
		<-s.registryDone
	}
	if s.natsServer != nil {
		s.natsServer.Shutdown()
		s.natsServer.WaitForShutdown()
	}
	if s.tempDir != "" {
		errs = append(errs, os.RemoveAll(s.tempDir))
	}
	return errors.Join(errs...)
}

// Run starts the system, calls started (when not nil) once it serves, and waits for ctx to end
// (a program's signal.NotifyContext on SIGTERM); then it shuts down within
// Config.ShutdownTimeout and returns nil when everything stopped cleanly.
func Run(ctx context.Context, cfg Config, started func(*System)) error {
	sys, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if started != nil {
		started(sys)
	}
	<-ctx.Done()
	timeout := sys.cfg.ShutdownTimeout
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	sys.logger.InfoContext(sctx, "shutting down", "timeout", timeout.String())
	if err := sys.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	sys.logger.InfoContext(sctx, "stopped")
	return nil
}

// startEmbeddedNATS starts a NATS server with JetStream on a free loopback port, its store in
// dir, and waits until it takes connections. Stop it with Shutdown, then WaitForShutdown.
// (Given.)
func startEmbeddedNATS(dir string) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS: not ready within 10s")
	}
	return ns, nil
}
