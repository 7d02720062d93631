package breaker

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A suite that fails against the reference solution: it reads the open timeout as ending
// strictly after OpenTimeout, where the statement says the breaker is half-open at exactly
// OpenTimeout. It must not meet ex07.all-states.

type brokenClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *brokenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func TestMyOpenLastsPastOpenTimeout(t *testing.T) {
	clock := &brokenClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	cb := NewCircuitBreaker(CircuitBreakerConfig{MaxConsecutiveFailures: 1, OpenTimeout: time.Minute, Clock: clock})
	_ = cb.Execute(func() error { return errors.New("down") })
	clock.mu.Lock()
	clock.now = clock.now.Add(time.Minute)
	clock.mu.Unlock()
	assert.Equal(t, StateOpen, cb.State(), "still open at exactly OpenTimeout")
}
