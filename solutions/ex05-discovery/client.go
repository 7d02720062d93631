package discovery

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
)

// LoadBalancer chooses the instance that gets the next call to a service.
type LoadBalancer interface {
	// Pick returns one of instances, which is never empty and is ordered by ID, for a call to
	// serviceName.
	Pick(serviceName string, instances []ServiceInfo) (ServiceInfo, error)
}

// RoundRobin is a LoadBalancer that hands out the instances of each service in turn. It is safe
// for concurrent use.
type RoundRobin struct {
	mu   sync.Mutex
	next map[string]uint64 // per service name: the number of calls picked so far
}

// NewRoundRobin returns a round-robin balancer, the default of ServiceDiscoveryClient.
func NewRoundRobin() *RoundRobin {
	return &RoundRobin{next: map[string]uint64{}}
}

// Pick returns the instance after the one it returned last time for serviceName.
func (b *RoundRobin) Pick(serviceName string, instances []ServiceInfo) (ServiceInfo, error) {
	if len(instances) == 0 {
		return ServiceInfo{}, fmt.Errorf("%w: %s", ErrNoHealthyInstances, serviceName)
	}
	b.mu.Lock()
	n := b.next[serviceName]
	b.next[serviceName] = n + 1
	b.mu.Unlock()
	return instances[n%uint64(len(instances))], nil
}

// Random is a LoadBalancer that picks an instance at random. It is safe for concurrent use.
type Random struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewRandom returns a random balancer that draws from src, or from the runtime's random source
// when src is nil. Pass a seeded source, such as rand.NewPCG(1, 2), for a repeatable sequence.
func NewRandom(src rand.Source) *Random {
	b := &Random{}
	if src != nil {
		b.rng = rand.New(src)
	}
	return b
}

// Pick returns one of instances, each as likely as the others.
func (b *Random) Pick(serviceName string, instances []ServiceInfo) (ServiceInfo, error) {
	if len(instances) == 0 {
		return ServiceInfo{}, fmt.Errorf("%w: %s", ErrNoHealthyInstances, serviceName)
	}
	if b.rng == nil {
		return instances[rand.IntN(len(instances))], nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return instances[b.rng.IntN(len(instances))], nil
}

// ServiceDiscoveryClient finds the URL of a healthy instance of a service for each call.
type ServiceDiscoveryClient struct {
	registry ServiceRegistry
	balancer LoadBalancer
}

// NewServiceDiscoveryClient returns a client that discovers instances in registry and spreads
// calls over them with balancer; a nil balancer means NewRoundRobin().
func NewServiceDiscoveryClient(registry ServiceRegistry, balancer LoadBalancer) *ServiceDiscoveryClient {
	if balancer == nil {
		balancer = NewRoundRobin()
	}
	return &ServiceDiscoveryClient{registry: registry, balancer: balancer}
}

// GetServiceURL returns the base URL of the healthy instance of serviceName that the balancer
// picks, such as "http://10.0.0.7:8080". With no healthy instance it returns an error wrapping
// ErrNoHealthyInstances; a registry failure comes back wrapped.
func (c *ServiceDiscoveryClient) GetServiceURL(ctx context.Context, serviceName string) (string, error) {
	instances, err := c.registry.Discover(ctx, serviceName)
	if err != nil {
		return "", fmt.Errorf("discover %s: %w", serviceName, err)
	}
	if len(instances) == 0 {
		return "", fmt.Errorf("%w: %s", ErrNoHealthyInstances, serviceName)
	}
	// Registries return instances in any order; sorting keeps round robin fair.
	instances = slices.Clone(instances)
	slices.SortFunc(instances, func(a, b ServiceInfo) int { return cmp.Compare(a.ID, b.ID) })
	picked, err := c.balancer.Pick(serviceName, instances)
	if err != nil {
		return "", fmt.Errorf("pick an instance of %s: %w", serviceName, err)
	}
	return picked.URL(), nil
}
