package saga

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests for the success and failure scenarios of the saga (criterion ex09.tests). They use only
// this package's API, a clock that never sleeps, and the real services.

// myClock is a Clock whose Sleep returns at once and records the wait.
type myClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *myClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *myClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

var errMyFailure = errors.New("my failure")

// myRecorder builds steps that record their calls: "do x" for an action, "undo x" for a
// compensation.
type myRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *myRecorder) add(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
}

func (r *myRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *myRecorder) steps(names ...string) []SagaStep {
	var steps []SagaStep
	for _, name := range names {
		steps = append(steps, SagaStep{
			Name:       name,
			Action:     func(context.Context, any) error { r.add("do " + name); return nil },
			Compensate: func(context.Context, any) error { r.add("undo " + name); return nil },
		})
	}
	return steps
}

// mySaga returns a saga with the given steps.
func mySaga(steps []SagaStep) *Saga { return &Saga{ID: "my-saga", Steps: steps} }

// myShop is the three services and an order saga over them.
type myShop struct {
	inventory *InventoryService
	payments  *PaymentService
	orders    *OrderService
}

func newMyShop(stock int) *myShop {
	return &myShop{NewInventoryService(map[string]int{"sku-1": stock}), NewPaymentService(), NewOrderService()}
}

var myOrder = OrderData{OrderID: "order-1", CustomerID: "ana", ProductID: "sku-1", Quantity: 2, Amount: 1998}

func (s *myShop) saga(id string) *Saga {
	sg := CreateOrderSaga(s.orders, s.payments, s.inventory)
	sg.ID, sg.Data = id, myOrder
	sg.Clock = &myClock{now: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	return sg
}

func TestMyPaymentFailureReleasesTheStock(t *testing.T) {
	shop := newMyShop(5)
	s := shop.saga("my-saga")
	require.Len(t, s.Steps, 3)
	errDeclined := errors.New("card declined")
	s.Steps[1].Action = func(context.Context, any) error { return errDeclined }

	err := s.Execute(t.Context())

	require.ErrorIs(t, err, errDeclined)
	var stepErr *StepError
	require.ErrorAs(t, err, &stepErr)
	assert.Equal(t, "process_payment", stepErr.Step)
	assert.Equal(t, SagaStateCompensated, s.State)
	assert.Equal(t, 5, shop.inventory.Available("sku-1"), "the reserved items are released")
	assert.Empty(t, shop.payments.Payments(), "nothing is charged")
	assert.Empty(t, shop.orders.Orders(), "no order is confirmed")
}

func TestMyOrderSagaCompletes(t *testing.T) {
	shop := newMyShop(5)
	s := shop.saga("my-saga")

	require.NoError(t, s.Execute(t.Context()))

	assert.Equal(t, SagaStateCompleted, s.State)
	assert.Equal(t, 3, shop.inventory.Available("sku-1"))
	payments := shop.payments.Payments()
	require.Len(t, payments, 1)
	assert.Equal(t, myOrder.Amount, payments[0].Amount)
	assert.False(t, payments[0].Refunded)
	orders := shop.orders.Orders()
	require.Len(t, orders, 1)
	assert.Equal(t, OrderConfirmed, orders[0].Status)
}

func TestMyStepsRunInOrder(t *testing.T) {
	var rec myRecorder
	s := mySaga(rec.steps("a", "b", "c"))
	require.NoError(t, s.Execute(t.Context()))
	assert.Equal(t, []string{"do a", "do b", "do c"}, rec.got())
	assert.Equal(t, SagaStateCompleted, s.State)
}

func TestMyFailureAtEachStep(t *testing.T) {
	tests := []struct {
		failAt string
		want   []string
	}{
		{"a", []string{"do a", "undo a"}},
		{"b", []string{"do a", "do b", "undo b", "undo a"}},
		{"c", []string{"do a", "do b", "do c", "undo c", "undo b", "undo a"}},
	}
	for _, tt := range tests {
		t.Run("fails at "+tt.failAt, func(t *testing.T) {
			var rec myRecorder
			steps := rec.steps("a", "b", "c")
			for i := range steps {
				if steps[i].Name == tt.failAt {
					steps[i].Action = func(context.Context, any) error { rec.add("do " + tt.failAt); return errMyFailure }
				}
			}
			s := mySaga(steps)

			err := s.Execute(t.Context())

			require.ErrorIs(t, err, errMyFailure)
			var stepErr *StepError
			require.ErrorAs(t, err, &stepErr)
			assert.Equal(t, tt.failAt, stepErr.Step)
			assert.Equal(t, tt.want, rec.got())
			assert.Equal(t, SagaStateCompensated, s.State)
		})
	}
}

func TestMyCompensationRetriesThenFails(t *testing.T) {
	var rec myRecorder
	steps := rec.steps("a", "b")
	steps[1].Action = func(context.Context, any) error { return errMyFailure }
	attempts := 0
	steps[0].Compensate = func(context.Context, any) error { attempts++; return fmt.Errorf("attempt %d failed", attempts) }
	clock := &myClock{}
	s := &Saga{ID: "my-stuck", Steps: steps, Clock: clock, CompensationRetries: 2, RetryBackoff: time.Second}

	err := s.Execute(t.Context())

	assert.ErrorIs(t, err, ErrCompensationFailed)
	assert.Contains(t, err.Error(), `"a"`)
	assert.Equal(t, SagaStateFailed, s.State)
	assert.Equal(t, 3, attempts)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, clock.waits)
}

func TestMyIdempotentServices(t *testing.T) {
	shop := newMyShop(5)
	s := shop.saga("my-saga")
	ctx := t.Context()
	for range 2 {
		for _, step := range s.Steps {
			require.NoError(t, step.Action(ctx, myOrder))
		}
	}
	assert.Equal(t, 3, shop.inventory.Available("sku-1"), "reserved once")
	assert.Len(t, shop.payments.Payments(), 1, "charged once")
	assert.Len(t, shop.orders.Orders(), 1, "confirmed once")

	for range 2 {
		for _, step := range s.Steps {
			require.NoError(t, step.Compensate(ctx, myOrder))
		}
	}
	assert.Equal(t, 5, shop.inventory.Available("sku-1"), "released once")
	assert.True(t, shop.payments.Payments()[0].Refunded)
	assert.Equal(t, OrderCancelled, shop.orders.Orders()[0].Status)
}

func TestMyFailedStepThatActedIsUndone(t *testing.T) {
	shop := newMyShop(5)
	s := shop.saga("my-saga")
	charge := s.Steps[1].Action
	s.Steps[1].Action = func(ctx context.Context, data any) error {
		_ = charge(ctx, data) // the charge went through, the answer was lost
		return errMyFailure
	}

	require.ErrorIs(t, s.Execute(t.Context()), errMyFailure)

	payments := shop.payments.Payments()
	require.Len(t, payments, 1)
	assert.True(t, payments[0].Refunded, "the failed step's charge must be refunded")
	assert.Equal(t, 5, shop.inventory.Available("sku-1"))
}

func TestMyPanickingStep(t *testing.T) {
	var rec myRecorder
	steps := rec.steps("a", "b")
	steps[1].Action = func(context.Context, any) error { panic("my panic") }
	s := mySaga(steps)

	err := s.Execute(t.Context())

	assert.ErrorIs(t, err, ErrStepPanicked)
	assert.Equal(t, SagaStateCompensated, s.State)
	assert.Contains(t, rec.got(), "undo a")
}

func TestMyCancelledContext(t *testing.T) {
	var rec myRecorder
	steps := rec.steps("a", "b", "c")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	steps[1].Action = func(context.Context, any) error { rec.add("do b"); cancel(); return nil }

	err := mySaga(steps).Execute(ctx)

	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []string{"do a", "do b", "undo b", "undo a"}, rec.got())
}

func TestMyInvalidOrderIsRefused(t *testing.T) {
	shop := newMyShop(5)
	sg := shop.saga("my-saga")
	sg.Data = OrderData{OrderID: "order-1", CustomerID: "ana", ProductID: "sku-1", Quantity: 0, Amount: 100}

	assert.ErrorIs(t, sg.Execute(t.Context()), ErrInvalidInput)
	assert.Equal(t, 5, shop.inventory.Available("sku-1"))
}

func TestMyStoreRecordsTheOutcome(t *testing.T) {
	shop := newMyShop(5)
	sg := shop.saga("my-saga")
	store := NewMemoryStore()
	sg.Store = store
	require.NoError(t, sg.Execute(t.Context()))

	rec, err := store.Load(t.Context(), "my-saga")
	require.NoError(t, err)
	assert.Equal(t, SagaStateCompleted, rec.State)
	unfinished, err := store.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, unfinished)
}
