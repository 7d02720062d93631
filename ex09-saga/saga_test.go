package saga

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick checks to run while you work. The graded criteria are in criteria_test.go.

func TestSagaStateString(t *testing.T) {
	tests := []struct {
		state SagaState
		want  string
	}{
		{SagaStatePending, "pending"},
		{SagaStateCompleted, "completed"},
		{SagaStateFailed, "failed"},
		{SagaStateCompensating, "compensating"},
		{SagaStateCompensated, "compensated"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.state.String())
		})
	}
}

func TestTwoStepsThenCompensation(t *testing.T) {
	var calls []string
	step := func(name string) SagaStep {
		return SagaStep{
			Name:       name,
			Action:     func(context.Context, any) error { calls = append(calls, "do "+name); return nil },
			Compensate: func(context.Context, any) error { calls = append(calls, "undo "+name); return nil },
		}
	}
	s := &Saga{ID: "quick", Steps: []SagaStep{step("a"), step("b")}}
	require.NoError(t, s.Execute(t.Context()))
	assert.Equal(t, []string{"do a", "do b"}, calls)
	assert.Equal(t, SagaStateCompleted, s.State)

	calls = nil
	failing := step("c")
	failing.Action = func(context.Context, any) error { calls = append(calls, "do c"); return assert.AnError }
	s = &Saga{ID: "quick-fails", Steps: []SagaStep{step("a"), step("b"), failing}}
	err := s.Execute(t.Context())
	assert.ErrorIs(t, err, assert.AnError)
	assert.Equal(t, []string{"do a", "do b", "do c", "undo c", "undo b", "undo a"}, calls)
	assert.Equal(t, SagaStateCompensated, s.State)
}

func TestOrderSagaCompletes(t *testing.T) {
	inventory := NewInventoryService(map[string]int{"sku-1": 5})
	payments := NewPaymentService()
	orders := NewOrderService()
	s := CreateOrderSaga(orders, payments, inventory)
	s.ID = "order-saga-1"
	s.Data = OrderData{OrderID: "order-1", CustomerID: "ana", ProductID: "sku-1", Quantity: 2, Amount: 1998}

	require.NoError(t, s.Execute(t.Context()))
	assert.Equal(t, SagaStateCompleted, s.State)
	assert.Equal(t, 3, inventory.Available("sku-1"))
	assert.Len(t, payments.Payments(), 1)
	assert.Len(t, orders.Orders(), 1)
}
