package breaker

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label of circuit_breaker_requests_total.
const (
	resultSuccess  = "success"
	resultFailure  = "failure"
	resultRejected = "rejected"
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
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	requests    *prometheus.CounterVec
}

// NewMetrics creates the breaker metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("breaker metrics: nil registerer")
	}
	m := &Metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "circuit_breaker_state",
			Help: "Current state of the circuit breaker: 0 closed, 1 open, 2 half-open.",
		}, []string{"name"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "circuit_breaker_transitions_total",
			Help: "State changes of the circuit breaker.",
		}, []string{"name", "from", "to"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "circuit_breaker_requests_total",
			Help: "Calls through the circuit breaker by result: success, failure or rejected.",
		}, []string{"name", "result"}),
	}
	for _, c := range []prometheus.Collector{m.state, m.transitions, m.requests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("breaker metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) setState(name string, state CircuitBreakerState) {
	if m != nil {
		m.state.WithLabelValues(name).Set(float64(state))
	}
}

func (m *Metrics) recordTransition(name string, from, to CircuitBreakerState) {
	if m != nil {
		m.state.WithLabelValues(name).Set(float64(to))
		m.transitions.WithLabelValues(name, from.String(), to.String()).Inc()
	}
}

func (m *Metrics) countRequest(name, result string) {
	if m != nil {
		m.requests.WithLabelValues(name, result).Inc()
	}
}
