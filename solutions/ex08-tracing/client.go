package tracing

import (
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// httpClientTimeout bounds each request of NewHTTPClient's client, body included.
const httpClientTimeout = 10 * time.Second

// NewHTTPClient returns an HTTP client whose requests are traced with tel: each request gets a
// client span, a child of the span in the request's context, and carries that span's context
// in its headers (traceparent), so that the server's span continues the trace. Requests time
// out after 10s.
func NewHTTPClient(tel Telemetry) *http.Client {
	return &http.Client{
		Transport: otelhttp.NewTransport(http.DefaultTransport,
			otelhttp.WithTracerProvider(tel.tracerProvider()),
			otelhttp.WithPropagators(tel.propagator()),
		),
		Timeout: httpClientTimeout,
	}
}
