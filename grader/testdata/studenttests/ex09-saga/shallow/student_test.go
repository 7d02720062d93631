package saga

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A shallow suite: happy paths only. It passes against a correct saga but misses most wrong
// ones, so it must not meet ex09.tests.

func TestMyOrderSagaCompletes(t *testing.T) {
	inventory := NewInventoryService(map[string]int{"sku-1": 5})
	payments := NewPaymentService()
	orders := NewOrderService()
	s := CreateOrderSaga(orders, payments, inventory)
	s.ID = "my-saga"
	s.Data = OrderData{OrderID: "order-1", CustomerID: "ana", ProductID: "sku-1", Quantity: 2, Amount: 1998}

	require.NoError(t, s.Execute(t.Context()))
	assert.Len(t, payments.Payments(), 1)
}

func TestMyStepsRun(t *testing.T) {
	ran := 0
	step := func(name string) SagaStep {
		return SagaStep{Name: name, Action: func(context.Context, any) error { ran++; return nil }}
	}
	s := &Saga{ID: "my-steps", Steps: []SagaStep{step("a"), step("b")}}
	require.NoError(t, s.Execute(t.Context()))
	assert.Equal(t, 2, ran)
}
