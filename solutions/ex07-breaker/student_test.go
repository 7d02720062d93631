package breaker

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The breaker's own tests: every state and every transition, on a manual clock.

// manualClock is a Clock that moves only when the test advances it.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

// newManualClock returns a clock set far from the real time, so that a breaker that reads
// time.Now instead of its Clock shows up.
func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// errMyDependencyDown is what a failing dependency returns in these tests.
var errMyDependencyDown = errors.New("dependency down")

func myFail() error    { return errMyDependencyDown }
func mySucceed() error { return nil }

// myOpenBreaker returns a breaker that one failure opens, already open, on a manual clock.
func myOpenBreaker(t *testing.T, openTimeout time.Duration, trials int) (*CircuitBreaker, *manualClock) {
	t.Helper()
	clock := newManualClock()
	cb := NewCircuitBreaker(CircuitBreakerConfig{
		MaxConsecutiveFailures: 1, OpenTimeout: openTimeout, MaxHalfOpenRequests: trials, Clock: clock,
	})
	require.ErrorIs(t, cb.Execute(myFail), errMyDependencyDown)
	require.Equal(t, StateOpen, cb.State(), "one failure opens the breaker")
	return cb, clock
}

// myBlockedCall starts cb.Execute in a goroutine with a fn that waits for release and returns
// result. It returns once fn runs (or the call was refused), with a channel for Execute's error.
func myBlockedCall(t *testing.T, cb *CircuitBreaker, release <-chan struct{}, result error) <-chan error {
	t.Helper()
	entered := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- cb.Execute(func() error {
			close(entered)
			<-release
			return result
		})
	}()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the call was refused: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the call never reached fn")
	}
	return done
}

// myWait returns the error that arrives on done within five seconds.
func myWait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the call never returned")
		return nil
	}
}

func TestMyBreakerOpensAtTheThreshold(t *testing.T) {
	clock := newManualClock()
	cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 3, OpenTimeout: time.Minute, Clock: clock})

	for i := 1; i <= 2; i++ {
		require.ErrorIs(t, cb.Execute(myFail), errMyDependencyDown, "failure %d goes through", i)
	}
	assert.Equal(t, StateClosed, cb.State(), "two failures of three: still closed")
	require.ErrorIs(t, cb.Execute(myFail), errMyDependencyDown, "the third failure goes through")
	assert.Equal(t, StateOpen, cb.State(), "the third failure opens the breaker")

	clock.Advance(time.Minute - time.Second)
	called := false
	err := cb.Execute(func() error { called = true; return nil })
	assert.ErrorIs(t, err, ErrOpenState, "a second before OpenTimeout the breaker still rejects calls")
	assert.False(t, called, "an open breaker does not call fn")
}

func TestMySuccessEndsTheRunOfFailures(t *testing.T) {
	cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 3, Clock: newManualClock()})
	for _, call := range []func() error{myFail, myFail, mySucceed, myFail, myFail} {
		_ = cb.Execute(call)
	}
	assert.Equal(t, StateClosed, cb.State(), "two failures, a success, two failures: never three in a row")
}

func TestMyHalfOpenAtExactlyOpenTimeout(t *testing.T) {
	cb, clock := myOpenBreaker(t, 10*time.Second, 1)
	clock.Advance(10*time.Second - time.Nanosecond)
	assert.Equal(t, StateOpen, cb.State(), "1ns before OpenTimeout")
	clock.Advance(time.Nanosecond)
	assert.Equal(t, StateHalfOpen, cb.State(), "at exactly OpenTimeout")
}

func TestMyHalfOpenTrialCalls(t *testing.T) {
	for _, trials := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d trial calls", trials), func(t *testing.T) {
			cb, clock := myOpenBreaker(t, time.Minute, trials)
			clock.Advance(time.Minute)
			require.Equal(t, StateHalfOpen, cb.State())

			releases := make([]chan struct{}, trials)
			calls := make([]<-chan error, trials)
			for i := range trials {
				releases[i] = make(chan struct{})
				calls[i] = myBlockedCall(t, cb, releases[i], nil)
			}
			called := false
			err := cb.Execute(func() error { called = true; return nil })
			assert.ErrorIs(t, err, ErrTooManyRequests, "a call beyond %d running trial calls", trials)
			assert.False(t, called, "a call beyond the trial calls does not call fn")

			for i := range trials {
				close(releases[i])
				assert.NoError(t, myWait(t, calls[i]))
				want := StateHalfOpen
				if i == trials-1 {
					want = StateClosed
				}
				assert.Equal(t, want, cb.State(), "after %d of %d successful trial calls", i+1, trials)
			}
		})
	}
}

func TestMyFailedTrialCallReopensForAFreshTimeout(t *testing.T) {
	clock := newManualClock()
	cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 3, OpenTimeout: 10 * time.Second, Clock: clock})
	for range 3 {
		_ = cb.Execute(myFail)
	}
	require.Equal(t, StateOpen, cb.State())
	clock.Advance(15 * time.Second)
	require.ErrorIs(t, cb.Execute(myFail), errMyDependencyDown, "the trial call goes through")
	assert.Equal(t, StateOpen, cb.State(), "one failed trial call opens the breaker again, whatever the closed-state threshold")

	clock.Advance(9 * time.Second)
	assert.Equal(t, StateOpen, cb.State(), "the timeout counts from the reopening, not from the first opening")
	clock.Advance(time.Second)
	assert.Equal(t, StateHalfOpen, cb.State(), "OpenTimeout after the reopening")
	assert.NoError(t, cb.Execute(mySucceed))
	assert.Equal(t, StateClosed, cb.State())
}

func TestMyLateResultsAreIgnored(t *testing.T) {
	for _, late := range []error{nil, errMyDependencyDown} {
		t.Run(fmt.Sprintf("late result %v", late), func(t *testing.T) {
			clock := newManualClock()
			cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 2, OpenTimeout: time.Minute, Clock: clock})
			release := make(chan struct{})
			slow := myBlockedCall(t, cb, release, late) // started while closed
			_ = cb.Execute(myFail)
			_ = cb.Execute(myFail)
			require.Equal(t, StateOpen, cb.State())
			clock.Advance(time.Minute)
			require.Equal(t, StateHalfOpen, cb.State())

			close(release)
			assert.Equal(t, late, myWait(t, slow), "Execute returns fn's result")
			assert.Equal(t, StateHalfOpen, cb.State(), "a result from the closed state does not move half-open")
			assert.NoError(t, cb.Execute(mySucceed), "the trial call is still free")
			assert.Equal(t, StateClosed, cb.State())
		})
	}
}

func TestMyConcurrentCallsAreAllCounted(t *testing.T) {
	cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1 << 20, Clock: newManualClock()})
	const workers, calls = 8, 100
	var failures atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range calls {
				if i%4 == 0 {
					failures.Add(1)
					_ = cb.Execute(myFail)
				} else {
					_ = cb.Execute(mySucceed)
				}
			}
		})
	}
	wg.Wait()
	got := cb.Counts()
	assert.Equal(t, workers*calls, got.Requests)
	assert.Equal(t, int(failures.Load()), got.TotalFailures)
	assert.Equal(t, workers*calls-int(failures.Load()), got.TotalSuccesses)
}
