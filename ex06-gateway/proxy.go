package gateway

import (
	"sync"
)

// LoadBalancer chooses the instance that gets the next request to a service.
type LoadBalancer interface {
	// Pick returns one of instances, which is never empty and is ordered by ID, for a request
	// to serviceName.
	Pick(serviceName string, instances []ServiceInfo) (ServiceInfo, error)
}

// RoundRobin is a LoadBalancer that hands out the instances of each service in turn. It is safe
// for concurrent use.
type RoundRobin struct {
	mu   sync.Mutex
	next map[string]uint64 // per service name: the number of requests picked so far
}

// NewRoundRobin returns a round-robin balancer, the gateway's default.
func NewRoundRobin() *RoundRobin {
	return &RoundRobin{next: map[string]uint64{}}
}

// Pick returns the instance after the one it returned last time for serviceName.
func (b *RoundRobin) Pick(serviceName string, instances []ServiceInfo) (ServiceInfo, error) {
	// TODO(ex06.load-balancing): keep one counter per service name, under the mutex, and return
	// instances[counter % len(instances)]; an empty slice is ErrNoHealthyInstances.
	return ServiceInfo{}, ErrNotImplemented
}

// TODO(ex06.load-balancing): write the reverse proxy's Transport, an http.RoundTripper that for
// each request:
//   - asks the registry for the instances of the route's service (Discover, on every request),
//     leaves out those marked down, sorts them by ID and lets the balancer pick one
//     (none left: an error wrapping ErrNoHealthyInstances, which the ErrorHandler turns into 503);
//   - sends a copy of the request to that instance (RoundTrip must not change the request);
//   - when the connection is refused (any error while dialing), marks the instance down for
//     Config.DownFor by the injected clock and, if the request is safe to send again (an
//     idempotent method and no body), tries the next healthy instance; when every instance tried
//     refused, the error is a 502.
//
// TODO(ex06.routing): the proxy's Rewrite sets the scheme and a placeholder host (the Transport
// puts the instance there), keeps the client's X-Forwarded-For only from a trusted proxy, calls
// SetXForwarded, and sets X-Request-ID. Give the transport a ResponseHeaderTimeout of
// Config.UpstreamTimeout: the ErrorHandler answers 504 to a timeout, 502 to any other error.
//
// TODO(ex06.jwt-auth): Rewrite also removes the client's own SubjectHeader, on every route, and
// sets it to the token's subject on an authenticated request.
