package discovery

import (
	"fmt"
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

// NewRoundRobin returns a round-robin balancer.
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
