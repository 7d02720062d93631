package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
)

// ErrNoHealthyInstances is the error behind a 503: the registry knows no healthy instance of a
// route's service, or the gateway has marked them all down.
var ErrNoHealthyInstances = errors.New("no healthy instances")

// ErrInvalidService is returned by MemoryRegistry.Register for a ServiceInfo that cannot be
// registered: an empty ID, Name or Address, or a port outside 1–65535.
var ErrInvalidService = errors.New("invalid service registration")

// ServiceRegistry is a catalogue of running service instances, as in exercise 05. The gateway
// asks it for the healthy instances of a route's service on every request.
type ServiceRegistry interface {
	// Register adds an instance, or replaces the one registered with the same ID.
	Register(ctx context.Context, service ServiceInfo) error
	// Deregister removes the instance with this ID. Removing an unknown ID is not an error.
	Deregister(ctx context.Context, serviceID string) error
	// Discover returns the healthy instances of the named service, and an empty slice when there
	// is none. The caller owns the slice.
	Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error)
}

// ServiceInfo describes one instance of a service.
type ServiceInfo struct {
	// ID identifies this instance; it is unique in the registry.
	ID string
	// Name is the service's name, shared by all its instances; routes name it.
	Name string
	// Address is the host or IP address where the instance listens.
	Address string
	// Port is the TCP port where the instance listens.
	Port int
	// Tags are free-form labels, such as a version or a zone.
	Tags []string
}

// HostPort returns the instance's address in the form "host:port".
func (s ServiceInfo) HostPort() string {
	return net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
}

// validate reports why s cannot be registered, wrapping ErrInvalidService.
func (s ServiceInfo) validate() error {
	switch {
	case s.ID == "":
		return fmt.Errorf("%w: empty ID", ErrInvalidService)
	case s.Name == "":
		return fmt.Errorf("%w %q: empty Name", ErrInvalidService, s.ID)
	case s.Address == "":
		return fmt.Errorf("%w %q: empty Address", ErrInvalidService, s.ID)
	case s.Port < 1 || s.Port > 65535:
		return fmt.Errorf("%w %q: port %d out of range", ErrInvalidService, s.ID, s.Port)
	}
	return nil
}

// MemoryRegistry is a ServiceRegistry held in memory: every registered instance counts as
// healthy until it is deregistered. It is safe for concurrent use.
type MemoryRegistry struct {
	mu        sync.RWMutex
	instances map[string]ServiceInfo
}

// NewMemoryRegistry returns an empty registry.
func NewMemoryRegistry() *MemoryRegistry {
	return &MemoryRegistry{instances: map[string]ServiceInfo{}}
}

// Register adds the instance, or replaces the one with the same ID.
func (r *MemoryRegistry) Register(ctx context.Context, service ServiceInfo) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("register %s: %w", service.ID, err)
	}
	if err := service.validate(); err != nil {
		return err
	}
	service.Tags = slices.Clone(service.Tags)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[service.ID] = service
	return nil
}

// Deregister removes the instance with this ID; an unknown ID is not an error.
func (r *MemoryRegistry) Deregister(ctx context.Context, serviceID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deregister %s: %w", serviceID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.instances, serviceID)
	return nil
}

// Discover returns copies of the instances of serviceName, ordered by ID.
func (r *MemoryRegistry) Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover %s: %w", serviceName, err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []ServiceInfo{}
	for _, in := range r.instances {
		if in.Name == serviceName {
			in.Tags = slices.Clone(in.Tags)
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b ServiceInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
