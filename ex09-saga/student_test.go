package saga

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Your tests for success and failure scenarios (criterion ex09.tests) go in this file, or in new
// _test.go files of your own. Give your tests and helpers names of your own (a My prefix works)
// so that they do not clash with the workbook's test files, which are compiled with them.
//
// The example below shows the style: a hand-written clock that never sleeps, the real services,
// and checks of the effects (stock, payments, orders), not of how the saga calls them.

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

func TestMyPaymentFailureReleasesTheStock(t *testing.T) {
	inventory := NewInventoryService(map[string]int{"sku-1": 5})
	payments := NewPaymentService()
	orders := NewOrderService()
	s := CreateOrderSaga(orders, payments, inventory)
	require.Len(t, s.Steps, 3)
	s.ID = "my-saga"
	s.Data = OrderData{OrderID: "order-1", CustomerID: "ana", ProductID: "sku-1", Quantity: 2, Amount: 1998}
	s.Clock = &myClock{now: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	errDeclined := errors.New("card declined")
	s.Steps[1].Action = func(context.Context, any) error { return errDeclined }

	err := s.Execute(t.Context())

	require.ErrorIs(t, err, errDeclined)
	var stepErr *StepError
	require.ErrorAs(t, err, &stepErr)
	assert.Equal(t, "process_payment", stepErr.Step)
	assert.Equal(t, SagaStateCompensated, s.State)
	assert.Equal(t, 5, inventory.Available("sku-1"), "the reserved items are released")
	assert.Empty(t, payments.Payments(), "nothing is charged")
	assert.Empty(t, orders.Orders(), "no order is confirmed")
}
