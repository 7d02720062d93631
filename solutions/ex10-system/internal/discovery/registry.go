// Package discovery is exercise 05's service discovery, given: a ServiceRegistry interface with
// two implementations, MemoryRegistry (the catalogue in memory; it runs the HTTP health checks
// itself) and ConsulServiceRegistry (an adapter over a Consul agent), and a round-robin
// LoadBalancer.
//
// An instance registers itself with an HTTP health check once it serves, callers ask Discover
// for the instances whose checks pass, and an instance deregisters itself before it stops
// serving.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// ErrNoHealthyInstances is returned by a LoadBalancer given no instance to pick from.
var ErrNoHealthyInstances = errors.New("no healthy instances")

// ErrInvalidService is returned by Register for a ServiceInfo that cannot be registered: an empty
// ID, Name or Address, or a port outside 1–65535.
var ErrInvalidService = errors.New("invalid service registration")

// ServiceRegistry is a catalogue of running service instances and of their health.
type ServiceRegistry interface {
	// Register adds an instance, or replaces the one registered with the same ID.
	Register(ctx context.Context, service ServiceInfo) error
	// Deregister removes the instance with this ID. Removing an unknown ID is not an error.
	Deregister(ctx context.Context, serviceID string) error
	// Discover returns the healthy instances of the named service, and an empty slice when there
	// is none. It fills ID, Name, Address, Port and Tags of each instance.
	Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error)
}

// ServiceInfo describes one instance of a service.
type ServiceInfo struct {
	// ID identifies this instance; it is unique in the registry.
	ID string
	// Name is the service's name, shared by all its instances; callers discover by name.
	Name string
	// Address is the host or IP address where the instance listens.
	Address string
	// Port is the TCP port where the instance listens.
	Port int
	// Tags are free-form labels, such as a version or a zone.
	Tags []string
	// Health is the check the registry runs to decide whether the instance gets traffic.
	Health HealthCheck
}

// URL returns the instance's base URL, such as "http://10.0.0.7:8080".
func (s ServiceInfo) URL() string {
	return "http://" + net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
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

// The defaults of the zero fields of a HealthCheck.
const (
	DefaultCheckInterval                  = 10 * time.Second
	DefaultCheckTimeout                   = 2 * time.Second
	DefaultDeregisterCriticalServiceAfter = time.Minute
)

// HealthCheck is an HTTP health check: the registry sends GET HTTP every Interval, and the
// instance is healthy while the answer is a 2xx that arrives within Timeout. A HealthCheck with
// an empty HTTP means no check: the instance is always healthy.
type HealthCheck struct {
	// HTTP is the URL to check, such as "http://10.0.0.7:8080/health".
	HTTP string
	// Interval is the time between two checks. Default: DefaultCheckInterval (10s).
	Interval time.Duration
	// Timeout bounds one check; a slower answer is a failure. Default: DefaultCheckTimeout (2s).
	Timeout time.Duration
	// DeregisterCriticalServiceAfter removes an instance whose check has failed for longer than
	// that.
	// Default: DefaultDeregisterCriticalServiceAfter (1m).
	DeregisterCriticalServiceAfter time.Duration
}

// withDefaults returns h with its zero or negative durations replaced by their defaults.
func (h HealthCheck) withDefaults() HealthCheck {
	if h.Interval <= 0 {
		h.Interval = DefaultCheckInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultCheckTimeout
	}
	if h.DeregisterCriticalServiceAfter <= 0 {
		h.DeregisterCriticalServiceAfter = DefaultDeregisterCriticalServiceAfter
	}
	return h
}
