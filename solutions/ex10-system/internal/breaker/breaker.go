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
	"fmt"
	"sync"
	"time"
)

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
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	default:
		return fmt.Sprintf("CircuitBreakerState(%d)", int(s))
	}
}

// Clock tells the time. Inject a fake one in tests to move time forward without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// The defaults of the zero fields of a CircuitBreakerConfig.
const (
	defaultMaxConsecutiveFailures = 5
	defaultMinRequests            = 10
	defaultOpenTimeout            = 60 * time.Second
	defaultMaxHalfOpenRequests    = 1
)

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

// withDefaults returns c with every zero or out-of-range field replaced by its default.
func (c CircuitBreakerConfig) withDefaults() CircuitBreakerConfig {
	if c.MaxConsecutiveFailures <= 0 {
		c.MaxConsecutiveFailures = defaultMaxConsecutiveFailures
	}
	if !(c.FailureRatio > 0) { // also catches NaN
		c.FailureRatio = 0
	}
	c.FailureRatio = min(c.FailureRatio, 1)
	if c.MinRequests <= 0 {
		c.MinRequests = defaultMinRequests
	}
	c.Interval = max(c.Interval, 0)
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = defaultOpenTimeout
	}
	if c.MaxHalfOpenRequests <= 0 {
		c.MaxHalfOpenRequests = defaultMaxHalfOpenRequests
	}
	if c.IsFailure == nil {
		c.IsFailure = func(err error) bool { return err != nil }
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
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
	cfg CircuitBreakerConfig

	mu     sync.Mutex
	state  CircuitBreakerState
	counts Counts
	// generation changes with every state change and counts reset, so that a call that started
	// before one does not count after it.
	generation uint64
	// expiry is when the closed state clears its counts (zero: never) or when the open state
	// turns half-open.
	expiry time.Time
}

// NewCircuitBreaker returns a closed breaker configured by config; see CircuitBreakerConfig for
// the defaults of its zero fields.
func NewCircuitBreaker(config CircuitBreakerConfig) *CircuitBreaker {
	cb := &CircuitBreaker{cfg: config.withDefaults()}
	cb.newGeneration(cb.cfg.Clock.Now())
	cb.cfg.Metrics.setState(cb.cfg.Name, StateClosed)
	return cb
}

// State returns the breaker's current state.
func (cb *CircuitBreaker) State() CircuitBreakerState {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	state, _ := cb.currentState(cb.cfg.Clock.Now())
	return state
}

// Counts returns the counts of the breaker's current state.
func (cb *CircuitBreaker) Counts() Counts {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	cb.currentState(cb.cfg.Clock.Now())
	return cb.counts
}

// Execute calls fn if the breaker lets the call through and records its result. It returns fn's
// error, or ErrOpenState or ErrTooManyRequests without calling fn. If fn panics, the call counts
// as a failure and the panic goes on.
func (cb *CircuitBreaker) Execute(fn func() error) error {
	generation, err := cb.beforeCall()
	if err != nil {
		cb.cfg.Metrics.countRequest(cb.cfg.Name, resultRejected)
		return err
	}

	defer func() {
		if r := recover(); r != nil {
			cb.afterCall(generation, true)
			panic(r)
		}
	}()
	err = fn()
	cb.afterCall(generation, cb.cfg.IsFailure(err))
	return err
}

// ExecuteContext is Execute for a function that takes a context. A call that returns nil after
// ctx's deadline has passed is too slow to count as a success: ExecuteContext then returns
// ctx.Err(), which IsFailure sees as any other error.
func (cb *CircuitBreaker) ExecuteContext(ctx context.Context, fn func(context.Context) error) error {
	return cb.Execute(func() error {
		err := fn(ctx)
		if err == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ctx.Err()
		}
		return err
	})
}

// beforeCall decides whether a call may go through and, if so, counts it.
func (cb *CircuitBreaker) beforeCall() (uint64, error) {
	cb.mu.Lock()
	defer cb.mu.Unlock()

	state, generation := cb.currentState(cb.cfg.Clock.Now())
	switch {
	case state == StateOpen:
		return generation, ErrOpenState
	case state == StateHalfOpen && cb.counts.Requests >= cb.cfg.MaxHalfOpenRequests:
		return generation, ErrTooManyRequests
	}
	cb.counts.Requests++
	return generation, nil
}

// afterCall records the result of a call that beforeCall let through in the given generation.
func (cb *CircuitBreaker) afterCall(generation uint64, failed bool) {
	if failed {
		cb.cfg.Metrics.countRequest(cb.cfg.Name, resultFailure)
	} else {
		cb.cfg.Metrics.countRequest(cb.cfg.Name, resultSuccess)
	}

	cb.mu.Lock()
	defer cb.mu.Unlock()

	now := cb.cfg.Clock.Now()
	state, current := cb.currentState(now)
	if generation != current {
		return // the call started before the last state change: its result is stale
	}

	if failed {
		cb.counts.TotalFailures++
		cb.counts.ConsecutiveFailures++
		cb.counts.ConsecutiveSuccesses = 0
		if state == StateHalfOpen || cb.readyToTrip() {
			cb.setState(StateOpen, now)
		}
		return
	}

	cb.counts.TotalSuccesses++
	cb.counts.ConsecutiveSuccesses++
	cb.counts.ConsecutiveFailures = 0
	if state == StateHalfOpen && cb.counts.ConsecutiveSuccesses >= cb.cfg.MaxHalfOpenRequests {
		cb.setState(StateClosed, now)
	}
}

// readyToTrip reports whether the closed state's counts call for opening the breaker.
func (cb *CircuitBreaker) readyToTrip() bool {
	c := cb.counts
	if c.ConsecutiveFailures >= cb.cfg.MaxConsecutiveFailures {
		return true
	}
	completed := c.TotalSuccesses + c.TotalFailures
	return cb.cfg.FailureRatio > 0 &&
		completed >= cb.cfg.MinRequests &&
		float64(c.TotalFailures)/float64(completed) >= cb.cfg.FailureRatio
}

// currentState applies the changes that time alone causes, then returns the state and its
// generation. The caller holds cb.mu.
func (cb *CircuitBreaker) currentState(now time.Time) (CircuitBreakerState, uint64) {
	switch cb.state {
	case StateClosed:
		if !cb.expiry.IsZero() && !now.Before(cb.expiry) {
			cb.newGeneration(now)
		}
	case StateOpen:
		if !now.Before(cb.expiry) {
			cb.setState(StateHalfOpen, now)
		}
	}
	return cb.state, cb.generation
}

// setState moves the breaker to state and reports the change. The caller holds cb.mu.
func (cb *CircuitBreaker) setState(state CircuitBreakerState, now time.Time) {
	from := cb.state
	cb.state = state
	cb.newGeneration(now)

	cb.cfg.Metrics.recordTransition(cb.cfg.Name, from, state)
	if cb.cfg.OnStateChange != nil {
		cb.cfg.OnStateChange(cb.cfg.Name, from, state)
	}
}

// newGeneration clears the counts and sets the expiry of the current state. The caller holds cb.mu.
func (cb *CircuitBreaker) newGeneration(now time.Time) {
	cb.generation++
	cb.counts = Counts{}

	switch {
	case cb.state == StateOpen:
		cb.expiry = now.Add(cb.cfg.OpenTimeout)
	case cb.state == StateClosed && cb.cfg.Interval > 0:
		cb.expiry = now.Add(cb.cfg.Interval)
	default:
		cb.expiry = time.Time{}
	}
}
