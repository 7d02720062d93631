package breaker

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick checks to run while you work. The graded criteria are in criteria_test.go.

// clockFunc turns a function into a Clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func TestStateString(t *testing.T) {
	tests := []struct {
		state CircuitBreakerState
		want  string
	}{
		{StateClosed, "closed"},
		{StateOpen, "open"},
		{StateHalfOpen, "half-open"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.state.String())
		})
	}
}

func TestExecuteReturnsWhatFnReturns(t *testing.T) {
	cb := NewCircuitBreaker(CircuitBreakerConfig{})
	require.NotNil(t, cb)

	called := false
	assert.NoError(t, cb.Execute(func() error { called = true; return nil }))
	assert.True(t, called, "a closed breaker calls fn")

	errTimeout := errors.New("upstream timed out")
	assert.Same(t, errTimeout, cb.Execute(func() error { return errTimeout }),
		"Execute returns fn's error unchanged")

	got := cb.Counts()
	assert.Equal(t, Counts{Requests: 2, TotalSuccesses: 1, TotalFailures: 1, ConsecutiveFailures: 1}, got)
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	now := time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)
	cb := NewCircuitBreaker(CircuitBreakerConfig{
		Name:                   "quick",
		MaxConsecutiveFailures: 2,
		OpenTimeout:            time.Minute,
		Clock:                  clockFunc(func() time.Time { return now }),
	})
	errDown := errors.New("down")

	_ = cb.Execute(func() error { return errDown })
	_ = cb.Execute(func() error { return errDown })
	require.Equal(t, StateOpen, cb.State(), "two failures in a row open the breaker")

	err := cb.Execute(func() error { t.Error("fn called while open"); return nil })
	assert.ErrorIs(t, err, ErrOpenState)

	now = now.Add(time.Minute)
	assert.Equal(t, StateHalfOpen, cb.State(), "after OpenTimeout the breaker is half-open")
	assert.NoError(t, cb.Execute(func() error { return nil }))
	assert.Equal(t, StateClosed, cb.State(), "a successful trial call closes the breaker")
}
