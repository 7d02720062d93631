package saga

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A broken suite: it expects the failed step itself not to be compensated, which the statement
// says it must be, so it fails against the reference solution and must not meet ex09.tests.

func TestMyFailedStepIsNotCompensated(t *testing.T) {
	var calls []string
	step := func(name string) SagaStep {
		return SagaStep{
			Name:       name,
			Action:     func(context.Context, any) error { calls = append(calls, "do "+name); return nil },
			Compensate: func(context.Context, any) error { calls = append(calls, "undo "+name); return nil },
		}
	}
	failing := step("b")
	failing.Action = func(context.Context, any) error { calls = append(calls, "do b"); return errors.New("boom") }
	s := &Saga{ID: "my-broken", Steps: []SagaStep{step("a"), failing}}

	_ = s.Execute(t.Context())
	assert.Equal(t, []string{"do a", "do b", "undo a"}, calls)
}
