// Package saga implements an orchestrated saga: a transaction that spans several services is
// split into steps, each with an action and a compensation that undoes it. The orchestrator runs
// the actions in order; when one fails it runs the compensations of the steps that may have taken
// effect, in reverse order, so that the services end as if the saga had never started.
//
// A saga is a state machine. Its progress is written to a Store before and after every step and
// compensation, so that Recover can resume the sagas a crash left unfinished. Steps run with a
// timeout each, the forward part of the saga has an overall deadline, and failed compensations
// are retried with a growing wait read from an injected Clock.
package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrNotImplemented is returned by the parts of the exercise that are still to be written.
var ErrNotImplemented = errors.New("not implemented")

// ErrInvalidInput is wrapped by the errors returned for a saga, a record or an operation that
// cannot be accepted. Nothing has been run or written when it is returned.
var ErrInvalidInput = errors.New("invalid input")

// ErrStepPanicked is wrapped by the error of a step whose Action or Compensate panicked.
var ErrStepPanicked = errors.New("step panicked")

// ErrCompensationFailed is wrapped by the error of a saga that ended SagaStateFailed: a
// compensation still failed after its retries.
var ErrCompensationFailed = errors.New("compensation failed")

// SagaState is the state of a Saga.
type SagaState int

const (
	// SagaStatePending: the saga has not finished going forward. Its actions run, in order.
	SagaStatePending SagaState = iota
	// SagaStateCompleted: every action succeeded. Final.
	SagaStateCompleted
	// SagaStateFailed: a compensation kept failing after its retries, so the services may hold
	// effects that nobody will undo. Final: a person has to look at it.
	SagaStateFailed
	// SagaStateCompensating: an action failed (or the saga ran out of time); the compensations of
	// the steps that may have taken effect run, last step first.
	SagaStateCompensating
	// SagaStateCompensated: every step that may have taken effect has been compensated; the saga
	// failed cleanly. Final.
	SagaStateCompensated
)

// String returns "pending", "completed", "failed", "compensating" or "compensated".
func (s SagaState) String() string {
	// TODO(ex09.workflow): return the names above; the logged transitions use them.
	return fmt.Sprintf("SagaState(%d)", int(s))
}

// Final reports whether a saga in state s has finished: completed, compensated or failed.
func (s SagaState) Final() bool {
	return s == SagaStateCompleted || s == SagaStateCompensated || s == SagaStateFailed
}

// SagaStep is one step of a saga: an action and the compensation that undoes it.
type SagaStep struct {
	// Name identifies the step within its saga. Required, unique within the saga.
	Name string
	// Action does the step's work. Required.
	Action func(ctx context.Context, data any) error
	// Compensate undoes Action. It must be idempotent and harmless when Action never took
	// effect. Nil means the step has nothing to undo.
	Compensate func(ctx context.Context, data any) error
}

// StepError is the error of one step: its Action (or, when Compensating is set, its
// Compensate) failed with Err.
type StepError struct {
	Step         string
	Compensating bool
	Err          error
}

// Error returns the step's name and its error, such as `step "process_payment": card declined`.
func (e *StepError) Error() string {
	if e.Compensating {
		return fmt.Sprintf("compensating step %q: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("step %q: %v", e.Step, e.Err)
}

// Unwrap returns the step's own error.
func (e *StepError) Unwrap() error { return e.Err }

// Clock tells the time and waits. Inject a fake one in tests to wait without sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done, in which case it returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Saga is an orchestrated saga. Set ID, Steps and Data (and the optional fields below), then
// call Execute once. A Saga is not safe for concurrent use; run many sagas concurrently instead.
//
// A zero or negative optional field takes the default written in its comment.
type Saga struct {
	// ID identifies the saga; it is the key of its record in the Store. Required.
	ID string
	// Steps run in order. At least one is required.
	Steps []SagaStep
	// State is the saga's state. Execute and Recover update it.
	State SagaState
	// Data is passed to every Action and Compensate. With a Store it is saved as JSON, so it
	// must encode. If it has a Validate() error method, Execute calls it before anything else.
	Data any

	// Store receives the saga's progress before and after every step and compensation.
	// Default: nil, the progress is not saved.
	Store Store
	// StepTimeout bounds each run of an Action or a Compensate. Default: 30s.
	StepTimeout time.Duration
	// Timeout bounds the forward part of the saga, counted from the start of Execute (or of
	// Recover's resumption). Compensations are not bounded by it. Default: 5m.
	Timeout time.Duration
	// CompensationRetries is how many more times a failed compensation is tried before the saga
	// ends SagaStateFailed. Default: 3.
	CompensationRetries int
	// RetryBackoff is the wait before the first retry of a failed compensation; the wait doubles
	// before each further retry. Default: 100ms.
	RetryBackoff time.Duration
	// Clock tells the time of the saved records and waits between retries.
	// Default: the system clock.
	Clock Clock
	// Logger receives the saga's state transitions. Default: nothing is logged.
	Logger *slog.Logger

	// executed records the progress of the saga.
	// TODO(ex09.compensation): keep what you need to know which steps may have taken effect (the
	// step that failed counts: it may have acted before it failed) and are not compensated yet.
	// TODO(ex09.persistence): keep Data encoded as JSON for the Store.
	executed []int
}

// Execute runs the saga. It validates the saga first and returns an error wrapping
// ErrInvalidInput, without running a step or writing to the Store, when it is not valid.
//
// It then runs each Action in order. When every action succeeds the saga ends
// SagaStateCompleted and Execute returns nil. When step k fails, times out or panics, the saga
// compensates step k (which may have acted before it failed) and then steps k-1 … 1, and ends
// SagaStateCompensated; Execute returns a *StepError naming step k and wrapping its error. When a
// compensation still fails after its retries the saga ends SagaStateFailed and the error also
// wraps ErrCompensationFailed and a *StepError naming that step.
//
// Cancelling ctx stops the saga going forward; the compensations still run, on a context that
// is not cancelled with ctx.
func (s *Saga) Execute(ctx context.Context) error {
	// TODO(ex09.error-handling): validate first: an ID, at least one step, every step with a
	// unique Name and an Action; call Data's Validate method if it has one; with a Store, Data
	// must encode as JSON. Wrap ErrInvalidInput, and run and save nothing.
	// TODO(ex09.workflow): run the actions in order, each with s.Data; end SagaStateCompleted.
	// Log every transition (saga, step, from, to) with the saga's Logger.
	// TODO(ex09.compensation): when step k fails, compensate k, k-1 … 1 and end
	// SagaStateCompensated; retry a failed compensation with a doubling wait on the Clock, and
	// end SagaStateFailed past CompensationRetries.
	// TODO(ex09.error-handling): return a *StepError naming the failed step; turn a panic in an
	// Action or a Compensate into an error wrapping ErrStepPanicked.
	// TODO(ex09.timeouts): give each Action and Compensate its own context.WithTimeout of
	// StepTimeout and stop waiting at its deadline; bound the actions by Timeout; start no action
	// once ctx is done; compensate on context.WithoutCancel(ctx).
	// TODO(ex09.persistence): save the Record to the Store before and after each action and
	// compensation.
	return ErrNotImplemented
}

// Recover resumes every unfinished saga that store lists. For each record, define returns the
// saga's definition (its Steps, Data and optional fields); Recover sets its ID, Store, State and
// progress from the record and runs it to a final state: a saga that was going forward runs
// again the step that was in flight (actions are idempotent) and goes on; a saga that was
// compensating goes on compensating from the step it was undoing.
//
// Recover returns the sagas it resumed, and the errors of those that did not complete joined
// with the errors of the records it could not resume.
func Recover(ctx context.Context, store Store, define func(rec Record) (*Saga, error)) ([]*Saga, error) {
	// TODO(ex09.persistence): List the unfinished sagas, define each one, check that its step
	// names match the record's, restore State and progress from the record, and run it on.
	return nil, ErrNotImplemented
}
