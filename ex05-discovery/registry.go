// Package discovery lets services find each other at run time instead of through addresses
// written into their configuration.
//
// A service registers itself with a ServiceRegistry when it starts (Service, RegisterService),
// with an HTTP health check that the registry runs; callers ask the registry for the healthy
// instances of a service by name and spread their calls over them (ServiceDiscoveryClient with a
// LoadBalancer); and a service deregisters itself when it shuts down, before it stops serving.
//
// Two registries implement the same interface: ConsulServiceRegistry, an adapter over a real
// Consul agent, and MemoryRegistry, which keeps the catalogue in memory and runs the health
// checks itself on an injected clock.
package discovery

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"
)

// ErrNotImplemented is returned by the parts of the exercise that are still to be written.
var ErrNotImplemented = errors.New("not implemented")

// ErrNoHealthyInstances is returned by ServiceDiscoveryClient.GetServiceURL when the registry
// knows no healthy instance of the service.
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
	// TODO(ex05.auto-registration): reject an empty ID, Name or Address and a port outside 1–65535
	// with an error wrapping ErrInvalidService. Both registries call validate in Register.
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
