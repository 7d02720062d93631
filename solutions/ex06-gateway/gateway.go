// Package gateway is an API gateway: the one entry point in front of a set of services. It
// matches each request to a route, checks the caller's JWT, limits each client's request rate,
// picks a healthy instance of the route's service and proxies the request to it, and records
// what it did in Prometheus metrics and an access log.
//
// A request goes through these steps, each in one place:
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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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
	routes     map[string]*route // by Path
	middleware []Middleware      // around every request that is not a gateway endpoint
	registry   ServiceRegistry
	limiter    RateLimiter

	handler   http.Handler            // routing wrapped in middleware
	endpoints map[string]http.Handler // /health, /ready, /metrics
	upstreams *upstreams
	auth      *verifier
	trusted   []netip.Prefix
	ids       *idSource
	maxBody   int64
	metrics   *metrics
	logger    *slog.Logger
}

// route is a RouteConfig ready to serve.
type route struct {
	RouteConfig
	allow   string       // the Allow header of a 405
	handler http.Handler // auth, rate limit, body limit, proxy
}

// NewAPIGateway returns a gateway for cfg, or an error wrapping ErrInvalidConfig.
func NewAPIGateway(cfg Config) (*APIGateway, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Routes) > 0 && cfg.Registry == nil {
		return nil, fmt.Errorf("%w: routes need a Registry", ErrInvalidConfig)
	}
	gw := &APIGateway{
		routes:   make(map[string]*route, len(cfg.Routes)),
		registry: cfg.Registry,
		limiter:  cfg.RateLimiter,
		trusted:  slices.Clone(cfg.TrustedProxies),
		ids:      newIDSource(),
		maxBody:  cfg.MaxBodyBytes,
		logger:   cfg.Logger,
		upstreams: &upstreams{
			registry:  cfg.Registry,
			balancer:  cfg.Balancer,
			transport: newTransport(cfg.UpstreamTimeout),
			clock:     cfg.Clock,
			downFor:   cfg.DownFor,
			downUntil: map[string]time.Time{},
		},
	}
	if slices.ContainsFunc(cfg.Routes, func(r RouteConfig) bool { return r.Auth }) {
		v, err := newVerifier(cfg.JWT, cfg.Clock)
		if err != nil {
			return nil, err
		}
		gw.auth = v
	}
	if cfg.Metrics != nil {
		m, err := newMetrics(cfg.Metrics)
		if err != nil {
			return nil, err
		}
		gw.metrics = m
	}

	proxy := &httputil.ReverseProxy{
		Rewrite:      gw.rewrite,
		Transport:    gw.upstreams,
		ErrorHandler: gw.proxyError,
		ErrorLog:     slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	for _, rc := range cfg.Routes {
		if err := rc.validate(); err != nil {
			return nil, err
		}
		if _, dup := gw.routes[rc.Path]; dup {
			return nil, fmt.Errorf("%w: route %q appears twice", ErrInvalidConfig, rc.Path)
		}
		// The steps of one route, outermost first: a request is authenticated before it counts
		// against its client's limit, and its body is read only once it has passed both.
		var chain []Middleware
		if rc.Auth {
			chain = append(chain, AuthMiddleware)
		}
		limiter := gw.limiter
		if rc.RateLimit != nil {
			l, err := NewClientRateLimiter(*rc.RateLimit, cfg.Clock)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", rc.Path, err)
			}
			limiter = l
		}
		if limiter != nil {
			chain = append(chain, RateLimitMiddleware(limiter))
		}
		chain = append(chain, gw.limitBody)
		rc.Methods = slices.Clone(rc.Methods) // the caller's slice stays the caller's
		rt := &route{RouteConfig: rc, allow: strings.Join(rc.Methods, ", ")}
		rt.handler = wrap(proxy, chain...)
		gw.routes[rc.Path] = rt
	}

	gw.middleware = []Middleware{gw.observe}
	gw.handler = wrap(http.HandlerFunc(gw.route), gw.middleware...)
	gw.endpoints = map[string]http.Handler{
		"/health": http.HandlerFunc(gw.health),
		"/ready":  http.HandlerFunc(gw.ready),
	}
	if gw.metrics != nil {
		gw.endpoints["/metrics"] = gw.metrics.handler
	}
	return gw, nil
}

// withDefaults returns c with its zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Balancer == nil {
		c.Balancer = NewRoundRobin()
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.DownFor <= 0 {
		c.DownFor = DefaultDownFor
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
}

// validate reports why r cannot be served, wrapping ErrInvalidConfig.
func (r RouteConfig) validate() error {
	switch {
	case !strings.HasPrefix(r.Path, "/"):
		return fmt.Errorf("%w: route path %q does not start with /", ErrInvalidConfig, r.Path)
	case r.ServiceName == "":
		return fmt.Errorf("%w: route %q has no ServiceName", ErrInvalidConfig, r.Path)
	case slices.Contains(r.Methods, ""):
		return fmt.Errorf("%w: route %q lists an empty method", ErrInvalidConfig, r.Path)
	}
	return nil
}

// wrap returns h inside mws, the first one outermost.
func wrap(h http.Handler, mws ...Middleware) http.Handler {
	for _, mw := range slices.Backward(mws) {
		h = mw(h)
	}
	return h
}

// ServeHTTP answers the gateway's own endpoints, and proxies every other request that matches
// a route.
func (gw *APIGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := gw.endpoints[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	gw.handler.ServeHTTP(w, r)
}

// route finds the request's route and hands the request to it.
func (gw *APIGateway) route(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r.Context())
	p := cleanPath(r.URL.Path)
	rt := gw.match(p)
	if rt == nil {
		writeError(w, http.StatusNotFound, "no route for this path")
		return
	}
	st.route = rt
	if len(rt.Methods) > 0 && !slices.Contains(rt.Methods, r.Method) {
		w.Header().Set("Allow", rt.allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed on this route")
		return
	}
	if p != r.URL.Path {
		// The upstream gets the path that was matched, so that "/public/../admin" cannot
		// reach an admin route through a public one.
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = p, ""
	}
	rt.handler.ServeHTTP(w, r)
}

// match returns the route with the longest Path that matches p, or nil. A Path matches p when
// it equals p, or is a prefix of p that ends at a "/" of p.
func (gw *APIGateway) match(p string) *route {
	if rt, ok := gw.routes[p]; ok {
		return rt
	}
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != '/' {
			continue
		}
		if rt, ok := gw.routes[p[:i+1]]; ok { // "/api/" for "/api/x"
			return rt
		}
		if rt, ok := gw.routes[p[:i]]; ok && i > 0 { // "/api" for "/api/x"
			return rt
		}
	}
	return nil
}

// cleanPath returns p without "." and ".." segments or repeated slashes, keeping a trailing
// slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// limitBody answers 413 for a body larger than MaxBodyBytes, before anything is sent upstream.
// A body of unknown length (chunked) is read into memory, up to the limit, to find out.
func (gw *APIGateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.ContentLength > gw.maxBody:
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		case r.ContentLength < 0:
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, gw.maxBody))
			if err != nil {
				if errors.As(err, new(*http.MaxBytesError)) {
					writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
				} else {
					writeError(w, http.StatusBadRequest, "could not read the request body")
				}
				return
			}
			r = r.Clone(r.Context())
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			r.TransferEncoding = nil
		}
		next.ServeHTTP(w, r)
	})
}

// requestState is what the steps of one request learn about it, for the steps after them and
// for the access log.
type requestState struct {
	id      string
	client  string // the client's IP address
	subject string // the token's subject, on an authenticated request
	route   *route
	gw      *APIGateway
}

// clientID identifies the client to rate limits and in the access log: the token's subject
// when the request is authenticated, else the client's IP address.
func (st *requestState) clientID() string {
	if st.subject != "" {
		return st.subject
	}
	return st.client
}

type stateKey struct{}

// stateOf returns the state that observe attached to ctx, or nil outside a gateway.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// writeError answers with status and a JSON body {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
