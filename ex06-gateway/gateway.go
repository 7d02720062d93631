// Package gateway is an API gateway: the one entry point in front of a set of services. It
// matches each request to a route, checks the caller's JWT, limits each client's request rate,
// picks a healthy instance of the route's service and proxies the request to it, and records
// what it did in Prometheus metrics and an access log.
//
// A request goes through these steps (README.md describes each one):
//
//	observe      request ID, client address, access log and metrics   (observe.go)
//	route        longest-prefix match, 404 and 405                    (gateway.go)
//	auth         AuthMiddleware, on routes with Auth                   (auth.go)
//	rate limit   RateLimitMiddleware, per client                       (ratelimit.go)
//	body limit   413 before anything is sent upstream                  (gateway.go)
//	proxy        httputil.ReverseProxy, balancing and passive health   (proxy.go)
//
// /health, /ready and /metrics are answered by the gateway itself, before any of these.
package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotImplemented is returned by the parts of the starter that are still to be written.
var ErrNotImplemented = errors.New("not implemented")

// ErrInvalidConfig is wrapped by the errors NewAPIGateway returns for a Config it cannot serve.
var ErrInvalidConfig = errors.New("invalid gateway config")

// The defaults of the zero fields of a Config.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultUpstreamTimeout = 30 * time.Second
	DefaultDownFor         = 10 * time.Second
)

// RequestIDHeader carries the request's ID to the upstream and back to the client.
const RequestIDHeader = "X-Request-ID"

// Clock tells the time. Inject a fake one in tests to move time forward without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Middleware wraps a handler with one more step of request handling.
type Middleware func(http.Handler) http.Handler

// RouteConfig sends the requests under one path prefix to one service.
type RouteConfig struct {
	// ServiceName is the name under which the route's instances are registered. Required.
	ServiceName string
	// Path is the route's prefix, such as "/api/users": it matches "/api/users" and everything
	// under "/api/users/", never "/api/usersx". The longest matching Path wins. Required; it
	// starts with "/".
	Path string
	// Methods lists the methods the route accepts, such as "GET"; others get 405. Default: empty,
	// every method.
	Methods []string
	// Auth requires a valid bearer token (see JWTConfig). Default: false.
	Auth bool
	// RateLimit limits each client on this route, with buckets of its own. Default: nil, the
	// gateway's Config.RateLimiter applies.
	RateLimit *RateLimit
}

// Config configures an APIGateway. Only Routes and Registry are needed to proxy; every other
// zero field takes the default written in its comment.
type Config struct {
	// Routes are the routes the gateway serves; each Path appears once.
	Routes []RouteConfig
	// Registry finds the healthy instances of each route's service. Required when there are
	// routes.
	Registry ServiceRegistry
	// Balancer picks the instance of each request among the healthy ones. Default:
	// NewRoundRobin().
	Balancer LoadBalancer
	// JWT verifies the bearer tokens of the routes with Auth. Required when a route has Auth.
	JWT JWTConfig
	// RateLimiter limits each client on the routes without a RateLimit of their own. Default:
	// nil, no limit.
	RateLimiter RateLimiter
	// TrustedProxies are the networks of the proxies in front of the gateway, whose
	// X-Forwarded-For header is believed. Default: none, the client is the connection's peer.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes is the largest request body sent upstream; a larger one gets 413. Default:
	// DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// UpstreamTimeout bounds the wait for an upstream's response headers; a slower upstream
	// gets the client a 504. Default: DefaultUpstreamTimeout (30s).
	UpstreamTimeout time.Duration
	// DownFor is how long an instance that refused a connection gets no requests. Default:
	// DefaultDownFor (10s).
	DownFor time.Duration
	// Metrics receives the gateway's Prometheus series, which it also serves on /metrics.
	// Default: nil, no metrics and no /metrics.
	Metrics *prometheus.Registry
	// Logger receives one access-log record per request. Default: nil, no log.
	Logger *slog.Logger
	// Clock tells the time for rate limits, token expiry and passive health. Default: the system
	// clock.
	Clock Clock
}

// APIGateway routes, authenticates, rate-limits and proxies requests; see the package
// documentation for the steps. Create one with NewAPIGateway. It is safe for concurrent use.
type APIGateway struct {
	routes     map[string]RouteConfig // by Path
	middleware []Middleware
	registry   ServiceRegistry
	limiter    RateLimiter

	// TODO(ex06.routing): add what the steps need: the reverse proxy, the trusted proxies, the
	// body limit, the JWT verifier, the metrics, the logger, the clock…
}

// NewAPIGateway returns a gateway for cfg, or an error wrapping ErrInvalidConfig.
func NewAPIGateway(cfg Config) (*APIGateway, error) {
	// TODO(ex06.routing): replace zero fields by their defaults, and refuse (ErrInvalidConfig) a
	// route whose Path does not start with "/", a route without ServiceName, a Path that appears
	// twice, and routes without a Registry.
	// TODO(ex06.routing): build one httputil.ReverseProxy with Rewrite (never Director), a
	// Transport that picks the instance (proxy.go) and an ErrorHandler that answers 502, 503 or
	// 504 with a JSON error.
	// TODO(ex06.jwt-auth): when a route has Auth, check cfg.JWT (Keys, Issuer and Audience are
	// required; only asymmetric algorithms) and build the verifier.
	// TODO(ex06.rate-limiting): give each route with a RateLimit its own ClientRateLimiter; the
	// others use cfg.RateLimiter, if any.
	// TODO(ex06.metrics-logging): register the metrics on cfg.Metrics (never on the global
	// registry) and keep cfg.Logger.
	return &APIGateway{registry: cfg.Registry, limiter: cfg.RateLimiter}, nil
}

// ServeHTTP answers the gateway's own endpoints, and proxies every other request that matches
// a route.
func (gw *APIGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		gw.health(w, r)
		return
	case "/ready":
		gw.ready(w, r)
		return
	}
	// TODO(ex06.metrics-logging): serve /metrics with promhttp.HandlerFor(the registry, …).
	// TODO(ex06.routing): give the request an ID (keep a usable X-Request-ID, else make one up)
	// and send it back in the response; match the cleaned path (path.Clean, keeping a trailing
	// slash) to the route with the longest Path (404 when none matches, 405 with Allow when the
	// route does not list the method); refuse a body over MaxBodyBytes with 413 before anything
	// is sent; proxy the rest.
	// TODO(ex06.jwt-auth), TODO(ex06.rate-limiting): on the matched route, run AuthMiddleware
	// when the route has Auth, then RateLimitMiddleware with the route's limiter.
	writeError(w, http.StatusNotImplemented, ErrNotImplemented.Error())
}

// writeError answers with status and a JSON body {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
