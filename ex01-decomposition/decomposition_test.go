package decomposition

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests give quick feedback while you work. The graded criteria are in criteria_test.go.

// TestServiceDecomposition is the exercise's original test. The only change: a require.NoError
// before retrieved is dereferenced, so that an unfinished GetUser fails the test instead of
// crashing it.
func TestServiceDecomposition(t *testing.T) {
	// Test user service isolation
	userSvc := NewUserService()
	user := User{ID: "u1", Email: "test@example.com"}

	err := userSvc.CreateUser(context.Background(), user)
	assert.NoError(t, err)

	retrieved, err := userSvc.GetUser(context.Background(), "u1")
	require.NoError(t, err)
	assert.Equal(t, user.Email, retrieved.Email)

	// Test product service isolation
	productSvc := NewProductService()
	product := Product{ID: "p1", Name: "Test Product", Price: 99.99}

	err = productSvc.CreateProduct(context.Background(), product)
	assert.NoError(t, err)

	// Test order service with dependencies
	orderSvc := NewOrderService(userSvc, productSvc)
	order := Order{
		ID:     "o1",
		UserID: "u1",
		Items:  []OrderItem{{ProductID: "p1", Quantity: 1}},
	}

	err = orderSvc.CreateOrder(context.Background(), order)
	assert.NoError(t, err)
}

// TestCheckout walks one purchase through all six services, the way a checkout flow (or, later
// in this workbook, a saga) would call them. No service calls another except the order service,
// which reaches users and products through the interfaces NewOrderService takes.
func TestCheckout(t *testing.T) {
	ctx := context.Background()
	users, products := NewUserService(), NewProductService()
	inventory, payments, notifications := NewInventoryService(), NewPaymentService(), NewNotificationService()
	orders := NewOrderService(users, products)

	require.NoError(t, users.CreateUser(ctx, User{ID: "grace", Email: "grace@example.com", Name: "Grace"}))
	require.NoError(t, products.CreateProduct(ctx, Product{ID: "kbd", Name: "Keyboard", Price: 45}))
	require.NoError(t, inventory.SetStock(ctx, "kbd", 10))

	require.NoError(t, orders.CreateOrder(ctx, Order{ID: "order-1", UserID: "grace", Items: []OrderItem{{ProductID: "kbd", Quantity: 2}}}))
	order, err := orders.GetOrder(ctx, "order-1")
	require.NoError(t, err)
	assert.InDelta(t, 90.0, order.Total, 0.001, "2 keyboards at 45.00")

	require.NoError(t, inventory.Reserve(ctx, "kbd", 2))
	require.NoError(t, payments.Charge(ctx, Payment{ID: "pay-1", OrderID: order.ID, Amount: order.Total}))
	require.NoError(t, notifications.Send(ctx, Notification{UserID: "grace", Subject: "Order placed", Message: "Thanks for order-1"}))

	left, err := inventory.Stock(ctx, "kbd")
	require.NoError(t, err)
	assert.Equal(t, 8, left)
	sent, err := notifications.Sent(ctx, "grace")
	require.NoError(t, err)
	assert.Len(t, sent, 1)
}

// TestErrorKinds shows how callers tell failures apart: errors.Is against the package's
// sentinel errors, whichever service returned them.
func TestErrorKinds(t *testing.T) {
	ctx := context.Background()
	inventory := NewInventoryService()
	require.NoError(t, inventory.SetStock(ctx, "kbd", 1))

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown user", onlyErr(NewUserService().GetUser(ctx, "ghost")), ErrNotFound},
		{"bad email", NewUserService().CreateUser(ctx, User{ID: "x", Email: "x"}), ErrInvalidInput},
		{"free product", NewProductService().CreateProduct(ctx, Product{ID: "x", Name: "Gift", Price: 0}), ErrInvalidInput},
		{"not enough stock", inventory.Reserve(ctx, "kbd", 2), ErrInsufficientStock},
		{"negative payment", NewPaymentService().Charge(ctx, Payment{ID: "x", OrderID: "o", Amount: -5}), ErrInvalidInput},
		{"empty notification", NewNotificationService().Send(ctx, Notification{UserID: "u"}), ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.True(t, errors.Is(tt.err, tt.want), "expected an error wrapping %q, got %v", tt.want, tt.err)
		})
	}
}

// TestConcurrentUse calls one product service from several goroutines. Run it with -race: a
// store without a mutex shows up here.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	products := NewProductService()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := fmt.Sprintf("p%d", i)
			assert.NoError(t, products.CreateProduct(ctx, Product{ID: id, Name: "Item", Price: 1}))
			_, err := products.GetProduct(ctx, id)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

// onlyErr keeps the error of a (value, error) pair.
func onlyErr[T any](_ T, err error) error { return err }
