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
// The files (README.md says which parts are given and which are yours):
//
//	config.go       Config, its defaults, and ConfigFromEnv (given)
//	system.go       Start, Run, the running System and its shutdown
//	instance.go     one instance of a service: its HTTP server, health, readiness, metrics, logs, registration
//	client.go       calls from one service to another: discovery, breakers, timeouts, tracing
//	events.go       the events on NATS JetStream: the stream, publishing, durable consumers
//	gateway.go      the API gateway: routes, load balancing over the registry, passive health
//	users.go … notifications.go   the six services
//	httpjson.go     JSON answers and errors (given)
//	internal/       the building blocks of exercises 05, 07 and 08 (given)
package system

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/microservices-workbook/workbook/ex10-system/internal/discovery"
)

// ErrNotImplemented is returned by the parts of the exercise that are still to be written.
var ErrNotImplemented = errors.New("not implemented")

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
	cfg Config
	// TODO(ex10.system-running): what a running system holds: the registry, the NATS server
	// it started (if any), each service's store and tracer provider, the running instances by
	// ID, the gateway.
}

// Start starts the services cfg lists and returns once each instance serves and is registered.
// Stop it with Shutdown. The system keeps running after ctx ends; ctx bounds the start.
func Start(ctx context.Context, cfg Config) (*System, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// TODO(ex10.system-running): bring the system up, in order:
	//   - the registry: cfg.Registry, or discovery.NewConsulServiceRegistry when cfg.ConsulAddr
	//     is set, or discovery.NewMemoryRegistry whose Run checks the instances every
	//     cfg.HealthInterval until Shutdown;
	//   - NATS, for the services that use it: cfg.NATSURL, or startEmbeddedNATS with its store
	//     in cfg.DataDir (or in a temporary directory, os.MkdirTemp, removed at Shutdown);
	//   - one tracer provider per service (telemetry.NewTracerProvider with the service's name
	//     and cfg's TraceExporter, TraceEndpoint and TraceBatchTimeout);
	//   - each service's store, shared by its instances;
	//   - cfg.Instances[name] instances of each service (StartInstance), then the gateway
	//     (startGateway) when cfg runs it.
	// When a step fails, stop what already runs and return the error.
	_, _ = ctx, cfg
	return nil, ErrNotImplemented
}

// GatewayURL returns the gateway's base URL, or "" when this process runs no gateway.
func (s *System) GatewayURL() string {
	// TODO(ex10.system-running)
	return ""
}

// NATSURL returns the URL of the NATS server the services use, or "" when none does.
func (s *System) NATSURL() string {
	// TODO(ex10.events)
	return ""
}

// Instances returns the running instances, ordered by service, then ID.
func (s *System) Instances() []Instance {
	// TODO(ex10.system-running)
	return nil
}

// StartInstance starts one more instance of a service (not the gateway): it serves, joins its
// service's events, and registers itself. Its ID is the service's name, a dash, and a number
// that no earlier instance of the service had ("order-3").
func (s *System) StartInstance(ctx context.Context, service string) (Instance, error) {
	// TODO(ex10.discovery): startInstance, then remember the instance. The first instance of a
	// service listens on cfg.Port (0: a free port), the others on a free port.
	return Instance{}, ErrNotImplemented
}

// StopInstance stops one instance gracefully: it deregisters, stops taking requests, finishes
// those in flight and the event it is handling, and closes its NATS connection.
func (s *System) StopInstance(ctx context.Context, id string) error {
	// TODO(ex10.discovery): forget the instance, then shut it down in that order.
	return ErrNotImplemented
}

// Shutdown stops the system gracefully within ctx: the gateway stops taking requests and
// finishes those in flight, then the services stop, callers before the services they call and
// publishers before consumers (order; then user, product and payment; then inventory and
// notification), each instance as StopInstance does; then the spans still batched are exported
// (each tracer provider's Shutdown) and the registry's checks and the embedded NATS server stop.
// It returns every error met, joined.
func (s *System) Shutdown(ctx context.Context) error {
	// TODO(ex10.graceful-shutdown)
	return ErrNotImplemented
}

// Run starts the system, calls started (when not nil) once it serves, and waits for ctx to end
// (a program's signal.NotifyContext on SIGTERM); then it shuts down within
// Config.ShutdownTimeout and returns nil when everything stopped cleanly.
func Run(ctx context.Context, cfg Config, started func(*System)) error {
	// TODO(ex10.graceful-shutdown): Start, started, wait for ctx, then Shutdown on a context
	// that ctx's cancellation does not reach (context.WithoutCancel) with the timeout.
	return ErrNotImplemented
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
