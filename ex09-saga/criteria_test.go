package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The criteria tests of exercise 09, one per criterion of criteria.json decided by a test.

// orderSteps are the names of the order saga's steps, in order.
var orderSteps = []string{"reserve_inventory", "process_payment", "confirm_order"}

// anOrder is a valid order of 3 items of "sku-1" for 45.99.
var anOrder = OrderData{OrderID: "order-1", CustomerID: "ana", ProductID: "sku-1", Quantity: 3, Amount: 4599}

func TestWorkflow(t *testing.T) {
	t.Run("steps run in order, each with the saga's data", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b", "c", "d")
		data := &struct{ Order string }{"order-7"}
		var got []any
		for i := range steps {
			action := steps[i].Action
			steps[i].Action = func(ctx context.Context, d any) error {
				got = append(got, d)
				return action(ctx, d)
			}
		}
		s, _ := newSaga("workflow", steps)
		s.Data = data

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.NoError(t, err, "a saga whose steps all succeed")
		assert.Equal(t, []string{"do a", "do b", "do c", "do d"}, log.get(), "each action once, in order, and no compensation")
		assert.Equal(t, SagaStateCompleted, s.State, "a saga whose steps all succeed ends Completed (got %v)", s.State)
		require.Len(t, got, 4, "every action must receive the data")
		for i, d := range got {
			assert.Same(t, data, d, "action %d must receive the saga's Data", i+1)
		}
	})

	t.Run("the order saga has its three steps", func(t *testing.T) {
		s := CreateOrderSaga(NewOrderService(), NewPaymentService(), NewInventoryService(nil))
		require.NotNil(t, s, "CreateOrderSaga must return a saga")
		var names []string
		for _, step := range s.Steps {
			names = append(names, step.Name)
			assert.NotNil(t, step.Action, "step %q needs an Action", step.Name)
			assert.NotNil(t, step.Compensate, "step %q needs a Compensate", step.Name)
		}
		assert.Equal(t, orderSteps, names, "the order saga's steps")
	})

	t.Run("a completed order saga applies every effect once", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10, "sku-2": 5})
		first := shop.saga("saga-1", anOrder, newFakeClock())
		require.NoError(t, executeWithin(t, t.Context(), first, 5*time.Second), "the order saga with enough stock")
		assert.Equal(t, SagaStateCompleted, first.State, "the order saga with enough stock ends Completed")

		second := OrderData{OrderID: "order-2", CustomerID: "bea", ProductID: "sku-2", Quantity: 2, Amount: 1000}
		other := shop.saga("saga-2", second, newFakeClock())
		require.NoError(t, executeWithin(t, t.Context(), other, 5*time.Second), "a second order saga with its own id")

		assert.Equal(t, 7, shop.inventory.Available("sku-1"), "3 of the 10 items of sku-1 must be reserved, once")
		assert.Equal(t, 3, shop.inventory.Available("sku-2"), "2 of the 5 items of sku-2 must be reserved by the second saga")
		payments := shop.payments.Payments()
		require.Len(t, payments, 2, "one charge per saga: %+v", payments)
		for _, p := range payments {
			assert.False(t, p.Refunded, "payment %q of a completed saga must not be refunded", p.Key)
		}
		assert.ElementsMatch(t, []string{"order-1", "order-2"}, []string{payments[0].OrderID, payments[1].OrderID}, "charged orders")
		confirmed := shop.confirmed()
		assert.Len(t, confirmed, 2, "both orders must be confirmed: %+v", shop.orders.Orders())
		assert.Equal(t, anOrder, confirmed["order-1"].OrderData, "the confirmed order carries the saga's data")
		shop.assertInvariants(t)
	})

	t.Run("actions are idempotent by saga and step", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		require.Len(t, s.Steps, 3, "the order saga's steps")
		for _, step := range s.Steps {
			for try := 1; try <= 2; try++ {
				assert.NoError(t, step.Action(t.Context(), anOrder), "action %s, run %d: running an action again is not an error", step.Name, try)
			}
		}
		assert.Equal(t, 7, shop.inventory.Available("sku-1"), "reserve_inventory run twice for the same saga must reserve once")
		assert.Len(t, shop.payments.Payments(), 1, "process_payment run twice for the same saga must charge once")
		assert.Len(t, shop.orders.Orders(), 1, "confirm_order run twice for the same saga must confirm once")

		again := shop.saga("saga-2", anOrder, newFakeClock())
		require.NoError(t, again.Steps[0].Action(t.Context(), anOrder), "reserve_inventory of another saga")
		assert.Equal(t, 4, shop.inventory.Available("sku-1"), "another saga's reservation is its own: the key includes the saga's id")
	})

	t.Run("the completion is logged", func(t *testing.T) {
		var log callLog
		logs := newLogRecorder()
		s, _ := newSaga("logged", log.steps("a", "b"))
		s.Logger = slog.New(logs)
		require.NoError(t, executeWithin(t, t.Context(), s, 5*time.Second))
		assert.Equal(t, []string{"pending -> completed"}, logs.transitions("logged"),
			"the transition must be logged with the attributes saga, from and to")
	})
}

func TestCompensation(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	for k := 1; k <= len(names); k++ {
		t.Run(fmt.Sprintf("step %d of %d fails", k, len(names)), func(t *testing.T) {
			var log callLog
			steps := log.steps(names...)
			failed := names[k-1]
			steps[k-1].Action = log.failing(failed, errInjected)
			s, _ := newSaga("fails-at-"+failed, steps)

			err := executeWithin(t, t.Context(), s, 5*time.Second)
			require.ErrorIs(t, err, errInjected, "Execute must return the failed step's error")
			var want []string
			for i := 1; i <= k; i++ {
				want = append(want, "do "+names[i-1])
			}
			for i := k; i >= 1; i-- {
				want = append(want, "undo "+names[i-1])
			}
			assert.Equal(t, want, log.get(),
				"the actions up to the failed step, then the failed step's compensation and those of the steps before it, last first")
			assert.Equal(t, SagaStateCompensated, s.State, "a saga whose compensations succeeded ends Compensated (got %v)", s.State)
		})
	}

	t.Run("a failed compensation is retried with a doubling wait", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b", "c")
		steps[2].Action = log.failing("c", errInjected)
		steps[0].Compensate = log.flaky("a", 2, errInjected)
		s, clock := newSaga("flaky", steps)
		s.CompensationRetries = 3
		s.RetryBackoff = time.Minute

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.ErrorIs(t, err, errInjected, "Execute must return the failed step's error")
		assert.Equal(t, []string{"do a", "do b", "do c", "undo c", "undo b", "undo a", "undo a", "undo a"}, log.get(),
			"the compensation of a fails twice: it must be tried three times")
		assert.Equal(t, []time.Duration{time.Minute, 2 * time.Minute}, clock.Waits(),
			"waits before the retries, on the saga's Clock: RetryBackoff, then twice as long")
		assert.Equal(t, SagaStateCompensated, s.State, "the compensation succeeded on its third try: want Compensated (got %v)", s.State)
	})

	t.Run("past its retries the saga fails naming the step", func(t *testing.T) {
		errStuck := errors.New("refund service down")
		var log callLog
		logs := newLogRecorder()
		steps := log.steps("a", "b", "c")
		steps[2].Action = log.failing("c", errInjected)
		steps[1].Compensate = log.flaky("b", 1000, errStuck)
		s, clock := newSaga("stuck", steps)
		s.CompensationRetries = 2
		s.RetryBackoff = time.Second
		s.Logger = slog.New(logs)

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		assert.Equal(t, SagaStateFailed, s.State, "a compensation that still fails after its retries: want Failed (got %v)", s.State)
		require.Error(t, err, "a failed saga must return an error")
		assert.ErrorIs(t, err, ErrCompensationFailed, "the error of a failed saga must wrap ErrCompensationFailed")
		assert.ErrorIs(t, err, errStuck, "the error of a failed saga must wrap the compensation's error")
		assert.Contains(t, err.Error(), `"b"`, "the error must name the step whose compensation failed, quoted: %v", err)
		var compensating []string
		for _, se := range stepErrors(err) {
			if se.Compensating {
				compensating = append(compensating, se.Step)
			}
		}
		assert.Equal(t, []string{"b"}, compensating, "the error must wrap a *StepError for b with Compensating set: %v", err)
		undoB := 0
		for _, call := range log.get() {
			if call == "undo b" {
				undoB++
			}
		}
		assert.Equal(t, 3, undoB, "with CompensationRetries 2, the compensation of b must be tried 3 times")
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, clock.Waits(), "waits before the two retries")
		assert.Equal(t, []string{"pending -> compensating", "compensating -> failed"}, logs.transitions("stuck"), "logged transitions")
		assert.Equal(t, "b", logs.transitionStep("stuck", "failed"), "the transition to failed names the step in its step attribute")
	})

	t.Run("zero settings retry three times from 100ms", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b")
		steps[1].Action = log.failing("b", errInjected)
		steps[0].Compensate = log.flaky("a", 1000, errInjected)
		s, clock := newSaga("defaults", steps)

		_ = executeWithin(t, t.Context(), s, 5*time.Second)
		assert.Equal(t, SagaStateFailed, s.State, "a compensation that always fails: want Failed")
		assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, clock.Waits(),
			"by default a failed compensation is retried 3 times, after 100ms, 200ms and 400ms")
	})

	t.Run("the compensation is logged with the failed step", func(t *testing.T) {
		var log callLog
		logs := newLogRecorder()
		steps := log.steps("a", "b", "c")
		steps[1].Action = log.failing("b", errInjected)
		s, _ := newSaga("logged", steps)
		s.Logger = slog.New(logs)
		_ = executeWithin(t, t.Context(), s, 5*time.Second)
		assert.Equal(t, []string{"pending -> compensating", "compensating -> compensated"}, logs.transitions("logged"),
			"the transitions must be logged with the attributes saga, from and to")
		assert.Equal(t, "b", logs.transitionStep("logged", "compensating"), "the transition to compensating names the failed step")
	})

	t.Run("the order saga undoes a step that failed after acting", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		require.Len(t, s.Steps, 3, "the order saga's steps")
		confirm := s.Steps[2].Action
		s.Steps[2].Action = func(ctx context.Context, data any) error {
			if err := confirm(ctx, data); err != nil {
				return err
			}
			return errInjected // the order was confirmed, but the answer got lost
		}
		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.ErrorIs(t, err, errInjected)
		assert.Equal(t, SagaStateCompensated, s.State)
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "the reservation must be released")
		assert.Empty(t, shop.confirmed(), "the order confirmed before the step failed must be cancelled")
		shop.assertInvariants(t)
	})

	t.Run("compensating twice is harmless", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		require.NoError(t, executeWithin(t, t.Context(), s, 5*time.Second), "precondition: the saga completes")
		for try := 1; try <= 2; try++ {
			for i := len(s.Steps) - 1; i >= 0; i-- {
				assert.NoError(t, s.Steps[i].Compensate(t.Context(), anOrder), "compensation %s, run %d", s.Steps[i].Name, try)
			}
		}
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "releasing twice must give the 3 items back once")
		payments := shop.payments.Payments()
		if assert.Len(t, payments, 1, "one charge") {
			assert.True(t, payments[0].Refunded, "the charge must be refunded")
		}
		assert.Empty(t, shop.confirmed(), "the order must be cancelled")
		shop.assertInvariants(t)
	})

	t.Run("compensating a step that never acted is harmless, and wins over a late action", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		require.Len(t, s.Steps, 3, "the order saga's steps")
		for i := len(s.Steps) - 1; i >= 0; i-- {
			assert.NoError(t, s.Steps[i].Compensate(t.Context(), anOrder), "compensating %s, whose action never ran", s.Steps[i].Name)
		}
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "releasing a reservation that was never made must not add stock")
		assert.Empty(t, shop.payments.Payments(), "refunding a charge that was never made must not create one")
		assert.Empty(t, shop.orders.Orders(), "cancelling an order that was never confirmed must not create one")

		for _, step := range s.Steps { // the actions arrive late, after their compensations
			_ = step.Action(t.Context(), anOrder)
		}
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "a reservation arriving after its release must not take stock")
		for _, p := range shop.payments.Payments() {
			assert.True(t, p.Refunded, "a charge arriving after its refund must not stand: %+v", p)
		}
		assert.Empty(t, shop.confirmed(), "a confirmation arriving after its cancellation must not stand")
	})

	t.Run("200 concurrent sagas with failures at every step keep the invariants", func(t *testing.T) {
		runConcurrentSagas(t, 200)
	})
}

// fault is a failure injected into one saga of runConcurrentSagas.
type fault int

const (
	noFault    fault = iota
	failBefore       // the step fails without acting
	failAfter        // the step acts, then fails
	panicAfter       // the step acts, then panics
	lateResult       // the step outlives its timeout, then acts
	faultCount       // number of faults
)

// concurrentStepTimeout is the StepTimeout of the sagas of runConcurrentSagas: long enough for
// a step that is merely slow to be scheduled, under the race detector on a loaded machine.
const concurrentStepTimeout = 200 * time.Millisecond

// runConcurrentSagas runs n order sagas at once over three products, with a fault drawn at
// random (fixed seed) at one step, and flaky compensations, then checks the invariants.
func runConcurrentSagas(t *testing.T, n int) {
	stock := map[string]int{"sku-1": 40, "sku-2": 40, "sku-3": 40}
	shop := newShop(stock)
	store := newRecordingStore()
	clock := newFakeClock()
	rng := rand.New(rand.NewPCG(9, 9))
	release := make(chan struct{}) // lets the late actions go once every saga has finished
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	var late sync.WaitGroup

	sagas := make([]*Saga, n)
	faults := map[fault]int{}
	for i := range sagas {
		order := OrderData{
			OrderID:    fmt.Sprintf("order-%03d", i),
			CustomerID: fmt.Sprintf("customer-%d", i%7),
			ProductID:  fmt.Sprintf("sku-%d", 1+rng.IntN(3)),
			Quantity:   1 + rng.IntN(3),
		}
		order.Amount = int64(order.Quantity) * 1250
		s := shop.saga(fmt.Sprintf("saga-%03d", i), order, clock)
		require.Len(t, s.Steps, 3, "the order saga's steps")
		// Retries are free on the fake clock; spare ones absorb a compensation that a loaded
		// machine makes time out.
		s.Store, s.StepTimeout, s.CompensationRetries = store, concurrentStepTimeout, 8
		f, at := noFault, rng.IntN(3)
		if rng.IntN(2) == 0 { // half the sagas get a fault
			f = fault(1 + rng.IntN(int(faultCount)-1))
		}
		faults[f]++
		action := s.Steps[at].Action
		switch f {
		case failBefore:
			s.Steps[at].Action = func(context.Context, any) error { return errInjected }
		case failAfter:
			s.Steps[at].Action = func(ctx context.Context, data any) error {
				return errors.Join(action(ctx, data), errInjected)
			}
		case panicAfter:
			s.Steps[at].Action = func(ctx context.Context, data any) error {
				_ = action(ctx, data)
				panic("injected panic")
			}
		case lateResult:
			s.Steps[at].Action = func(ctx context.Context, data any) error {
				// Counted on entry: the step may never be reached if an earlier one fails.
				late.Add(1)
				defer late.Done()
				<-release
				// A request that reached the service before the timeout and is applied late.
				return action(context.WithoutCancel(ctx), data)
			}
		}
		for j := range s.Steps {
			if rng.IntN(3) == 0 {
				compensate, failures := s.Steps[j].Compensate, 1+rng.IntN(2)
				var mu sync.Mutex
				s.Steps[j].Compensate = func(ctx context.Context, data any) error {
					mu.Lock()
					failures--
					fail := failures >= 0
					mu.Unlock()
					if fail {
						return errInjected
					}
					return compensate(ctx, data)
				}
			}
		}
		sagas[i] = s
	}

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range sagas {
		wg.Go(func() { errs[i] = s.Execute(t.Context()) })
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "sagas still running after 30s")
	}
	releaseOnce()
	lateDone := make(chan struct{})
	go func() { late.Wait(); close(lateDone) }()
	select {
	case <-lateDone:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "late actions still running 10s after their release")
	}

	confirmed := shop.confirmed()
	states := map[SagaState]int{}
	for i, s := range sagas {
		states[s.State]++
		order := s.Data.(OrderData)
		switch s.State {
		case SagaStateCompleted:
			assert.NoError(t, errs[i], "saga %s completed: Execute must return nil", s.ID)
			assert.Contains(t, confirmed, order.OrderID, "saga %s completed: its order must be confirmed", s.ID)
		case SagaStateCompensated:
			assert.Error(t, errs[i], "saga %s was compensated: Execute must return its error", s.ID)
			assert.NotContains(t, confirmed, order.OrderID, "saga %s was compensated: its order must not be confirmed", s.ID)
		default:
			assert.Fail(t, "saga not finished", "saga %s ended %v; every compensation succeeds within its retries, so every saga must end Completed or Compensated", s.ID, s.State)
		}
	}
	t.Logf("faults injected %v; sagas completed %d, compensated %d", faults, states[SagaStateCompleted], states[SagaStateCompensated])
	require.NotZero(t, states[SagaStateCompleted], "precondition: some sagas complete")
	require.NotZero(t, states[SagaStateCompensated], "precondition: some sagas are compensated")
	shop.assertInvariants(t)
	unfinished, err := store.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, unfinished, "no saga may be left unfinished in the store")
}

// storeHarness opens a store for the contract, and opens it again where it is durable.
type storeHarness struct {
	open   func(t *testing.T) Store
	reopen func(t *testing.T, s Store) Store // nil for a store that does not outlive itself
}

func memoryHarness() storeHarness {
	return storeHarness{open: func(*testing.T) Store { return NewMemoryStore() }}
}

func boltHarness() storeHarness {
	paths := map[Store]string{}
	var mu sync.Mutex
	open := func(t *testing.T, path string) Store {
		t.Helper()
		s, err := OpenBoltStore(path)
		require.NoError(t, err, "OpenBoltStore(%s)", path)
		require.NotNil(t, s, "OpenBoltStore must return the store")
		t.Cleanup(func() { _ = s.Close() })
		mu.Lock()
		defer mu.Unlock()
		paths[s] = path
		return s
	}
	return storeHarness{
		open: func(t *testing.T) Store { return open(t, filepath.Join(t.TempDir(), "sagas.db")) },
		reopen: func(t *testing.T, s Store) Store {
			mu.Lock()
			path := paths[s]
			mu.Unlock()
			require.NoError(t, s.(*BoltStore).Close(), "closing the bbolt store")
			return open(t, path)
		},
	}
}

// runStoreContract checks what every Store must do.
func runStoreContract(t *testing.T, h storeHarness) {
	ctx := t.Context()
	at := time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)
	record := func(id string, state SagaState) Record {
		return Record{
			ID: id, State: state, Steps: []string{"a", "b", "c"}, Applied: 1, Step: "b",
			Data: json.RawMessage(`{"order_id":"` + id + `"}`), Error: "", UpdatedAt: at,
		}
	}
	assertRecord := func(t *testing.T, want, got Record, msg string) {
		t.Helper()
		assert.True(t, want.UpdatedAt.Equal(got.UpdatedAt), "%s: UpdatedAt %v, want %v", msg, got.UpdatedAt, want.UpdatedAt)
		want.UpdatedAt, got.UpdatedAt = time.Time{}, time.Time{}
		assert.Equal(t, want, got, msg)
	}

	t.Run("a saved record loads back", func(t *testing.T) {
		s := h.open(t)
		want := record("saga-1", SagaStateCompensating)
		want.Error = `step "c": card declined`
		require.NoError(t, s.Save(ctx, want), "Save")
		got, err := s.Load(ctx, "saga-1")
		require.NoError(t, err, "Load of a saved record")
		assertRecord(t, want, got, "the record loaded")
	})

	t.Run("an unknown saga is not found", func(t *testing.T) {
		s := h.open(t)
		_, err := s.Load(ctx, "nobody")
		assert.ErrorIs(t, err, ErrSagaNotFound, "Load of an unknown id")
	})

	t.Run("a record without an ID is refused", func(t *testing.T) {
		s := h.open(t)
		assert.ErrorIs(t, s.Save(ctx, record("", SagaStatePending)), ErrInvalidInput, "Save of a record without an ID")
	})

	t.Run("Save replaces the record", func(t *testing.T) {
		s := h.open(t)
		require.NoError(t, s.Save(ctx, record("saga-1", SagaStatePending)))
		want := record("saga-1", SagaStateCompleted)
		want.Applied, want.Step = 3, ""
		require.NoError(t, s.Save(ctx, want))
		got, err := s.Load(ctx, "saga-1")
		require.NoError(t, err)
		assertRecord(t, want, got, "the record loaded after the second Save")
	})

	t.Run("List shows the unfinished sagas, by ID", func(t *testing.T) {
		s := h.open(t)
		for _, r := range []Record{
			record("e-compensated", SagaStateCompensated),
			record("d-compensating", SagaStateCompensating),
			record("c-failed", SagaStateFailed),
			record("b-completed", SagaStateCompleted),
			record("a-pending", SagaStatePending),
		} {
			require.NoError(t, s.Save(ctx, r))
		}
		got, err := s.List(ctx)
		require.NoError(t, err, "List")
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		assert.Equal(t, []string{"a-pending", "d-compensating"}, ids, "List returns the pending and compensating sagas, sorted by ID")
		if len(got) == 2 {
			assertRecord(t, record("a-pending", SagaStatePending), got[0], "the records List returns are whole")
		}
	})

	t.Run("records are copies", func(t *testing.T) {
		s := h.open(t)
		saved := record("saga-1", SagaStatePending)
		require.NoError(t, s.Save(ctx, saved))
		saved.Steps[0], saved.Data[2] = "changed", 'X'
		got, err := s.Load(ctx, "saga-1")
		require.NoError(t, err)
		got.Steps[1] = "changed too"
		got.Data[3] = 'Y'
		again, err := s.Load(ctx, "saga-1")
		require.NoError(t, err)
		assertRecord(t, record("saga-1", SagaStatePending), again, "changing a saved or loaded record must not change the store")
	})

	t.Run("concurrent saves are all kept", func(t *testing.T) {
		s := h.open(t)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { assert.NoError(t, s.Save(ctx, record(fmt.Sprintf("saga-%02d", i), SagaStatePending))) })
		}
		wg.Wait()
		got, err := s.List(ctx)
		require.NoError(t, err)
		assert.Len(t, got, 20, "20 sagas saved at once")
	})

	if h.reopen != nil {
		t.Run("records survive reopening the store", func(t *testing.T) {
			s := h.open(t)
			want := record("saga-1", SagaStateCompensating)
			require.NoError(t, s.Save(ctx, want))
			s = h.reopen(t, s)
			got, err := s.Load(ctx, "saga-1")
			require.NoError(t, err, "Load after reopening")
			assertRecord(t, want, got, "the record after reopening")
			list, err := s.List(ctx)
			require.NoError(t, err)
			assert.Len(t, list, 1, "List after reopening")
		})
	}
}

func TestStatePersistence(t *testing.T) {
	harnesses := []struct {
		name string
		h    storeHarness
	}{
		{"memory", memoryHarness()},
		{"bbolt", boltHarness()},
	}
	for _, store := range harnesses {
		t.Run(store.name+" store contract", func(t *testing.T) { runStoreContract(t, store.h) })

		t.Run(store.name+" store: progress is saved before and after each step and compensation", func(t *testing.T) {
			st := store.h.open(t)
			var log callLog
			steps := log.steps("a", "b", "c")
			s, clock := newSaga("tracked", steps)
			s.Store = st
			var seen []string
			check := func(phase, name string, wantState SagaState, wantApplied int) {
				rec, err := st.Load(t.Context(), "tracked")
				if !assert.NoError(t, err, "while %s %s runs, the store must have the saga's record", phase, name) {
					return
				}
				seen = append(seen, fmt.Sprintf("%s %s: %v applied=%d step=%q", phase, name, rec.State, rec.Applied, rec.Step))
				assert.Equal(t, wantState, rec.State, "while %s %s runs: the record's state", phase, name)
				assert.Equal(t, wantApplied, rec.Applied, "while %s %s runs: the record's Applied", phase, name)
				assert.Equal(t, name, rec.Step, "while %s %s runs: the record's Step", phase, name)
				list, err := st.List(t.Context())
				if assert.NoError(t, err) && assert.Len(t, list, 1, "while %s %s runs, List must show the unfinished saga", phase, name) {
					assert.Equal(t, "tracked", list[0].ID)
				}
			}
			for i, name := range []string{"a", "b", "c"} {
				action := steps[i].Action
				steps[i].Action = func(ctx context.Context, data any) error {
					check("action", name, SagaStatePending, i)
					if name == "c" {
						return errInjected
					}
					return action(ctx, data)
				}
				compensate := steps[i].Compensate
				steps[i].Compensate = func(ctx context.Context, data any) error {
					check("compensation", name, SagaStateCompensating, i+1)
					return compensate(ctx, data)
				}
			}

			err := executeWithin(t, t.Context(), s, 10*time.Second)
			require.ErrorIs(t, err, errInjected)
			t.Logf("records seen by the steps:\n%v", seen)
			rec, err := st.Load(t.Context(), "tracked")
			require.NoError(t, err, "the finished saga's record")
			assert.Equal(t, SagaStateCompensated, rec.State, "the final record's state")
			assert.Equal(t, 0, rec.Applied, "the final record of a compensated saga has nothing applied")
			assert.Empty(t, rec.Step, "the final record has no step running")
			assert.Equal(t, []string{"a", "b", "c"}, rec.Steps, "the record lists the step names")
			assert.JSONEq(t, `{"saga":"tracked"}`, string(rec.Data), "the record holds the saga's Data as JSON")
			assert.Contains(t, rec.Error, "c", "the record's Error names the failed step")
			assert.Contains(t, rec.Error, errInjected.Error(), "the record's Error has the step's error")
			assert.True(t, clock.Now().Equal(rec.UpdatedAt), "UpdatedAt is read from the saga's Clock: got %v, want %v", rec.UpdatedAt, clock.Now())
			list, err := st.List(t.Context())
			require.NoError(t, err)
			assert.Empty(t, list, "a finished saga is not listed")

			done, _ := newSaga("done", log.steps("x", "y"))
			done.Store = st
			require.NoError(t, executeWithin(t, t.Context(), done, 10*time.Second))
			rec, err = st.Load(t.Context(), "done")
			require.NoError(t, err)
			assert.Equal(t, SagaStateCompleted, rec.State, "the final record of a completed saga")
			assert.Equal(t, 2, rec.Applied, "the final record of a completed saga has every step applied")
		})
	}

	t.Run("Recover resumes the unfinished sagas from their records", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 20})
		store := NewMemoryStore()
		orders := map[string]OrderData{}
		save := func(id string, state SagaState, applied int, step string) {
			order := anOrder
			order.OrderID = "order-" + id
			orders[id] = order
			data, err := json.Marshal(order)
			require.NoError(t, err)
			require.NoError(t, store.Save(t.Context(), Record{
				ID: id, State: state, Steps: orderSteps, Applied: applied, Step: step, Data: data, UpdatedAt: time.Now(),
			}))
			// What the saga had done before its process stopped.
			s := shop.saga(id, order, newFakeClock())
			require.Len(t, s.Steps, 3, "the order saga's steps")
			for i := range applied {
				require.NoError(t, s.Steps[i].Action(t.Context(), order))
			}
		}
		save("forward", SagaStatePending, 1, "process_payment")
		save("backward", SagaStateCompensating, 2, "process_payment")
		save("finished", SagaStateCompleted, 3, "")

		var defined []string
		sagas, _ := Recover(t.Context(), store, func(rec Record) (*Saga, error) {
			defined = append(defined, rec.ID)
			var order OrderData
			if err := json.Unmarshal(rec.Data, &order); err != nil {
				return nil, err
			}
			return shop.saga(rec.ID, order, newFakeClock()), nil
		})
		assert.ElementsMatch(t, []string{"forward", "backward"}, defined, "Recover defines only the unfinished sagas")
		states := map[string]SagaState{}
		for _, s := range sagas {
			states[s.ID] = s.State
		}
		assert.Contains(t, []SagaState{SagaStateCompleted, SagaStateCompensated}, states["forward"],
			"the saga that was going forward must end completed or compensated")
		assert.Equal(t, SagaStateCompensated, states["backward"], "the saga that was compensating must end compensated")
		confirmed := shop.confirmed()
		assert.NotContains(t, confirmed, "order-backward", "the compensated saga's order")
		assert.Equal(t, states["forward"] == SagaStateCompleted, len(confirmed) == 2,
			"the forward saga's order is confirmed exactly when it completed (confirmed: %v)", confirmed)
		shop.assertInvariants(t)
		list, err := store.List(t.Context())
		require.NoError(t, err)
		assert.Empty(t, list, "no saga left unfinished in the store after Recover")
	})

	crashes := []struct {
		name string
		kill crashPoint // where the child is killed
		fail crashPoint // an action that fails in the child
	}{
		{"killed in process_payment after the charge", crashPoint{1, "action", true}, crashPoint{-1, "", false}},
		{"killed in reserve_inventory before the reservation", crashPoint{0, "action", false}, crashPoint{-1, "", false}},
		{"killed while refunding, after the refund", crashPoint{1, "compensate", true}, crashPoint{2, "action", false}},
	}
	for _, c := range crashes {
		t.Run("crash recovery: "+c.name, func(t *testing.T) {
			runCrash(t, c.kill, c.fail)
		})
	}
}

func TestErrorHandling(t *testing.T) {
	t.Run("a step's error is wrapped with the step's name", func(t *testing.T) {
		var log callLog
		steps := log.steps("reserve", "charge", "confirm")
		declined := &declineError{reason: "insufficient funds"}
		steps[1].Action = log.failing("charge", fmt.Errorf("card service: %w", declined))
		s, _ := newSaga("declined", steps)

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.Error(t, err)
		var stepErr *StepError
		if assert.ErrorAs(t, err, &stepErr, "Execute's error must be a *StepError") {
			assert.Equal(t, "charge", stepErr.Step, "StepError.Step names the failed step")
			assert.False(t, stepErr.Compensating, "the failure came from an action")
		}
		var got *declineError
		if assert.ErrorAs(t, err, &got, "the step's own error must stay reachable with errors.As: %v", err) {
			assert.Same(t, declined, got)
		}
		assert.Contains(t, err.Error(), `"charge"`, "the message names the step, quoted")
		assert.Contains(t, err.Error(), "insufficient funds", "the message keeps the step's error")
		assert.Equal(t, SagaStateCompensated, s.State)
	})

	t.Run("the order saga rolls back a failed payment", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		require.Len(t, s.Steps, 3, "the order saga's steps")
		s.Steps[1].Action = func(context.Context, any) error { return errInjected }
		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.ErrorIs(t, err, errInjected)
		var stepErr *StepError
		if assert.ErrorAs(t, err, &stepErr) {
			assert.Equal(t, "process_payment", stepErr.Step)
		}
		assert.Equal(t, SagaStateCompensated, s.State)
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "the reservation must be released")
		assert.Empty(t, shop.orders.Orders(), "no order may be confirmed")
		shop.assertInvariants(t)
	})

	t.Run("insufficient stock fails the first step", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 2})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		err := executeWithin(t, t.Context(), s, 5*time.Second)
		assert.ErrorIs(t, err, ErrInsufficientStock, "3 items of a product with 2 in stock")
		assert.Equal(t, SagaStateCompensated, s.State)
		assert.Equal(t, 2, shop.inventory.Available("sku-1"), "the stock must be untouched")
		assert.Empty(t, shop.payments.Payments(), "nothing may be charged")
	})

	invalid := []struct {
		name  string
		build func(s *Saga)
	}{
		{"no ID", func(s *Saga) { s.ID = "" }},
		{"no steps", func(s *Saga) { s.Steps = nil }},
		{"a step without a name", func(s *Saga) { s.Steps[2].Name = "" }},
		{"a step without an action", func(s *Saga) { s.Steps[2].Action = nil }},
		{"two steps with one name", func(s *Saga) { s.Steps[2].Name = s.Steps[0].Name }},
		{"an order of no items", func(s *Saga) {
			s.Data = OrderData{OrderID: "o", CustomerID: "c", ProductID: "p", Quantity: 0, Amount: 100}
		}},
		{"an order of a negative amount", func(s *Saga) {
			s.Data = OrderData{OrderID: "o", CustomerID: "c", ProductID: "p", Quantity: 1, Amount: -100}
		}},
		{"an order without a product", func(s *Saga) { s.Data = OrderData{OrderID: "o", CustomerID: "c", Quantity: 1, Amount: 100} }},
		{"an order without an id", func(s *Saga) { s.Data = OrderData{CustomerID: "c", ProductID: "p", Quantity: 1, Amount: 100} }},
		{"an order without a customer", func(s *Saga) { s.Data = OrderData{OrderID: "o", ProductID: "p", Quantity: 1, Amount: 100} }},
		{"data that cannot be saved", func(s *Saga) { s.Data = map[string]any{"reply": make(chan int)} }},
	}
	for _, tt := range invalid {
		t.Run("invalid input fails before any side effect: "+tt.name, func(t *testing.T) {
			shop := newShop(map[string]int{"p": 10, "sku-1": 10})
			var log callLog
			s := shop.saga("saga-1", anOrder, newFakeClock())
			require.Len(t, s.Steps, 3, "the order saga's steps")
			for i := range s.Steps {
				action, compensate, name := s.Steps[i].Action, s.Steps[i].Compensate, s.Steps[i].Name
				s.Steps[i].Action = func(ctx context.Context, d any) error { log.add("do " + name); return action(ctx, d) }
				s.Steps[i].Compensate = func(ctx context.Context, d any) error { log.add("undo " + name); return compensate(ctx, d) }
			}
			store := newRecordingStore()
			s.Store = store
			tt.build(s)

			err := executeWithin(t, t.Context(), s, 5*time.Second)
			assert.ErrorIs(t, err, ErrInvalidInput, "Execute of a saga with %s", tt.name)
			assert.Empty(t, log.get(), "no step may run for a saga with %s", tt.name)
			assert.Zero(t, store.count(), "nothing may be saved for a saga with %s", tt.name)
			assert.Equal(t, 10, shop.inventory.Available("p"), "no stock may be taken")
			assert.Equal(t, 10, shop.inventory.Available("sku-1"), "no stock may be taken")
			assert.Empty(t, shop.payments.Payments(), "nothing may be charged")
		})
	}

	t.Run("a panicking step is a failure that is compensated", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b", "c")
		steps[1].Action = func(context.Context, any) error { log.add("do b"); panic("boom") }
		s, _ := newSaga("panics", steps)

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.Error(t, err, "a panicking step fails the saga")
		assert.ErrorIs(t, err, ErrStepPanicked, "the error of a panicking step wraps ErrStepPanicked")
		assert.Contains(t, err.Error(), "boom", "the message keeps the panic's value")
		var stepErr *StepError
		if assert.ErrorAs(t, err, &stepErr) {
			assert.Equal(t, "b", stepErr.Step, "StepError.Step names the panicking step")
		}
		assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, log.get(), "the panicking step and the one before are compensated")
		assert.Equal(t, SagaStateCompensated, s.State)
	})

	t.Run("a panicking compensation is a failed try", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b")
		steps[1].Action = log.failing("b", errInjected)
		panics := 1
		steps[0].Compensate = func(context.Context, any) error {
			log.add("undo a")
			if panics > 0 {
				panics--
				panic("compensation boom")
			}
			return nil
		}
		s, _ := newSaga("compensation-panics", steps)
		err := executeWithin(t, t.Context(), s, 5*time.Second)
		assert.ErrorIs(t, err, errInjected)
		assert.Equal(t, []string{"do a", "do b", "undo b", "undo a", "undo a"}, log.get(), "a compensation that panicked is tried again")
		assert.Equal(t, SagaStateCompensated, s.State)
	})
}

// declineError is a typed error that a step returns, to check that errors.As reaches it.
type declineError struct{ reason string }

func (e *declineError) Error() string { return "declined: " + e.reason }

func TestTimeouts(t *testing.T) {
	t.Run("each action and compensation has its own deadline", func(t *testing.T) {
		const stepTimeout, overall = time.Hour, 90 * time.Minute
		var log callLog
		steps := log.steps("a", "b", "c")
		steps[2].Action = log.failing("c", errInjected)
		type seen struct {
			call     string
			deadline time.Time
			left     time.Duration
		}
		var deadlines []seen
		wrap := func(call string, fn func(context.Context, any) error, pause time.Duration) func(context.Context, any) error {
			return func(ctx context.Context, data any) error {
				dl, ok := ctx.Deadline()
				assert.True(t, ok, "%s: the context of a step must have a deadline", call)
				deadlines = append(deadlines, seen{call, dl, time.Until(dl)})
				time.Sleep(pause) // the step takes a while, so that the next deadline is later
				return fn(ctx, data)
			}
		}
		for i := range steps {
			steps[i].Action = wrap("do "+steps[i].Name, steps[i].Action, 10*time.Millisecond)
			steps[i].Compensate = wrap("undo "+steps[i].Name, steps[i].Compensate, 0)
		}
		s, _ := newSaga("deadlines", steps)
		s.StepTimeout, s.Timeout = stepTimeout, overall

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		require.ErrorIs(t, err, errInjected)
		require.Len(t, deadlines, 6, "three actions and three compensations: %v", log.get())
		for i, d := range deadlines {
			assert.LessOrEqual(t, d.left, stepTimeout, "%s: deadline %v away, beyond StepTimeout %v", d.call, d.left, stepTimeout)
			assert.Greater(t, d.left, stepTimeout-time.Minute, "%s: deadline only %v away; want about StepTimeout (%v)", d.call, d.left, stepTimeout)
			if i > 0 && i < 3 {
				assert.True(t, d.deadline.After(deadlines[i-1].deadline.Add(5*time.Millisecond)),
					"%s: its deadline must count from its own start, after the 10ms of the step before (got %v then %v)",
					d.call, deadlines[i-1].deadline, d.deadline)
			}
		}
	})

	t.Run("zero settings give 30s per step and 5m overall", func(t *testing.T) {
		var log callLog
		var left []time.Duration
		record := func(ctx context.Context, _ any) error {
			dl, ok := ctx.Deadline()
			assert.True(t, ok, "the context of a step must have a deadline")
			left = append(left, time.Until(dl))
			return nil
		}
		steps := log.steps("a")
		steps[0].Action = record
		s, _ := newSaga("step-default", steps)
		require.NoError(t, executeWithin(t, t.Context(), s, 5*time.Second))
		steps = log.steps("a")
		steps[0].Action = record
		s, _ = newSaga("overall-default", steps)
		s.StepTimeout = time.Hour
		require.NoError(t, executeWithin(t, t.Context(), s, 5*time.Second))
		require.Len(t, left, 2, "each saga's action must run once")
		assert.InDelta(t, float64(30*time.Second), float64(left[0]), float64(10*time.Second),
			"with a zero StepTimeout an action's deadline is 30s away (got %v)", left[0])
		assert.InDelta(t, float64(5*time.Minute), float64(left[1]), float64(10*time.Second),
			"with a zero Timeout (and StepTimeout 1h) an action's deadline is 5m away (got %v)", left[1])
	})

	t.Run("the overall deadline bounds the actions only", func(t *testing.T) {
		const stepTimeout, overall = time.Hour, 10 * time.Minute
		var log callLog
		steps := log.steps("a", "b")
		steps[1].Action = log.failing("b", errInjected)
		var actionLeft, compensationLeft []time.Duration
		for i := range steps {
			action, compensate := steps[i].Action, steps[i].Compensate
			steps[i].Action = func(ctx context.Context, data any) error {
				dl, _ := ctx.Deadline()
				actionLeft = append(actionLeft, time.Until(dl))
				return action(ctx, data)
			}
			steps[i].Compensate = func(ctx context.Context, data any) error {
				dl, _ := ctx.Deadline()
				compensationLeft = append(compensationLeft, time.Until(dl))
				return compensate(ctx, data)
			}
		}
		s, _ := newSaga("overall", steps)
		s.StepTimeout, s.Timeout = stepTimeout, overall
		require.ErrorIs(t, executeWithin(t, t.Context(), s, 5*time.Second), errInjected)
		for _, left := range actionLeft {
			assert.LessOrEqual(t, left, overall, "an action's deadline is at most the saga's Timeout away")
			assert.Greater(t, left, overall-time.Minute, "an action's deadline is the saga's deadline here")
		}
		for _, left := range compensationLeft {
			assert.Greater(t, left, stepTimeout-time.Minute, "a compensation gets StepTimeout, whatever the saga's Timeout")
		}
	})

	t.Run("a step past its timeout is compensated and its late result changes nothing", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b", "c")
		release, returned := make(chan struct{}), make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseOnce)
		steps[1].Action = func(context.Context, any) error {
			log.add("do b")
			<-release // a step that ignores its context
			defer close(returned)
			return nil
		}
		store := newRecordingStore()
		s, _ := newSaga("slow", steps)
		s.StepTimeout, s.Store = 250*time.Millisecond, store

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a step past its timeout fails with context.DeadlineExceeded")
		var stepErr *StepError
		if assert.ErrorAs(t, err, &stepErr) {
			assert.Equal(t, "b", stepErr.Step, "StepError.Step names the step that timed out")
		}
		assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, log.get(), "the step that timed out and the one before are compensated")
		require.Equal(t, SagaStateCompensated, s.State)
		saves := store.count()

		releaseOnce() // the late step now succeeds
		select {
		case <-returned:
		case <-time.After(5 * time.Second):
			require.FailNow(t, "the released step did not return")
		}
		assert.Never(t, func() bool { return store.count() != saves }, 100*time.Millisecond, 5*time.Millisecond,
			"the late result must not be saved")
		assert.Equal(t, SagaStateCompensated, s.State, "the late result must not change the saga's state")
		assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, log.get(), "the late result must run nothing more")
	})

	t.Run("the overall deadline stops the saga and compensates", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b", "c")
		var compensationErrs []error
		steps[1].Action = func(ctx context.Context, _ any) error {
			log.add("do b")
			<-ctx.Done()
			return ctx.Err()
		}
		for i := range steps {
			name := steps[i].Name
			steps[i].Compensate = func(ctx context.Context, _ any) error {
				log.add("undo " + name)
				compensationErrs = append(compensationErrs, ctx.Err())
				return nil
			}
		}
		s, _ := newSaga("deadline", steps)
		s.Timeout, s.StepTimeout = 250*time.Millisecond, time.Hour

		err := executeWithin(t, t.Context(), s, 5*time.Second)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the saga past its Timeout")
		assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, log.get(), "no step starts after the deadline; the compensations run")
		for _, err := range compensationErrs {
			assert.NoError(t, err, "compensations run on a live context after the saga's deadline")
		}
		assert.Equal(t, SagaStateCompensated, s.State)
	})

	t.Run("cancelling the caller's context stops forward progress but compensates", func(t *testing.T) {
		var log callLog
		steps := log.steps("a", "b", "c")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		steps[1].Action = func(context.Context, any) error {
			log.add("do b")
			cancel() // the caller gives up while b runs; b itself succeeds
			return nil
		}
		var compensationErrs []error
		for i := range steps {
			name := steps[i].Name
			steps[i].Compensate = func(ctx context.Context, _ any) error {
				log.add("undo " + name)
				compensationErrs = append(compensationErrs, ctx.Err())
				return nil
			}
		}
		s, _ := newSaga("cancelled", steps)

		err := executeWithin(t, ctx, s, 5*time.Second)
		assert.ErrorIs(t, err, context.Canceled, "a saga whose caller cancelled")
		assert.Never(t, func() bool { return slices.Contains(log.get(), "do c") }, 100*time.Millisecond, 5*time.Millisecond,
			"no action may start after the caller cancelled")
		calls := log.get()
		if assert.GreaterOrEqual(t, len(calls), 4, "calls: %v", calls) {
			assert.Equal(t, []string{"undo b", "undo a"}, calls[len(calls)-2:], "the steps done must be compensated, last first")
		}
		for _, err := range compensationErrs {
			assert.NoError(t, err, "compensations run on a context that the caller's cancellation does not reach")
		}
		assert.Equal(t, SagaStateCompensated, s.State)
	})

	t.Run("the order saga compensates after the caller cancels", func(t *testing.T) {
		shop := newShop(map[string]int{"sku-1": 10})
		s := shop.saga("saga-1", anOrder, newFakeClock())
		require.Len(t, s.Steps, 3, "the order saga's steps")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		pay := s.Steps[1].Action
		s.Steps[1].Action = func(ctx context.Context, data any) error {
			err := pay(ctx, data)
			cancel()
			return err
		}
		err := executeWithin(t, ctx, s, 5*time.Second)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, SagaStateCompensated, s.State, "the services' compensations must get a live context (got %v)", s.State)
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "the reservation must be released")
		shop.assertInvariants(t)
	})
}
