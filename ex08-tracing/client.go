package tracing

import (
	"net/http"
	"time"
)

// httpClientTimeout bounds each request of NewHTTPClient's client, body included.
const httpClientTimeout = 10 * time.Second

// NewHTTPClient returns an HTTP client whose requests are traced with tel: each request gets a
// client span, a child of the span in the request's context, and carries that span's context
// in its headers (traceparent), so that the server's span continues the trace. Requests time
// out after 10s.
func NewHTTPClient(tel Telemetry) *http.Client {
	// TODO(ex08.propagation): give the client a transport that traces each request:
	// otelhttp.NewTransport(http.DefaultTransport, …) with tel.tracerProvider() and
	// tel.propagator() (otelhttp.WithTracerProvider, otelhttp.WithPropagators).
	return &http.Client{Timeout: httpClientTimeout}
}
