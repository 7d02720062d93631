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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

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
	switch s {
	case SagaStatePending:
		return "pending"
	case SagaStateCompleted:
		return "completed"
	case SagaStateFailed:
		return "failed"
	case SagaStateCompensating:
		return "compensating"
	case SagaStateCompensated:
		return "compensated"
	default:
		return fmt.Sprintf("SagaState(%d)", int(s))
	}
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

// The defaults of a Saga's zero fields.
const (
	defaultStepTimeout         = 30 * time.Second
	defaultTimeout             = 5 * time.Minute
	defaultCompensationRetries = 3
	defaultRetryBackoff        = 100 * time.Millisecond
)

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

	// applied is how many steps, counted from the first, may have taken effect and have not been
	// compensated. A step that failed counts: it may have acted before it failed or timed out.
	applied int
	// cause is why the saga is compensating.
	cause error
	// data is Data encoded for the Store.
	data json.RawMessage
}

// settings are a Saga's optional fields with the defaults applied.
type settings struct {
	stepTimeout, timeout, backoff time.Duration
	retries                       int
	clock                         Clock
	log                           *slog.Logger
}

func (s *Saga) settings() settings {
	cfg := settings{
		stepTimeout: s.StepTimeout,
		timeout:     s.Timeout,
		backoff:     s.RetryBackoff,
		retries:     s.CompensationRetries,
		clock:       s.Clock,
		log:         s.Logger,
	}
	if cfg.stepTimeout <= 0 {
		cfg.stepTimeout = defaultStepTimeout
	}
	if cfg.timeout <= 0 {
		cfg.timeout = defaultTimeout
	}
	if cfg.backoff <= 0 {
		cfg.backoff = defaultRetryBackoff
	}
	if cfg.retries <= 0 {
		cfg.retries = defaultCompensationRetries
	}
	if cfg.clock == nil {
		cfg.clock = systemClock{}
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// validator is implemented by saga data that can check itself, such as OrderData.
type validator interface {
	Validate() error
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
	if err := s.validate(); err != nil {
		return err
	}
	if s.State != SagaStatePending || s.applied != 0 {
		return fmt.Errorf("%w: saga %q has already run (state %v)", ErrInvalidInput, s.ID, s.State)
	}
	if v, ok := s.Data.(validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("%w: saga %q: %w", ErrInvalidInput, s.ID, err)
		}
	}
	if s.Store != nil {
		data, err := json.Marshal(s.Data)
		if err != nil {
			return fmt.Errorf("%w: saga %q: data cannot be saved: %w", ErrInvalidInput, s.ID, err)
		}
		s.data = data
	}
	return s.run(ctx)
}

// validate checks the saga's definition.
func (s *Saga) validate() error {
	if s.ID == "" {
		return fmt.Errorf("%w: saga without an ID", ErrInvalidInput)
	}
	if len(s.Steps) == 0 {
		return fmt.Errorf("%w: saga %q has no steps", ErrInvalidInput, s.ID)
	}
	seen := map[string]bool{}
	for i, step := range s.Steps {
		switch {
		case step.Name == "":
			return fmt.Errorf("%w: saga %q: step %d has no name", ErrInvalidInput, s.ID, i+1)
		case seen[step.Name]:
			return fmt.Errorf("%w: saga %q: two steps are named %q", ErrInvalidInput, s.ID, step.Name)
		case step.Action == nil:
			return fmt.Errorf("%w: saga %q: step %q has no action", ErrInvalidInput, s.ID, step.Name)
		}
		seen[step.Name] = true
	}
	return nil
}

// run takes the saga from its current state to a final one.
func (s *Saga) run(ctx context.Context) error {
	cfg := s.settings()
	if s.State == SagaStatePending {
		if err := s.forward(ctx, cfg); err == nil {
			return nil
		}
	}
	return s.compensate(context.WithoutCancel(ctx), cfg)
}

// forward runs the actions from the first one not yet applied. It returns nil when the saga
// completed, and otherwise leaves it compensating.
func (s *Saga) forward(ctx context.Context, cfg settings) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	for s.applied < len(s.Steps) {
		step := s.Steps[s.applied]
		if err := ctx.Err(); err != nil { // out of time, or cancelled: start no new step
			return s.fail(cfg, step.Name, err)
		}
		err := s.save(ctx, cfg, step.Name)
		if err == nil {
			err = s.call(ctx, cfg, step.Action)
		}
		if err != nil {
			s.applied++ // the failed step may have acted: compensate it too
			return s.fail(cfg, step.Name, err)
		}
		s.applied++
		if err := s.save(ctx, cfg, ""); err != nil {
			// The step is done; a stale record only makes Recover run it again, which an
			// idempotent action allows.
			cfg.log.Warn("saga progress not saved", "saga", s.ID, "step", step.Name, "error", err)
		}
	}
	s.transition(cfg, SagaStateCompleted, s.Steps[len(s.Steps)-1].Name)
	if err := s.save(ctx, cfg, ""); err != nil {
		cfg.log.Error("saga completed but not saved", "saga", s.ID, "error", err)
	}
	return nil
}

// fail records why the saga must be compensated and moves it to compensating.
func (s *Saga) fail(cfg settings, step string, err error) error {
	s.cause = &StepError{Step: step, Err: err}
	s.transition(cfg, SagaStateCompensating, step)
	return s.cause
}

// compensate undoes the applied steps, last first, retrying each failed compensation.
func (s *Saga) compensate(ctx context.Context, cfg settings) error {
	var saveErrs []error
	for s.applied > 0 {
		step := s.Steps[s.applied-1]
		saveErrs = append(saveErrs, s.save(ctx, cfg, step.Name))
		if err := s.compensateStep(ctx, cfg, step); err != nil {
			s.transition(cfg, SagaStateFailed, step.Name)
			failure := &StepError{Step: step.Name, Compensating: true, Err: err}
			saveErrs = append(saveErrs, s.save(ctx, cfg, step.Name, failure))
			return errors.Join(s.cause, fmt.Errorf("%w: %w", ErrCompensationFailed, failure), errors.Join(saveErrs...))
		}
		s.applied--
		saveErrs = append(saveErrs, s.save(ctx, cfg, ""))
	}
	s.transition(cfg, SagaStateCompensated, "")
	saveErrs = append(saveErrs, s.save(ctx, cfg, ""))
	return errors.Join(append([]error{s.cause}, saveErrs...)...)
}

// compensateStep runs step's compensation until it succeeds or its retries run out, waiting
// RetryBackoff, then twice as long each time, between tries.
func (s *Saga) compensateStep(ctx context.Context, cfg settings, step SagaStep) error {
	if step.Compensate == nil {
		return nil
	}
	wait := cfg.backoff
	for retry := 0; ; retry++ {
		err := s.call(ctx, cfg, step.Compensate)
		if err == nil || retry == cfg.retries {
			return err
		}
		cfg.log.Warn("saga compensation failed, retrying", "saga", s.ID, "step", step.Name, "retry", retry+1, "wait", wait, "error", err)
		if err := cfg.clock.Sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
	}
}

// call runs fn with a deadline of StepTimeout and turns a panic into an error. A step that does
// not return by its deadline is left behind: its late result goes into a buffered channel that
// nobody reads, and changes nothing.
func (s *Saga) call(ctx context.Context, cfg settings, fn func(context.Context, any) error) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.stepTimeout)
	defer cancel()
	data, done := s.Data, make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("%w: %v", ErrStepPanicked, r)
			}
		}()
		done <- fn(ctx, data)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // an answer that came with the deadline still counts
			return err
		default:
			return fmt.Errorf("no answer before the deadline: %w", ctx.Err())
		}
	}
}

// transition moves the saga to state and logs it.
func (s *Saga) transition(cfg settings, to SagaState, step string) {
	from := s.State
	s.State = to
	cfg.log.Info("saga transition", "saga", s.ID, "step", step, "from", from.String(), "to", to.String())
}

// save writes the saga's record to its Store, if it has one. step names the step about to run,
// or "" between steps. failure, if given, is why a compensation could not be completed.
func (s *Saga) save(ctx context.Context, cfg settings, step string, failure ...error) error {
	if s.Store == nil {
		return nil
	}
	rec := Record{
		ID:        s.ID,
		State:     s.State,
		Steps:     make([]string, len(s.Steps)),
		Applied:   s.applied,
		Step:      step,
		Data:      s.data,
		UpdatedAt: cfg.clock.Now(),
	}
	for i, st := range s.Steps {
		rec.Steps[i] = st.Name
	}
	if err := errors.Join(append([]error{s.cause}, failure...)...); err != nil {
		rec.Error = err.Error()
	}
	if err := s.Store.Save(context.WithoutCancel(ctx), rec); err != nil {
		return fmt.Errorf("saving saga %q: %w", s.ID, err)
	}
	return nil
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
	if store == nil || define == nil {
		return nil, fmt.Errorf("%w: Recover needs a store and a define function", ErrInvalidInput)
	}
	records, err := store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing unfinished sagas: %w", err)
	}
	var sagas []*Saga
	var errs []error
	for _, rec := range records {
		s, err := define(rec)
		if err == nil {
			err = s.resume(rec, store)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("resuming saga %q: %w", rec.ID, err))
			continue
		}
		if err := s.run(ctx); err != nil {
			errs = append(errs, fmt.Errorf("saga %q: %w", rec.ID, err))
		}
		sagas = append(sagas, s)
	}
	return sagas, errors.Join(errs...)
}

// resume restores s's progress from rec, after checking that s is the saga rec describes.
func (s *Saga) resume(rec Record, store Store) error {
	if s == nil {
		return fmt.Errorf("%w: no saga defined", ErrInvalidInput)
	}
	s.ID = rec.ID
	if err := s.validate(); err != nil {
		return err
	}
	if len(s.Steps) != len(rec.Steps) {
		return fmt.Errorf("%w: the record has %d steps, the definition %d", ErrInvalidInput, len(rec.Steps), len(s.Steps))
	}
	for i, name := range rec.Steps {
		if s.Steps[i].Name != name {
			return fmt.Errorf("%w: step %d is %q in the record, %q in the definition", ErrInvalidInput, i+1, name, s.Steps[i].Name)
		}
	}
	if rec.State.Final() || rec.Applied < 0 || rec.Applied > len(s.Steps) {
		return fmt.Errorf("%w: cannot resume a saga in state %v with %d steps applied", ErrInvalidInput, rec.State, rec.Applied)
	}
	s.Store, s.State, s.applied, s.data = store, rec.State, rec.Applied, rec.Data
	s.cause = nil
	if rec.Error != "" {
		s.cause = errors.New(rec.Error)
	}
	return nil
}
