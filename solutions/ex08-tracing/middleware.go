package tracing

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// MiddlewareOption changes how TracingMiddleware works.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	propagator propagation.TextMapPropagator
}

// WithPropagator makes TracingMiddleware read the caller's trace context with p instead of
// Propagator().
func WithPropagator(p propagation.TextMapPropagator) MiddlewareOption {
	return func(c *middlewareConfig) { c.propagator = p }
}

// TracingMiddleware traces the requests that next serves, usually a whole *http.ServeMux. For
// each request it starts a server span that continues the caller's trace (a valid traceparent
// header) or starts a new one, and passes it on in the request's context. The span is named
// after the route the mux matched, "GET /users/{id}", or the method alone when no route
// matched; it carries the HTTP semantic-convention attributes, and its status is Error for a
// 5xx response or a panic, which is re-raised after the span ends.
func TracingMiddleware(tracer trace.Tracer, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	cfg := middlewareConfig{propagator: Propagator()}
	for _, opt := range opts {
		opt(&cfg)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A malformed traceparent extracts nothing: the span then starts a new trace.
			ctx := cfg.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			method := methodAttr(r.Method)
			ctx, span := tracer.Start(ctx, method.Value.AsString(),
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(requestAttrs(r, method)...),
			)
			defer span.End()

			rec := &statusRecorder{ResponseWriter: w}
			r = r.WithContext(ctx)
			defer func() {
				if p := recover(); p != nil {
					span.SetStatus(codes.Error, fmt.Sprint("panic: ", p))
					panic(p) // the deferred span.End records the panic as an exception event
				}
			}()
			next.ServeHTTP(rec, r)

			// The mux writes the pattern it matched into the request it was given, so it is
			// known only now. Naming the span after the raw path instead would make a span
			// name per user id.
			if route := routeOf(r.Pattern); route != "" {
				span.SetName(method.Value.AsString() + " " + route)
				span.SetAttributes(semconv.HTTPRoute(route))
			}
			status := rec.status()
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			// For a server, a 4xx is the client's mistake, not a failure of the span.
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
				span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			}
		})
	}
}

// knownMethods are the methods a span may be named after; any other is "_OTHER", so that a
// client cannot make up span names.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true,
	http.MethodOptions: true, http.MethodTrace: true,
}

// methodAttr returns the http.request.method attribute of method.
func methodAttr(method string) attribute.KeyValue {
	if knownMethods[method] {
		return semconv.HTTPRequestMethodKey.String(method)
	}
	return semconv.HTTPRequestMethodOther
}

// requestAttrs returns the attributes of a server span known before the request is served.
// Headers are left out on purpose: Authorization and Cookie carry credentials. So is the query
// string, which may carry them too.
func requestAttrs(r *http.Request, method attribute.KeyValue) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := []attribute.KeyValue{
		method,
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme),
		semconv.NetworkProtocolVersion(fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)),
	}
	if method == semconv.HTTPRequestMethodOther {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(r.Host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddress(host))
	}
	return attrs
}

// routeOf returns the path template of a ServeMux pattern ("GET /users/{id}" gives
// "/users/{id}"), or "" when no pattern matched.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// statusRecorder remembers the status code the handler sent.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

// WriteHeader records code, unless it is informational (1xx), and sends it.
func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 && code >= http.StatusOK {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write sends b, after an implicit 200 when the handler sent no status.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer's Flush and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// status returns the status code sent: 200 when the handler wrote nothing.
func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
