package breaker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the state of circuit breakers to Prometheus. One Metrics can serve many
// breakers: each series carries the breaker's name in its name label. A nil *Metrics records
// nothing.
//
// The series are:
//
//	circuit_breaker_state{name}                          0 closed, 1 open, 2 half-open
//	circuit_breaker_transitions_total{name, from, to}    state changes
//	circuit_breaker_requests_total{name, result}         calls by result: success, failure, rejected
type Metrics struct {
	// TODO(ex07.metrics): a *prometheus.GaugeVec for the state and two *prometheus.CounterVec
	// for the transitions and the call results.
}

// NewMetrics creates the breaker metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	// TODO(ex07.metrics): create the three vectors and register them with reg.Register,
	// returning its error wrapped with %w (not MustRegister: no panics). Then call the
	// breaker's metrics on every transition and every call.
	return nil, ErrNotImplemented
}
