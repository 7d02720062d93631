package saga

import (
	"context"
	"errors"
)

// ErrInsufficientStock is returned by InventoryService.Reserve when the product has fewer items
// available than asked for.
var ErrInsufficientStock = errors.New("insufficient stock")

// ErrCompensated is returned by an action whose key has already been compensated: a late or
// replayed action arrives after the compensation that undid it, and must not take effect.
var ErrCompensated = errors.New("already compensated")

// OrderData is the Data of an order saga.
type OrderData struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	ProductID  string `json:"product_id"`
	Quantity   int    `json:"quantity"`
	// Amount is the price to charge, in cents.
	Amount int64 `json:"amount"`
}

// Validate reports, wrapping ErrInvalidInput, the first field of o that is missing or not
// positive. Execute calls it before running the saga.
func (o OrderData) Validate() error {
	// TODO(ex09.error-handling): report the first of OrderID, CustomerID, ProductID missing, or of
	// Quantity and Amount not positive, with an error wrapping ErrInvalidInput.
	return nil
}

// InventoryService holds the stock of products and reserves items for orders. Reserve and
// Release are idempotent by key. It is safe for concurrent use.
type InventoryService struct {
	// TODO(ex09.workflow): the stock by product and the reservations by key, under a sync.Mutex.
	// TODO(ex09.compensation): the keys already released.
}

// NewInventoryService returns an inventory holding a copy of stock (items by product id).
func NewInventoryService(stock map[string]int) *InventoryService {
	return &InventoryService{}
}

// Reserve takes quantity items of product out of the available stock, once per key: a second
// call with the same key does nothing. It returns ErrInsufficientStock when too few are
// available, and ErrCompensated when key has already been released.
func (s *InventoryService) Reserve(ctx context.Context, key, product string, quantity int) error {
	// TODO(ex09.workflow): check and take the stock under one lock; do nothing for a key already
	// reserved. TODO(ex09.compensation): refuse a key already released (ErrCompensated).
	return ErrNotImplemented
}

// Release puts back the items reserved with key. Releasing twice, or releasing a key that
// reserved nothing, changes no stock; a later Reserve with key is refused.
func (s *InventoryService) Release(ctx context.Context, key string) error {
	// TODO(ex09.compensation): give back what key reserved, once; remember key as released.
	return ErrNotImplemented
}

// Available returns how many items of product are in stock and not reserved.
func (s *InventoryService) Available(product string) int {
	// TODO(ex09.workflow): read the stock under the lock.
	return 0
}

// Payment is a charge made by the PaymentService.
type Payment struct {
	Key      string
	OrderID  string
	Amount   int64
	Refunded bool
}

// PaymentService charges orders and refunds them. Charge and Refund are idempotent by key. It
// is safe for concurrent use.
type PaymentService struct {
	// TODO(ex09.workflow): the payments by key, under a sync.Mutex.
	// TODO(ex09.compensation): the keys already refunded.
}

// NewPaymentService returns a payment service that has charged nothing.
func NewPaymentService() *PaymentService {
	return &PaymentService{}
}

// Charge charges amount (in cents) for orderID, once per key: a second call with the same key
// does nothing. It returns ErrCompensated when key has already been refunded.
func (s *PaymentService) Charge(ctx context.Context, key, orderID string, amount int64) error {
	// TODO(ex09.workflow): record one Payment per key. TODO(ex09.compensation): refuse a key
	// already refunded (ErrCompensated).
	return ErrNotImplemented
}

// Refund refunds the charge made with key. Refunding twice, or a key that charged nothing, pays
// nothing back; a later Charge with key is refused.
func (s *PaymentService) Refund(ctx context.Context, key string) error {
	// TODO(ex09.compensation): mark the payment of key refunded, if any; remember key as refunded.
	return ErrNotImplemented
}

// Payments returns every charge made, refunded or not, sorted by key.
func (s *PaymentService) Payments() []Payment {
	// TODO(ex09.workflow): copies of the payments, sorted by key.
	return nil
}

// OrderStatus is the status of an Order.
type OrderStatus string

// The statuses of an order.
const (
	OrderConfirmed OrderStatus = "confirmed"
	OrderCancelled OrderStatus = "cancelled"
)

// Order is an order recorded by the OrderService.
type Order struct {
	Key string
	OrderData
	Status OrderStatus
}

// OrderService records confirmed orders and cancels them. Confirm and Cancel are idempotent by
// key. It is safe for concurrent use.
type OrderService struct {
	// TODO(ex09.workflow): the orders by key, under a sync.Mutex.
	// TODO(ex09.compensation): the keys already cancelled.
}

// NewOrderService returns an order service with no orders.
func NewOrderService() *OrderService {
	return &OrderService{}
}

// Confirm records order as confirmed, once per key: a second call with the same key does
// nothing. It returns ErrCompensated when key has already been cancelled.
func (s *OrderService) Confirm(ctx context.Context, key string, order OrderData) error {
	// TODO(ex09.workflow): record one confirmed Order per key. TODO(ex09.compensation): refuse a
	// key already cancelled (ErrCompensated).
	return ErrNotImplemented
}

// Cancel cancels the order confirmed with key. Cancelling twice, or a key that confirmed
// nothing, changes no order; a later Confirm with key is refused.
func (s *OrderService) Cancel(ctx context.Context, key string) error {
	// TODO(ex09.compensation): mark the order of key cancelled, if any; remember key as cancelled.
	return ErrNotImplemented
}

// Orders returns every order recorded, confirmed or cancelled, sorted by key.
func (s *OrderService) Orders() []Order {
	// TODO(ex09.workflow): copies of the orders, sorted by key.
	return nil
}

// The names of the order saga's steps, in order.
const (
	StepReserveInventory = "reserve_inventory"
	StepProcessPayment   = "process_payment"
	StepConfirmOrder     = "confirm_order"
)

// CreateOrderSaga returns the order saga: reserve_inventory, process_payment, confirm_order.
// Set its ID and its Data (an OrderData) before Execute. Each step's key is the saga's ID and
// the step's name ("<id>/process_payment"), read when the step runs, so that running a step
// again, or compensating it again, never acts twice.
func CreateOrderSaga(orderSvc *OrderService, paymentSvc *PaymentService, inventorySvc *InventoryService) *Saga {
	s := &Saga{}
	// TODO(ex09.workflow): each action reads the OrderData in data and calls its service with the
	// key s.ID + "/" + the step's name: Reserve, Charge, Confirm.
	// TODO(ex09.compensation): each compensation calls Release, Refund or Cancel with that key.
	notYet := func(context.Context, any) error { return ErrNotImplemented }
	s.Steps = []SagaStep{
		{Name: StepReserveInventory, Action: notYet, Compensate: notYet},
		{Name: StepProcessPayment, Action: notYet, Compensate: notYet},
		{Name: StepConfirmOrder, Action: notYet, Compensate: notYet},
	}
	return s
}
