package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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
// one. It replaces an instance registered with the same ID, checks included.
func (r *ConsulServiceRegistry) Register(ctx context.Context, service ServiceInfo) error {
	if err := service.validate(); err != nil {
		return err
	}
	reg := &consul.AgentServiceRegistration{
		ID:      service.ID,
		Name:    service.Name,
		Address: service.Address,
		Port:    service.Port,
		Tags:    service.Tags,
	}
	if service.Health.HTTP != "" {
		h := service.Health.withDefaults()
		reg.Check = &consul.AgentServiceCheck{
			HTTP:                           h.HTTP,
			Interval:                       h.Interval.String(),
			Timeout:                        h.Timeout.String(),
			DeregisterCriticalServiceAfter: h.DeregisterCriticalServiceAfter.String(),
		}
	}
	opts := consul.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.client.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return fmt.Errorf("consul: register %s: %w", service.ID, err)
	}
	return nil
}

// Deregister removes the instance, and its checks, from the local agent. An ID the agent does
// not know (404) is not an error: the agent may have reaped the instance already.
func (r *ConsulServiceRegistry) Deregister(ctx context.Context, serviceID string) error {
	q := (&consul.QueryOptions{}).WithContext(ctx)
	err := r.client.Agent().ServiceDeregisterOpts(serviceID, q)
	var status consul.StatusError
	if errors.As(err, &status) && status.Code == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("consul: deregister %s: %w", serviceID, err)
	}
	return nil
}

// Discover returns the instances of serviceName whose checks all pass. An instance registered
// without an address gets its node's address, as Consul's DNS interface does.
func (r *ConsulServiceRegistry) Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error) {
	q := (&consul.QueryOptions{}).WithContext(ctx)
	entries, _, err := r.client.Health().Service(serviceName, "", true, q)
	if err != nil {
		return nil, fmt.Errorf("consul: discover %s: %w", serviceName, err)
	}
	out := make([]ServiceInfo, 0, len(entries))
	for _, e := range entries {
		if e.Service == nil {
			continue
		}
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		out = append(out, ServiceInfo{
			ID:      e.Service.ID,
			Name:    e.Service.Service,
			Address: addr,
			Port:    e.Service.Port,
			Tags:    e.Service.Tags,
		})
	}
	return out, nil
}
