package discovery

import (
	"context"
	"math/rand/v2"
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
	// TODO(ex05.load-balancing): keep one counter per service name, under the mutex, and return
	// instances[counter % len(instances)]; an empty slice is ErrNoHealthyInstances.
	return ServiceInfo{}, ErrNotImplemented
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
	// TODO(ex05.load-balancing): draw an index with b.rng (under the mutex: a *rand.Rand is not
	// safe for concurrent use), or with rand.IntN when b.rng is nil. An empty slice is
	// ErrNoHealthyInstances.
	return ServiceInfo{}, ErrNotImplemented
}

// ServiceDiscoveryClient finds the URL of a healthy instance of a service for each call.
type ServiceDiscoveryClient struct {
	registry ServiceRegistry
	balancer LoadBalancer
}

// NewServiceDiscoveryClient returns a client that discovers instances in registry and spreads
// calls over them with balancer; a nil balancer means NewRoundRobin().
func NewServiceDiscoveryClient(registry ServiceRegistry, balancer LoadBalancer) *ServiceDiscoveryClient {
	// TODO(ex05.load-balancing): default a nil balancer to NewRoundRobin().
	return &ServiceDiscoveryClient{registry: registry, balancer: balancer}
}

// GetServiceURL returns the base URL of the healthy instance of serviceName that the balancer
// picks, such as "http://10.0.0.7:8080". With no healthy instance it returns an error wrapping
// ErrNoHealthyInstances; a registry failure comes back wrapped.
func (c *ServiceDiscoveryClient) GetServiceURL(ctx context.Context, serviceName string) (string, error) {
	// TODO(ex05.load-balancing): Discover the healthy instances (wrap a registry error with %w);
	// none is an error wrapping ErrNoHealthyInstances; sort a copy by ID so that round robin is
	// fair whatever order the registry used; return the URL of the instance the balancer picks.
	return "", ErrNotImplemented
}
