package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"time"
)

// errUpstreamRefused is behind a 502: every instance tried refused the connection.
var errUpstreamRefused = errors.New("upstream refused the connection")

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
	if len(instances) == 0 {
		return ServiceInfo{}, fmt.Errorf("%w: %s", ErrNoHealthyInstances, serviceName)
	}
	b.mu.Lock()
	n := b.next[serviceName]
	b.next[serviceName] = n + 1
	b.mu.Unlock()
	return instances[n%uint64(len(instances))], nil
}

// newTransport returns the transport to the upstreams. It keeps enough idle connections for a
// gateway, which sends much of its traffic to a few hosts, and never goes through the proxy
// named in the environment.
func newTransport(headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// upstreams is the proxy's transport. For each request it picks a healthy instance of the
// route's service and sends the request there. An instance that refuses the connection is
// marked down for downFor (passive health: no probe, the failed request is the probe), and a
// request that is safe to send again goes to the next instance.
type upstreams struct {
	registry  ServiceRegistry
	balancer  LoadBalancer
	transport http.RoundTripper
	clock     Clock
	downFor   time.Duration

	mu        sync.Mutex
	downUntil map[string]time.Time // by instance ID
}

// RoundTrip sends req to an instance of its route's service.
func (u *upstreams) RoundTrip(req *http.Request) (*http.Response, error) {
	service := stateOf(req.Context()).route.ServiceName
	var tried []string
	var refused error
	for {
		inst, err := u.pick(req.Context(), service, tried)
		if err != nil {
			if refused != nil {
				return nil, refused
			}
			return nil, err
		}
		// RoundTrip must not change req: send a copy that names the instance.
		out, target := *req, *req.URL
		target.Host = inst.HostPort()
		out.URL = &target
		resp, err := u.transport.RoundTrip(&out)
		if !isDialError(err) {
			return resp, err
		}
		u.markDown(inst.ID)
		tried = append(tried, inst.ID)
		refused = fmt.Errorf("%w: %s: %w", errUpstreamRefused, inst.ID, err)
		if !resendable(req) {
			return nil, refused
		}
	}
}

// pick returns the instance of service that the balancer chooses among those that the registry
// returns, are not marked down and are not in tried.
func (u *upstreams) pick(ctx context.Context, service string, tried []string) (ServiceInfo, error) {
	healthy, err := u.healthy(ctx, service)
	if err != nil {
		return ServiceInfo{}, err
	}
	healthy = slices.DeleteFunc(healthy, func(s ServiceInfo) bool { return slices.Contains(tried, s.ID) })
	if len(healthy) == 0 {
		return ServiceInfo{}, fmt.Errorf("%w: %s", ErrNoHealthyInstances, service)
	}
	return u.balancer.Pick(service, healthy)
}

// healthy returns the instances of service that the registry returns, less those marked down,
// ordered by ID.
func (u *upstreams) healthy(ctx context.Context, service string) ([]ServiceInfo, error) {
	instances, err := u.registry.Discover(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: registry: %w", ErrNoHealthyInstances, service, err)
	}
	now := u.clock.Now()
	u.mu.Lock()
	instances = slices.DeleteFunc(instances, func(s ServiceInfo) bool { return now.Before(u.downUntil[s.ID]) })
	u.mu.Unlock()
	// Registries may return instances in any order; round robin needs the same order each time.
	slices.SortFunc(instances, func(a, b ServiceInfo) int { return cmp.Compare(a.ID, b.ID) })
	return instances, nil
}

// markDown keeps the instance out of the healthy set for downFor.
func (u *upstreams) markDown(id string) {
	until := u.clock.Now().Add(u.downFor)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.downUntil[id] = until
}

// isDialError reports whether err happened while connecting, before anything was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// resendable reports whether req may be sent to another instance: its method is idempotent
// (RFC 9110, section 9.2.2) and it has no body that the first attempt may have used up.
func resendable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// rewrite prepares the request the proxy sends upstream. The transport fills in the instance.
func (gw *APIGateway) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.route.ServiceName
	// The proxy has dropped the client's X-Forwarded-* headers; keep the client's
	// X-Forwarded-For only when the client is a proxy we trust to have written it.
	if gw.isTrusted(peerIP(pr.In)) {
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	pr.Out.Header.Set(RequestIDHeader, st.id)
	// Only the gateway says who the caller is: a client's own copy of the header goes.
	pr.Out.Header.Del(SubjectHeader)
	if st.subject != "" {
		pr.Out.Header.Set(SubjectHeader, st.subject)
	}
}

// proxyError answers a request that got no response from an upstream: 503 when there was no
// healthy instance to send it to, 504 when the upstream was too slow, 502 otherwise.
func (gw *APIGateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	status, msg := http.StatusBadGateway, "upstream unavailable"
	var netErr net.Error
	switch {
	case errors.Is(err, ErrNoHealthyInstances):
		status, msg = http.StatusServiceUnavailable, "no healthy upstream instance"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		status, msg = http.StatusGatewayTimeout, "upstream timed out"
	}
	gw.metrics.upstreamError(st.route.Path)
	gw.logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream error",
		slog.String("request_id", st.id),
		slog.String("route", st.route.Path),
		slog.Any("error", err))
	writeError(w, status, msg)
}
