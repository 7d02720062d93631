package breaker

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A shallow suite: the happy paths only. It must not meet ex07.all-states.

func TestMyClosedBreakerCallsThrough(t *testing.T) {
	cb := NewCircuitBreaker(CircuitBreakerConfig{})
	called := false
	assert.NoError(t, cb.Execute(func() error { called = true; return nil }))
	assert.True(t, called)
}

func TestMyBreakerOpensAfterManyFailures(t *testing.T) {
	cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 3})
	for range 10 {
		_ = cb.Execute(func() error { return errors.New("down") })
	}
	assert.Equal(t, StateOpen, cb.State())
	assert.ErrorIs(t, cb.Execute(func() error { return nil }), ErrOpenState)
}
