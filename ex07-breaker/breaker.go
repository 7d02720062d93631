// Package breaker implements the circuit breaker pattern: a breaker watches the results of calls to
// a dependency and, once that dependency looks unhealthy, fails fast instead of calling it, then
// lets a few trial requests through after a while to find out whether it has recovered.
//
// The breaker is a state machine driven by call results and by an injected clock. It starts no
// goroutines and no timers: the move from open to half-open happens lazily, on the first call
// (or State, or Counts) made after the open timeout has passed.
package breaker

import (
	"context"
	"errors"
	"time"
)

// ErrNotImplemented is returned by the parts of the exercise that are still to be written.
var ErrNotImplemented = errors.New("not implemented")

// ErrOpenState is returned, without calling the function, while the breaker is open.
var ErrOpenState = errors.New("circuit breaker is open")

// ErrTooManyRequests is returned, without calling the function, while the breaker is half-open
// and already has MaxHalfOpenRequests trial requests.
var ErrTooManyRequests = errors.New("circuit breaker is half-open: too many requests")

// CircuitBreakerState is the state of a CircuitBreaker.
type CircuitBreakerState int

const (
	// StateClosed lets every call through and counts the results.
	StateClosed CircuitBreakerState = iota
	// StateOpen rejects every call with ErrOpenState until OpenTimeout has passed.
	StateOpen
	// StateHalfOpen lets up to MaxHalfOpenRequests trial calls through to probe the dependency.
	StateHalfOpen
)

// String returns "closed", "open" or "half-open"; these are also the metric label values.
func (s CircuitBreakerState) String() string {
	// TODO(ex07.metrics): return "closed", "open" or "half-open"; the metrics use these names as
	// label values and OnStateChange logs show them.
	return "unknown"
}

// Clock tells the time. Inject a fake one in tests to move time forward without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// CircuitBreakerConfig configures a CircuitBreaker. The zero value is a valid configuration: a zero
// field takes the default written in its comment, and so does a negative one.
type CircuitBreakerConfig struct {
	// Name identifies the breaker in metrics and in OnStateChange. Default: "".
	Name string

	// MaxConsecutiveFailures trips the breaker when that many calls in a row have failed in the
	// closed state. Default: 5.
	MaxConsecutiveFailures int

	// FailureRatio also trips the breaker when, in the closed state, failures make up at least
	// this share of the completed calls, once there are MinRequests of them. Default: 0, which
	// disables the rule; a value above 1 is treated as 1.
	FailureRatio float64

	// MinRequests is how many completed calls FailureRatio needs before it applies. Default: 10.
	MinRequests int

	// Interval is how often the closed state clears its counts. Default: 0, never.
	Interval time.Duration

	// OpenTimeout is how long the breaker stays open before it lets trial calls through.
	// Default: 60s.
	OpenTimeout time.Duration

	// MaxHalfOpenRequests is how many trial calls the half-open state lets through. When that
	// many have succeeded the breaker closes; the first failure opens it again. Calls beyond the
	// limit get ErrTooManyRequests. Default: 1.
	MaxHalfOpenRequests int

	// IsFailure tells whether a call's error counts as a failure. Default: err != nil.
	IsFailure func(err error) bool

	// OnStateChange, when set, is called on every state change. It runs while the breaker's lock
	// is held, so that calls arrive in order: keep it quick and do not call the breaker from it.
	// Default: nil.
	OnStateChange func(name string, from, to CircuitBreakerState)

	// Clock tells the time. Default: the system clock.
	Clock Clock

	// Metrics, when set, records the breaker's state, transitions and call results.
	// Default: nil, no metrics.
	Metrics *Metrics
}

// Counts holds the numbers of calls the breaker has seen in its current state. They are cleared
// on every state change, and every Interval in the closed state.
type Counts struct {
	Requests             int // calls let through, including those still running
	TotalSuccesses       int // calls that succeeded
	TotalFailures        int // calls that failed
	ConsecutiveSuccesses int // successes since the last failure
	ConsecutiveFailures  int // failures since the last success
}

// CircuitBreaker guards calls to a dependency. It is safe for concurrent use.
type CircuitBreaker struct {
	config CircuitBreakerConfig

	// TODO(ex07.state-machine): add the current state and its Counts, guarded by a sync.Mutex.
	// TODO(ex07.timeout-recovery): add when the open state ends, read from config.Clock.
	// TODO(ex07.state-machine): make sure a call that started before a state change does not
	// count after it (a generation number that changes with each state change works well).
}

// NewCircuitBreaker returns a closed breaker configured by config; see CircuitBreakerConfig for
// the defaults of its zero fields.
func NewCircuitBreaker(config CircuitBreakerConfig) *CircuitBreaker {
	// TODO(ex07.thresholds): replace zero, negative and out-of-range fields by their defaults
	// (FailureRatio above 1 means 1). Never panic on a bad config.
	// TODO(ex07.metrics): when config.Metrics is set, export the initial closed state.
	return &CircuitBreaker{config: config}
}

// State returns the breaker's current state.
func (cb *CircuitBreaker) State() CircuitBreakerState {
	// TODO(ex07.timeout-recovery): an open breaker whose OpenTimeout has passed (by config.Clock)
	// is half-open. Make that change here, lazily: no timers, no goroutines.
	return StateClosed
}

// Counts returns the counts of the breaker's current state.
func (cb *CircuitBreaker) Counts() Counts {
	// TODO(ex07.state-machine): return a copy of the counts, read under the lock (they are
	// cleared on every state change).
	return Counts{}
}

// Execute calls fn if the breaker lets the call through and records its result. It returns fn's
// error, or ErrOpenState or ErrTooManyRequests without calling fn.
func (cb *CircuitBreaker) Execute(fn func() error) error {
	// TODO(ex07.state-machine): closed lets calls through and opens after too many failures;
	// open returns ErrOpenState without calling fn; half-open lets trial calls through, closes
	// after MaxHalfOpenRequests successes and opens again on a failure.
	// TODO(ex07.thresholds): trip on MaxConsecutiveFailures failures in a row, or on
	// FailureRatio once MinRequests calls have completed; use IsFailure to classify errors.
	// TODO(ex07.state-machine): in half-open, return ErrTooManyRequests while MaxHalfOpenRequests
	// trial calls are running (count them when they start).
	// TODO(ex07.metrics): count each call as success, failure or rejected.
	return ErrNotImplemented
}

// ExecuteContext is Execute for a function that takes a context. A call that returns nil after
// ctx's deadline has passed is too slow to count as a success: ExecuteContext then returns
// ctx.Err(), which IsFailure sees as any other error.
func (cb *CircuitBreaker) ExecuteContext(ctx context.Context, fn func(context.Context) error) error {
	// TODO(ex07.timeout-recovery): run fn(ctx) through Execute, and turn a nil result that came
	// after ctx's deadline into ctx.Err(). Ask ctx (ctx.Err()), not config.Clock: the clock times
	// the breaker's states, the context its own deadline.
	return ErrNotImplemented
}
