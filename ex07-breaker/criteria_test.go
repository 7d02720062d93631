package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The criteria tests of exercise 07, one per criterion of criteria.json.

// errDependency is what a failing dependency returns in these tests.
var errDependency = errors.New("dependency failed")

// failingCall is a call to a dependency that is down.
func failingCall() error { return errDependency }

// succeedingCall is a call to a dependency that works.
func succeedingCall() error { return nil }

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock returns a clock set far from the real time, so that an implementation reading
// time.Now instead of its Clock is caught.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// transitionLog records the calls of OnStateChange.
type transitionLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *transitionLog) record(name string, from, to CircuitBreakerState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf("%s: %v -> %v", name, from, to))
}

func (l *transitionLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// tripOpen fails calls until cb has made exactly failures calls, then requires it to be open.
func tripOpen(t *testing.T, cb *CircuitBreaker, failures int) {
	t.Helper()
	for i := 1; i <= failures; i++ {
		err := cb.Execute(failingCall)
		require.ErrorIs(t, err, errDependency,
			"failure %d of %d: Execute must let the call through and return its error", i, failures)
	}
	require.Equal(t, StateOpen, cb.State(), "after %d consecutive failures the breaker must be open", failures)
}

func TestStateMachine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const (
		threshold   = 3
		openTimeout = 30 * time.Second
	)
	newBreaker := func() (*CircuitBreaker, *fakeClock) {
		clock := newFakeClock()
		return NewCircuitBreaker(CircuitBreakerConfig{
			Name:                   "state-machine",
			MaxConsecutiveFailures: threshold,
			OpenTimeout:            openTimeout,
			Clock:                  clock,
		}), clock
	}

	t.Run("closed until the threshold, then open", func(t *testing.T) {
		cb, _ := newBreaker()
		require.NotNil(t, cb, "NewCircuitBreaker must not return nil")
		assert.Equal(t, StateClosed, cb.State(), "a new breaker must start closed")
		for i := 1; i < threshold; i++ {
			err := cb.Execute(failingCall)
			require.ErrorIs(t, err, errDependency, "failure %d: Execute must return fn's error", i)
			assert.Equal(t, StateClosed, cb.State(), "after %d of %d failures the breaker must stay closed", i, threshold)
		}
		require.ErrorIs(t, cb.Execute(failingCall), errDependency, "failure %d: Execute must return fn's error", threshold)
		assert.Equal(t, StateOpen, cb.State(), "after %d failures (the threshold) the breaker must be open", threshold)
		assert.Equal(t, Counts{}, cb.Counts(), "the counts are cleared on every state change: the open state starts from zero")
	})

	t.Run("open rejects without calling fn", func(t *testing.T) {
		cb, _ := newBreaker()
		tripOpen(t, cb, threshold)
		calls := 0
		for i := range 5 {
			err := cb.Execute(func() error { calls++; return nil })
			assert.ErrorIs(t, err, ErrOpenState, "call %d while open: want ErrOpenState", i+1)
		}
		assert.Zero(t, calls, "fn was called %d times while the breaker was open; want 0", calls)
		assert.Equal(t, StateOpen, cb.State(), "rejected calls must not change the state")
	})

	t.Run("open turns half-open after the timeout", func(t *testing.T) {
		cb, clock := newBreaker()
		tripOpen(t, cb, threshold)
		clock.Advance(openTimeout)
		assert.Equal(t, StateHalfOpen, cb.State(), "OpenTimeout after opening the breaker must be half-open")
	})

	t.Run("half-open closes on success", func(t *testing.T) {
		cb, clock := newBreaker()
		tripOpen(t, cb, threshold)
		clock.Advance(openTimeout)
		require.Equal(t, StateHalfOpen, cb.State(), "precondition: half-open after the timeout")
		calls := 0
		err := cb.Execute(func() error { calls++; return nil })
		require.NoError(t, err, "the half-open trial call must go through")
		assert.Equal(t, 1, calls, "the half-open trial call must call fn once")
		assert.Equal(t, StateClosed, cb.State(), "a successful trial call must close the breaker")
		assert.NoError(t, cb.Execute(succeedingCall), "a closed breaker must let calls through again")
	})

	t.Run("half-open opens again on failure", func(t *testing.T) {
		cb, clock := newBreaker()
		tripOpen(t, cb, threshold)
		clock.Advance(openTimeout)
		require.Equal(t, StateHalfOpen, cb.State(), "precondition: half-open after the timeout")
		require.ErrorIs(t, cb.Execute(failingCall), errDependency, "the half-open trial call must go through")
		assert.Equal(t, StateOpen, cb.State(), "one failed trial call must open the breaker again")
		calls := 0
		err := cb.Execute(func() error { calls++; return nil })
		assert.ErrorIs(t, err, ErrOpenState, "after the failed trial call, calls must be rejected")
		assert.Zero(t, calls, "fn must not be called after the failed trial call reopened the breaker")
	})

	t.Run("a negative MaxHalfOpenRequests means one trial call", func(t *testing.T) {
		clock := newFakeClock()
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, OpenTimeout: openTimeout, MaxHalfOpenRequests: -2, Clock: clock})
		tripOpen(t, cb, 1)
		clock.Advance(openTimeout)
		require.Equal(t, StateHalfOpen, cb.State(), "precondition: half-open after the timeout")
		assert.NoError(t, cb.Execute(succeedingCall), "with MaxHalfOpenRequests -2 (default 1) the trial call must go through")
		assert.Equal(t, StateClosed, cb.State(), "with MaxHalfOpenRequests -2 (default 1) one successful trial call must close the breaker")
	})

	// A result that arrives after the state its call started in has ended counts for nothing.
	for _, slow := range []struct {
		name string
		err  error
	}{{"success", nil}, {"failure", errDependency}} {
		t.Run("a slow "+slow.name+" started while closed is ignored in half-open", func(t *testing.T) {
			cb, clock := newBreaker()
			entered, release := make(chan struct{}), make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // never leave the slow call blocked
			result := make(chan error, 1)
			go func() {
				result <- cb.Execute(func() error {
					close(entered)
					<-release
					return slow.err
				})
			}()
			select {
			case <-entered:
			case err := <-result:
				t.Fatalf("the slow call returned %v without reaching fn; a closed breaker must let it through", err)
			case <-time.After(5 * time.Second):
				t.Fatal("the slow call never reached fn")
			}
			tripOpen(t, cb, threshold) // while the slow call runs
			clock.Advance(openTimeout)
			require.Equal(t, StateHalfOpen, cb.State(), "precondition: half-open after the timeout")

			releaseOnce()
			select {
			case err := <-result:
				assert.Equal(t, slow.err, err, "Execute must return fn's result, even when it comes too late to count")
			case <-time.After(5 * time.Second):
				t.Fatal("the slow call never returned")
			}
			assert.Equal(t, StateHalfOpen, cb.State(),
				"a %s from a call that started while the breaker was closed must not move the half-open breaker: that call was not a trial call", slow.name)
			calls := 0
			err := cb.Execute(func() error { calls++; return nil })
			assert.NoError(t, err, "the trial call must still be let through after the late %s", slow.name)
			assert.Equal(t, 1, calls, "the trial call must call fn once")
			assert.Equal(t, StateClosed, cb.State(), "the successful trial call must close the breaker")
		})
	}

	const workers, callsPerWorker = 16, 50

	t.Run("closed counts every concurrent call", func(t *testing.T) {
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1 << 30, Clock: newFakeClock()})
		var wg sync.WaitGroup
		var wrongResults atomic.Int32
		for range workers {
			wg.Go(func() {
				for i := range callsPerWorker {
					fail := i%5 == 0
					err := cb.Execute(func() error {
						if fail {
							return errDependency
						}
						return nil
					})
					if (err != nil) != fail {
						wrongResults.Add(1)
					}
				}
			})
		}
		wg.Wait()

		assert.Zero(t, wrongResults.Load(), "Execute must return exactly fn's error")
		failures := workers * callsPerWorker / 5
		want := Counts{
			Requests:       workers * callsPerWorker,
			TotalSuccesses: workers*callsPerWorker - failures,
			TotalFailures:  failures,
		}
		got := cb.Counts()
		assert.Equal(t, want.Requests, got.Requests, "Counts().Requests after %d concurrent calls", want.Requests)
		assert.Equal(t, want.TotalSuccesses, got.TotalSuccesses, "Counts().TotalSuccesses")
		assert.Equal(t, want.TotalFailures, got.TotalFailures, "Counts().TotalFailures")
		assert.Equal(t, StateClosed, cb.State(), "with a huge threshold the breaker must stay closed")
	})

	t.Run("concurrent failures open the breaker once", func(t *testing.T) {
		const threshold = 5
		var log transitionLog
		cb := NewCircuitBreaker(CircuitBreakerConfig{
			Name:                   "concurrent",
			MaxConsecutiveFailures: threshold,
			Clock:                  newFakeClock(),
			OnStateChange:          log.record,
		})
		var wg sync.WaitGroup
		var called, rejected, other atomic.Int32
		for range workers {
			wg.Go(func() {
				for range callsPerWorker {
					err := cb.Execute(func() error { called.Add(1); return errDependency })
					switch {
					case errors.Is(err, ErrOpenState):
						rejected.Add(1)
					case !errors.Is(err, errDependency):
						other.Add(1)
					}
				}
			})
		}
		wg.Wait()

		assert.Zero(t, other.Load(), "every call must return fn's error or ErrOpenState")
		assert.EqualValues(t, workers*callsPerWorker, called.Load()+rejected.Load(),
			"fn calls (%d) + rejections (%d) must add up to the calls made", called.Load(), rejected.Load())
		// At most workers-1 calls can be running when the threshold is reached.
		assert.GreaterOrEqual(t, int(called.Load()), threshold, "fn must be called until the threshold is reached")
		assert.LessOrEqual(t, int(called.Load()), threshold+workers-1,
			"fn was called %d times; once open no new call may go through", called.Load())
		assert.Equal(t, StateOpen, cb.State(), "the breaker must be open")
		assert.Equal(t, []string{"concurrent: closed -> open"}, log.get(), "the breaker must open exactly once")
	})

	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprintf("half-open lets %d trial calls through", limit), func(t *testing.T) {
			const openTimeout = time.Minute
			clock := newFakeClock()
			var log transitionLog
			cb := NewCircuitBreaker(CircuitBreakerConfig{
				Name:                   "probe",
				MaxConsecutiveFailures: 1,
				OpenTimeout:            openTimeout,
				MaxHalfOpenRequests:    limit,
				Clock:                  clock,
				OnStateChange:          log.record,
			})
			tripOpen(t, cb, 1)
			clock.Advance(openTimeout)
			require.Equal(t, StateHalfOpen, cb.State(), "precondition: half-open after the timeout")

			entered := make(chan struct{}, limit)
			release := make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // never leave a trial call blocked
			results := make(chan error, limit)
			for range limit {
				go func() {
					results <- cb.Execute(func() error {
						entered <- struct{}{}
						<-release
						return nil
					})
				}()
			}
			for i := range limit {
				select {
				case <-entered:
				case err := <-results:
					t.Fatalf("trial call %d of %d returned %v before it was released; want it let through", i+1, limit, err)
				case <-time.After(5 * time.Second):
					t.Fatalf("trial call %d of %d never reached fn", i+1, limit)
				}
			}

			extraCalled := false
			err := cb.Execute(func() error { extraCalled = true; return nil })
			assert.ErrorIs(t, err, ErrTooManyRequests, "a call beyond MaxHalfOpenRequests=%d: want ErrTooManyRequests", limit)
			assert.False(t, extraCalled, "a call beyond MaxHalfOpenRequests=%d must not call fn", limit)
			assert.Equal(t, StateHalfOpen, cb.State(), "while trial calls run the breaker stays half-open")

			// Let the trial calls finish one at a time: the breaker closes on the last success.
			for i := 1; i <= limit; i++ {
				release <- struct{}{}
				select {
				case err := <-results:
					require.NoError(t, err, "trial call %d of %d", i, limit)
				case <-time.After(5 * time.Second):
					t.Fatalf("trial call %d of %d never returned", i, limit)
				}
				want := StateHalfOpen
				if i == limit {
					want = StateClosed
				}
				assert.Equal(t, want, cb.State(), "after %d of %d successful trial calls", i, limit)
			}
			assert.Equal(t, []string{
				"probe: closed -> open",
				"probe: open -> half-open",
				"probe: half-open -> closed",
			}, log.get(), "the breaker must go through every state")
		})
	}
}

func TestConfigurableThresholds(t *testing.T) {
	errIgnored := errors.New("not the dependency's fault")
	const interval = 10 * time.Second

	// Each step is one call, or a move of the clock: S succeeds, F fails, I returns errIgnored
	// (which IsFailure does not count when the case sets it), + advances the clock by interval.
	tests := []struct {
		name   string
		config CircuitBreakerConfig
		steps  string
		want   CircuitBreakerState
	}{
		{"one failure short of the threshold stays closed", CircuitBreakerConfig{MaxConsecutiveFailures: 4}, "FFF", StateClosed},
		{"the threshold trips", CircuitBreakerConfig{MaxConsecutiveFailures: 4}, "FFFF", StateOpen},
		{"a threshold of one trips at once", CircuitBreakerConfig{MaxConsecutiveFailures: 1}, "F", StateOpen},
		{"a success resets the consecutive count", CircuitBreakerConfig{MaxConsecutiveFailures: 3}, "FFSFFSFF", StateClosed},
		{"zero config: four failures stay closed", CircuitBreakerConfig{}, "FFFF", StateClosed},
		{"zero config: trips at the default of five", CircuitBreakerConfig{}, "FFFFF", StateOpen},
		{"zero config: the ratio rule is off", CircuitBreakerConfig{}, "FSFSFSFSFSFSFSFSFSFS", StateClosed},
		{"a negative threshold: four failures stay closed", CircuitBreakerConfig{MaxConsecutiveFailures: -3}, "FFFF", StateClosed},
		{"a negative threshold trips at the default of five", CircuitBreakerConfig{MaxConsecutiveFailures: -3}, "FFFFF", StateOpen},
		{
			"the ratio never trips below MinRequests",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 6},
			"FFFFF", StateClosed,
		},
		{
			"the ratio trips once MinRequests calls completed",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 6},
			"SFSFSF", StateOpen,
		},
		{
			"the ratio stays closed under its threshold",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4},
			"SSFSSFSSFSSF", StateClosed,
		},
		{
			"MinRequests defaults to ten",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 0.5},
			"FSFSFSFSF", StateClosed,
		},
		{
			"a negative MinRequests defaults to ten",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: -1},
			"FSFSFSFSF", StateClosed,
		},
		{
			"MinRequests default reached",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 0.5},
			"SFSFSFSFSF", StateOpen,
		},
		{
			"a ratio above one is treated as one",
			CircuitBreakerConfig{MaxConsecutiveFailures: 100, FailureRatio: 1.5, MinRequests: 3},
			"FFF", StateOpen,
		},
		{
			"Interval clears the closed counts",
			CircuitBreakerConfig{MaxConsecutiveFailures: 3, Interval: interval},
			"FF+FF+FF", StateClosed,
		},
		{
			"without Interval the counts are kept",
			CircuitBreakerConfig{MaxConsecutiveFailures: 3},
			"FF+F", StateOpen,
		},
		{
			"IsFailure decides what counts",
			CircuitBreakerConfig{MaxConsecutiveFailures: 2, IsFailure: func(err error) bool {
				return err != nil && !errors.Is(err, errIgnored)
			}},
			"IIIIIF", StateClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tt.config.Clock = clock
			cb := NewCircuitBreaker(tt.config)
			require.NotNil(t, cb, "NewCircuitBreaker must not return nil")

			for i, step := range tt.steps {
				var want error
				switch step {
				case '+':
					clock.Advance(interval)
					continue
				case 'F':
					want = errDependency
				case 'I':
					want = errIgnored
				}
				err := cb.Execute(func() error { return want })
				if want == nil {
					require.NoError(t, err, "steps %q, step %d: the call must go through and succeed", tt.steps, i+1)
				} else {
					require.ErrorIs(t, err, want, "steps %q, step %d: the call must go through and return fn's error", tt.steps, i+1)
				}
			}
			assert.Equal(t, tt.want, cb.State(), "state after steps %q with config %+v", tt.steps, tt.config)
		})
	}
}

func TestTimeoutAndRecovery(t *testing.T) {
	const openTimeout = 10 * time.Second
	newOpenBreaker := func(t *testing.T) (*CircuitBreaker, *fakeClock) {
		clock := newFakeClock()
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, OpenTimeout: openTimeout, Clock: clock})
		tripOpen(t, cb, 1)
		return cb, clock
	}

	t.Run("still open just before the timeout", func(t *testing.T) {
		cb, clock := newOpenBreaker(t)
		clock.Advance(openTimeout - time.Nanosecond)
		assert.Equal(t, StateOpen, cb.State(), "1ns before OpenTimeout the breaker must still be open")
		calls := 0
		err := cb.Execute(func() error { calls++; return nil })
		assert.ErrorIs(t, err, ErrOpenState, "1ns before OpenTimeout calls must be rejected")
		assert.Zero(t, calls, "1ns before OpenTimeout fn must not be called")
	})

	for _, after := range []time.Duration{openTimeout, openTimeout + time.Second, time.Hour} {
		t.Run(fmt.Sprintf("half-open %v after opening", after), func(t *testing.T) {
			cb, clock := newOpenBreaker(t)
			clock.Advance(after)
			assert.Equal(t, StateHalfOpen, cb.State(), "%v after opening (OpenTimeout %v), read from the injected Clock", after, openTimeout)
		})
	}

	t.Run("a negative OpenTimeout means the default of 60s", func(t *testing.T) {
		clock := newFakeClock()
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, OpenTimeout: -time.Second, Clock: clock})
		tripOpen(t, cb, 1)
		clock.Advance(59 * time.Second)
		assert.Equal(t, StateOpen, cb.State(), "with OpenTimeout -1s (default 60s) the breaker must still be open after 59s")
		clock.Advance(time.Second)
		assert.Equal(t, StateHalfOpen, cb.State(), "with OpenTimeout -1s (default 60s) the breaker must be half-open after 60s")
	})

	t.Run("the timeout restarts when half-open opens again", func(t *testing.T) {
		cb, clock := newOpenBreaker(t)
		clock.Advance(openTimeout + 5*time.Second)
		require.Equal(t, StateHalfOpen, cb.State(), "precondition: half-open after the timeout")
		require.ErrorIs(t, cb.Execute(failingCall), errDependency, "the trial call must go through")
		require.Equal(t, StateOpen, cb.State(), "precondition: a failed trial call opens the breaker")

		clock.Advance(openTimeout - time.Second)
		assert.Equal(t, StateOpen, cb.State(),
			"%v after reopening the breaker must still be open: the timeout counts from the reopening", openTimeout-time.Second)
		clock.Advance(time.Second)
		assert.Equal(t, StateHalfOpen, cb.State(), "OpenTimeout after reopening the breaker must be half-open")
		assert.NoError(t, cb.Execute(succeedingCall), "the second trial call must go through")
		assert.Equal(t, StateClosed, cb.State(), "a successful trial call must close the breaker")
	})

	t.Run("a call past its deadline is a failure", func(t *testing.T) {
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, Clock: newFakeClock()})
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		err := cb.ExecuteContext(ctx, func(ctx context.Context) error {
			<-ctx.Done() // a slow dependency: the answer comes after the deadline
			return nil
		})
		assert.ErrorIs(t, err, context.DeadlineExceeded,
			"a call that returned nil after its context's deadline: want DeadlineExceeded (the deadline is the context's: ask ctx.Err(), not the injected Clock, which is far from real time here)")
		assert.Equal(t, StateOpen, cb.State(), "with MaxConsecutiveFailures 1, one call past its deadline must open the breaker")
	})

	t.Run("a call within its deadline is a success", func(t *testing.T) {
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, Clock: newFakeClock()})
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		var got context.Context
		err := cb.ExecuteContext(ctx, func(ctx context.Context) error { got = ctx; return nil })
		assert.NoError(t, err, "a call that returned nil within its deadline")
		assert.NotNil(t, got, "ExecuteContext must call fn")
		assert.Equal(t, StateClosed, cb.State(), "a call within its deadline must not open the breaker")
		assert.Equal(t, 1, cb.Counts().TotalSuccesses, "a call within its deadline counts as a success")
	})
}

// metricValue returns the value of the gauge or counter name{labels} gathered from reg, and
// whether that series exists. labels are name-value pairs and must match the series' labels exactly.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err, "gathering the metrics")
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
	series:
		for _, m := range family.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, pair := range m.GetLabel() {
				if v, ok := want[pair.GetName()]; !ok || v != pair.GetValue() {
					continue series
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

func TestMetricsExport(t *testing.T) {
	const openTimeout = 10 * time.Second

	t.Run("state, transitions, results and callbacks", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		metrics, err := NewMetrics(reg)
		require.NoError(t, err, "NewMetrics on a fresh registry")
		require.NotNil(t, metrics, "NewMetrics must return the metrics")
		clock := newFakeClock()
		var log transitionLog
		cb := NewCircuitBreaker(CircuitBreakerConfig{
			Name:                   "payments",
			MaxConsecutiveFailures: 2,
			OpenTimeout:            openTimeout,
			Clock:                  clock,
			Metrics:                metrics,
			OnStateChange:          log.record,
		})

		assertState := func(want CircuitBreakerState, when string) {
			t.Helper()
			got, ok := metricValue(t, reg, "circuit_breaker_state", "name", "payments")
			if assert.True(t, ok, "%s: no circuit_breaker_state{name=\"payments\"} series", when) {
				assert.Equal(t, float64(want), got, "%s: circuit_breaker_state should be %d (%v)", when, int(want), want)
			}
		}
		assertState(StateClosed, "new breaker")

		_ = cb.Execute(succeedingCall)
		_ = cb.Execute(failingCall)
		_ = cb.Execute(failingCall) // trips
		for range 3 {
			_ = cb.Execute(succeedingCall) // rejected
		}
		assertState(StateOpen, "after two failures")

		clock.Advance(openTimeout)
		_ = cb.State()
		assertState(StateHalfOpen, "after the open timeout")
		_ = cb.Execute(failingCall) // trial call fails: open again
		assertState(StateOpen, "after a failed trial call")

		clock.Advance(openTimeout)
		_ = cb.Execute(succeedingCall) // trial call succeeds: closed
		assertState(StateClosed, "after a successful trial call")

		transitions := []struct {
			from, to string
			want     float64
		}{
			{"closed", "open", 1},
			{"open", "half-open", 2},
			{"half-open", "open", 1},
			{"half-open", "closed", 1},
		}
		for _, tr := range transitions {
			got, _ := metricValue(t, reg, "circuit_breaker_transitions_total", "name", "payments", "from", tr.from, "to", tr.to)
			assert.Equal(t, tr.want, got, "circuit_breaker_transitions_total{from=%q,to=%q}", tr.from, tr.to)
		}
		results := []struct {
			result string
			want   float64
		}{
			{"success", 2},
			{"failure", 3},
			{"rejected", 3},
		}
		for _, r := range results {
			got, _ := metricValue(t, reg, "circuit_breaker_requests_total", "name", "payments", "result", r.result)
			assert.Equal(t, r.want, got, "circuit_breaker_requests_total{result=%q}", r.result)
		}

		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err, "linting the metrics")
		assert.Empty(t, problems, "the metrics must follow the Prometheus naming conventions")

		assert.Equal(t, []string{
			"payments: closed -> open",
			"payments: open -> half-open",
			"payments: half-open -> open",
			"payments: open -> half-open",
			"payments: half-open -> closed",
		}, log.get(), "OnStateChange must receive every transition, in order")
	})

	t.Run("one Metrics serves many breakers", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		metrics, err := NewMetrics(reg)
		require.NoError(t, err, "NewMetrics on a fresh registry")
		config := CircuitBreakerConfig{MaxConsecutiveFailures: 1, Clock: newFakeClock(), Metrics: metrics}
		config.Name = "inventory"
		inventory := NewCircuitBreaker(config)
		config.Name = "shipping"
		_ = NewCircuitBreaker(config)

		_ = inventory.Execute(failingCall)
		_ = inventory.Execute(succeedingCall)

		count, err := testutil.GatherAndCount(reg, "circuit_breaker_state")
		require.NoError(t, err, "counting the state series")
		assert.Equal(t, 2, count, "want one circuit_breaker_state series per breaker")
		got, _ := metricValue(t, reg, "circuit_breaker_state", "name", "inventory")
		assert.Equal(t, float64(StateOpen), got, "circuit_breaker_state{name=\"inventory\"} after its failure")
		got, ok := metricValue(t, reg, "circuit_breaker_state", "name", "shipping")
		assert.True(t, ok, "circuit_breaker_state{name=\"shipping\"} must exist from the start")
		assert.Equal(t, float64(StateClosed), got, "circuit_breaker_state{name=\"shipping\"} must stay closed")
		got, _ = metricValue(t, reg, "circuit_breaker_requests_total", "name", "inventory", "result", "rejected")
		assert.Equal(t, 1.0, got, "circuit_breaker_requests_total{name=\"inventory\",result=\"rejected\"}")
	})

	t.Run("a registration error is returned, not a panic", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		_, err := NewMetrics(reg)
		require.NoError(t, err, "NewMetrics on a fresh registry")
		assert.NotPanics(t, func() { _, err = NewMetrics(reg) },
			"NewMetrics on a registry that already has the series must return Register's error, not panic (no MustRegister)")
		var already prometheus.AlreadyRegisteredError
		assert.ErrorAs(t, err, &already,
			"registering the metrics twice on one registry: want Register's error, wrapped with %%w; got %v", err)
	})
}

// countingServer is a test HTTP server that answers with a settable status and counts its hits.
type countingServer struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
}

func newCountingServer(t *testing.T, status int) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.status.Store(int32(status))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		w.WriteHeader(int(s.status.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

// roundTripFunc turns a function into an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// trackedBody is a response body that records whether it was read to its end and closed.
type trackedBody struct {
	r      io.Reader
	read   atomic.Int64
	eof    atomic.Bool
	closed atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return nil
}

func TestResilientHTTPClient(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const openTimeout = 30 * time.Second

	t.Run("5xx trips the breaker and open sends nothing", func(t *testing.T) {
		srv := newCountingServer(t, http.StatusInternalServerError)
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 3, Clock: newFakeClock()})
		client := NewResilientHTTPClient(srv.Client(), cb)
		for i := 1; i <= 3; i++ {
			resp, err := client.Get(t.Context(), srv.URL)
			require.Error(t, err, "GET %d answered 500: want an error", i)
			assert.Nil(t, resp, "GET %d answered 500: want no response", i)
			var statusErr *StatusError
			if assert.ErrorAs(t, err, &statusErr, "GET %d answered 500: want a *StatusError", i) {
				assert.Equal(t, http.StatusInternalServerError, statusErr.StatusCode, "GET %d: StatusError.StatusCode", i)
			}
		}
		assert.Equal(t, StateOpen, cb.State(), "three 500s with MaxConsecutiveFailures 3 must open the breaker")
		for i := 1; i <= 3; i++ {
			resp, err := client.Get(t.Context(), srv.URL)
			assert.ErrorIs(t, err, ErrOpenState, "GET while open: want an error wrapping ErrOpenState")
			assert.Nil(t, resp, "GET while open: want no response")
		}
		assert.EqualValues(t, 3, srv.hits.Load(), "the server got %d requests; while open, no request may reach it", srv.hits.Load())
	})

	t.Run("4xx is not a failure", func(t *testing.T) {
		srv := newCountingServer(t, http.StatusNotFound)
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 2, Clock: newFakeClock()})
		client := NewResilientHTTPClient(srv.Client(), cb)
		for i, status := range []int{404, 500, 404, 500, 429, 404, 400, 404} {
			srv.status.Store(int32(status))
			resp, err := client.Get(t.Context(), srv.URL)
			if status >= 500 {
				assert.Error(t, err, "GET %d answered %d: want an error", i+1, status)
				continue
			}
			if assert.NoError(t, err, "GET %d answered %d: a 4xx is the server working, want no error", i+1, status) {
				assert.Equal(t, status, resp.StatusCode, "GET %d: the response must come back", i+1)
				require.NoError(t, resp.Body.Close())
			}
		}
		assert.Equal(t, StateClosed, cb.State(), "4xx responses between the 500s must keep the breaker closed")
		assert.EqualValues(t, 8, srv.hits.Load(), "every GET must reach the server")
	})

	transportFailures := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"nothing listening", func(t *testing.T) string {
			srv := newCountingServer(t, http.StatusOK)
			srv.Close()
			return srv.URL
		}},
		{"connection dropped", func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close() // hang up without an answer
				}
			}))
			t.Cleanup(srv.Close)
			return srv.URL
		}},
	}
	for _, tf := range transportFailures {
		t.Run("transport errors trip the breaker: "+tf.name, func(t *testing.T) {
			url := tf.url(t)
			cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 2, Clock: newFakeClock()})
			transport := &http.Transport{}
			t.Cleanup(transport.CloseIdleConnections)
			client := NewResilientHTTPClient(&http.Client{Transport: transport}, cb)
			for i := 1; i <= 2; i++ {
				resp, err := client.Get(t.Context(), url)
				require.Error(t, err, "GET %d (%s): want an error", i, tf.name)
				assert.NotErrorIs(t, err, ErrOpenState, "GET %d (%s) must be tried", i, tf.name)
				assert.Nil(t, resp, "GET %d (%s): want no response", i, tf.name)
			}
			assert.Equal(t, StateOpen, cb.State(), "two transport errors with MaxConsecutiveFailures 2 must open the breaker")
			_, err := client.Get(t.Context(), url)
			assert.ErrorIs(t, err, ErrOpenState, "GET while open: want an error wrapping ErrOpenState")
		})
	}

	t.Run("a 5xx body is drained and closed", func(t *testing.T) {
		const text = "upstream unavailable, try again later"
		var mu sync.Mutex
		var bodies []*trackedBody
		transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			b := &trackedBody{r: strings.NewReader(text)}
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
			return &http.Response{
				StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{}, Body: b, ContentLength: int64(len(text)), Request: r,
			}, nil
		})
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 5, Clock: newFakeClock()})
		client := NewResilientHTTPClient(&http.Client{Transport: transport}, cb)
		resp, err := client.Get(t.Context(), "http://backend.test/")
		var statusErr *StatusError
		assert.ErrorAs(t, err, &statusErr, "GET answered 503: want a *StatusError")
		assert.Nil(t, resp, "GET answered 503: want no response")
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, bodies, 1, "the request must be sent once")
		b := bodies[0]
		assert.True(t, b.eof.Load(),
			"the body of a 5xx must be drained (read to its end) so that the connection can be reused; %d of its %d bytes were read", b.read.Load(), len(text))
		assert.True(t, b.closed.Load(), "the body of a 5xx must be closed before Get returns")
	})

	t.Run("a nil client and a nil breaker take the defaults", func(t *testing.T) {
		srv := newCountingServer(t, http.StatusInternalServerError)
		t.Cleanup(http.DefaultClient.CloseIdleConnections)
		client := NewResilientHTTPClient(nil, nil)
		require.NotNil(t, client, "NewResilientHTTPClient must not return nil")
		for i := 1; i <= 5; i++ {
			var err error
			require.NotPanics(t, func() { _, err = client.Get(t.Context(), srv.URL) },
				"GET %d with a nil client and a nil breaker: want http.DefaultClient and a breaker with the default configuration", i)
			var statusErr *StatusError
			assert.ErrorAs(t, err, &statusErr, "GET %d answered 500: want a *StatusError", i)
		}
		_, err := client.Get(t.Context(), srv.URL)
		assert.ErrorIs(t, err, ErrOpenState, "the default breaker opens after 5 failures in a row")
		assert.EqualValues(t, 5, srv.hits.Load(), "the server got %d requests; want the 5 sent before the default breaker opened", srv.hits.Load())
	})

	t.Run("half-open beyond its trial calls sends nothing", func(t *testing.T) {
		var hits atomic.Int32
		entered := make(chan struct{})
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if r.URL.Path == "/slow" {
				close(entered)
				<-release
			}
		}))
		t.Cleanup(srv.Close)
		releaseOnce := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseOnce) // runs before srv.Close: never leave the handler blocked

		clock := newFakeClock()
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, OpenTimeout: openTimeout, MaxHalfOpenRequests: 1, Clock: clock})
		tripOpen(t, cb, 1)
		clock.Advance(openTimeout)
		client := NewResilientHTTPClient(srv.Client(), cb)

		trial := make(chan error, 1)
		go func() {
			resp, err := client.Get(context.Background(), srv.URL+"/slow")
			if resp != nil {
				_ = resp.Body.Close()
			}
			trial <- err
		}()
		select {
		case <-entered:
		case err := <-trial:
			t.Fatalf("the half-open trial GET returned %v before it reached the server", err)
		case <-time.After(5 * time.Second):
			t.Fatal("the half-open trial GET never reached the server")
		}

		resp, err := client.Get(t.Context(), srv.URL+"/other")
		assert.ErrorIs(t, err, ErrTooManyRequests, "a GET beyond MaxHalfOpenRequests: want an error wrapping ErrTooManyRequests")
		assert.Nil(t, resp, "a GET beyond MaxHalfOpenRequests: want no response")
		assert.EqualValues(t, 1, hits.Load(), "a GET beyond MaxHalfOpenRequests must not reach the server")

		releaseOnce()
		select {
		case err := <-trial:
			assert.NoError(t, err, "the trial GET")
		case <-time.After(5 * time.Second):
			t.Fatal("the trial GET never returned")
		}
		assert.Equal(t, StateClosed, cb.State(), "a successful trial GET must close the breaker")
	})

	t.Run("recovers after the open timeout", func(t *testing.T) {
		srv := newCountingServer(t, http.StatusServiceUnavailable)
		clock := newFakeClock()
		cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, OpenTimeout: openTimeout, Clock: clock})
		client := NewResilientHTTPClient(srv.Client(), cb)

		_, err := client.Get(t.Context(), srv.URL)
		require.Error(t, err, "GET answered 503: want an error")
		require.Equal(t, StateOpen, cb.State(), "precondition: a 503 with MaxConsecutiveFailures 1 opens the breaker")

		srv.status.Store(http.StatusOK) // the server recovers
		_, err = client.Get(t.Context(), srv.URL)
		assert.ErrorIs(t, err, ErrOpenState, "GET before the open timeout: want ErrOpenState")
		assert.EqualValues(t, 1, srv.hits.Load(), "before the open timeout no request may reach the server")

		clock.Advance(openTimeout)
		resp, err := client.Get(t.Context(), srv.URL)
		if assert.NoError(t, err, "GET after the open timeout to a recovered server") {
			assert.Equal(t, http.StatusOK, resp.StatusCode, "GET after the open timeout: the response must come back")
			require.NoError(t, resp.Body.Close())
		}
		assert.EqualValues(t, 2, srv.hits.Load(), "the trial request must reach the server")
		assert.Equal(t, StateClosed, cb.State(), "a successful trial request must close the breaker")
	})
}
