package discovery

import (
	"context"
	"fmt"

	consul "github.com/hashicorp/consul/api"
)

// ConsulServiceRegistry is a ServiceRegistry backed by a Consul agent. The agent runs the health
// checks; Discover asks it for the instances whose checks pass.
type ConsulServiceRegistry struct {
	client *consul.Client
}

// NewConsulServiceRegistry returns a registry that talks to the agent described by config, for
// example &api.Config{Address: "127.0.0.1:8500"}. A nil config means consul.DefaultConfig(),
// which reads CONSUL_HTTP_ADDR and the other CONSUL_* variables.
func NewConsulServiceRegistry(config *consul.Config) (*ConsulServiceRegistry, error) {
	if config == nil {
		config = consul.DefaultConfig()
	}
	client, err := consul.NewClient(config)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return &ConsulServiceRegistry{client: client}, nil
}

// Register registers the instance with the local agent, with its HTTP health check when it has
// one. It replaces an instance registered with the same ID.
func (r *ConsulServiceRegistry) Register(ctx context.Context, service ServiceInfo) error {
	// TODO(ex05.auto-registration): validate service (an invalid one is ErrInvalidService and
	// never reaches the agent), then send an *consul.AgentServiceRegistration (ID, Name, Address,
	// Port, Tags) with r.client.Agent().ServiceRegisterOpts. When service.Health.HTTP is set, add
	// Check: &consul.AgentServiceCheck{HTTP, Interval, Timeout, DeregisterCriticalServiceAfter},
	// durations as strings ("10s") after applying the defaults. Pass ctx with
	// consul.ServiceRegisterOpts{...}.WithContext(ctx); wrap errors with %w.
	return ErrNotImplemented
}

// Deregister removes the instance, and its checks, from the local agent. An ID the agent does
// not know (404) is not an error: the agent may have reaped the instance already.
func (r *ConsulServiceRegistry) Deregister(ctx context.Context, serviceID string) error {
	// TODO(ex05.graceful-deregistration): r.client.Agent().ServiceDeregisterOpts with
	// (&consul.QueryOptions{}).WithContext(ctx). A consul.StatusError with Code 404 is not an error;
	// wrap the others with %w.
	return ErrNotImplemented
}

// Discover returns the instances of serviceName whose checks all pass. An instance registered
// without an address gets its node's address, as Consul's DNS interface does.
func (r *ConsulServiceRegistry) Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error) {
	// TODO(ex05.health-checks): r.client.Health().Service(serviceName, "", true, q) — passingOnly
	// true, q carrying ctx — and turn each entry into a ServiceInfo (Service.Address, or
	// Node.Address when empty). Wrap the agent's errors with %w.
	return nil, ErrNotImplemented
}
