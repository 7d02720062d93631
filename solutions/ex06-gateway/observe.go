package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// unmatchedRoute is the route label of the requests that match no route.
const unmatchedRoute = "unmatched"

// observe is the outermost step of every routed request: it gives the request an ID and a
// client, and records the outcome in the metrics and the access log.
func (gw *APIGateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &requestState{id: gw.requestID(r), client: gw.clientIP(r).String(), gw: gw}
		w.Header().Set(RequestIDHeader, st.id)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))

		elapsed := time.Since(start)
		route := unmatchedRoute
		if st.route != nil {
			route = st.route.Path
		}
		gw.metrics.request(route, r.Method, rec.status(), elapsed)
		// The query string stays out of the log: it may hold a credential.
		gw.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", st.id),
			slog.String("route", route),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status()),
			slog.Duration("duration", elapsed),
			slog.String("client", st.clientID()))
	})
}

// requestID returns the request's X-Request-ID when it is a usable one (1 to 128 printable
// ASCII characters, no spaces), else a new ID.
func (gw *APIGateway) requestID(r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c <= ' ' || c > '~' }) {
		return gw.ids.next()
	}
	return id
}

// idSource makes request IDs: a random prefix, drawn once, and a counter. They are unique
// without reading the system's random source on every request.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	return &idSource{prefix: rand.Text()[:13] + "-"}
}

func (s *idSource) next() string {
	return s.prefix + strconv.FormatUint(s.n.Add(1), 36)
}

// peerIP returns the IP address of the connection's other end.
func peerIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// isTrusted reports whether ip belongs to one of the trusted proxies.
func (gw *APIGateway) isTrusted(ip netip.Addr) bool {
	for _, p := range gw.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP returns the client's IP address: the connection's peer, unless the peer is a
// trusted proxy; then, walking X-Forwarded-For from its end, the first address that is not a
// trusted proxy (anyone can write the start of the header, only the proxies its end).
func (gw *APIGateway) clientIP(r *http.Request) netip.Addr {
	ip := peerIP(r)
	if !gw.isTrusted(ip) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = hop.Unmap()
		if !gw.isTrusted(ip) {
			break
		}
	}
	return ip
}

// statusRecorder remembers the status code of the response it writes.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 { // 1xx responses come before the real one
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer's Flush: without it a streamed
// response would wait in a buffer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// latencyBuckets are the bounds, in seconds, of the latency histogram: from half a
// millisecond, the cost of a hop inside a data center, to ten seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics holds the gateway's Prometheus series. A nil *metrics records nothing.
//
//	gateway_requests_total{route, method, code}          requests answered
//	gateway_request_duration_seconds{route, method}      how long they took
//	gateway_upstream_errors_total{route}                 requests no upstream answered
//	gateway_rate_limited_total{route}                    requests refused with 429
//	gateway_auth_rejected_total{route}                   requests refused with 401
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	limited        *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	handler        http.Handler
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_requests_total",
			Help: "Requests answered by the gateway, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_request_duration_seconds",
			Help:    "Time the gateway took to answer a request, by route and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_errors_total",
			Help: "Requests that got no response from an upstream (refused, timed out, no instance), by route.",
		}, []string{"route"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_rate_limited_total",
			Help: "Requests refused by a rate limit, by route.",
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_auth_rejected_total",
			Help: "Requests refused for want of a valid token, by route.",
		}, []string{"route"}),
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.upstreamErrors, m.limited, m.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway metrics: %w", err)
		}
	}
	return m, nil
}

// methodLabel keeps the method label's values few: a client can send any method name.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "OTHER"
}

func (m *metrics) request(route, method string, code int, elapsed time.Duration) {
	if m != nil {
		method = methodLabel(method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
		m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
	}
}

func (m *metrics) upstreamError(route string) {
	if m != nil {
		m.upstreamErrors.WithLabelValues(route).Inc()
	}
}

func (m *metrics) rateLimited(route string) {
	if m != nil {
		m.limited.WithLabelValues(route).Inc()
	}
}

func (m *metrics) authRejected(route string) {
	if m != nil {
		m.rejected.WithLabelValues(route).Inc()
	}
}
