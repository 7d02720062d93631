package saga

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
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
	switch {
	case o.OrderID == "":
		return fmt.Errorf("%w: order without an id", ErrInvalidInput)
	case o.CustomerID == "":
		return fmt.Errorf("%w: order %q has no customer", ErrInvalidInput, o.OrderID)
	case o.ProductID == "":
		return fmt.Errorf("%w: order %q has no product", ErrInvalidInput, o.OrderID)
	case o.Quantity <= 0:
		return fmt.Errorf("%w: order %q: quantity %d is not positive", ErrInvalidInput, o.OrderID, o.Quantity)
	case o.Amount <= 0:
		return fmt.Errorf("%w: order %q: amount %d is not positive", ErrInvalidInput, o.OrderID, o.Amount)
	}
	return nil
}

// orderData returns the OrderData in a saga's data.
func orderData(data any) (OrderData, error) {
	switch d := data.(type) {
	case OrderData:
		return d, d.Validate()
	case *OrderData:
		if d != nil {
			return *d, d.Validate()
		}
	}
	return OrderData{}, fmt.Errorf("%w: the data of an order saga is an OrderData, not %T", ErrInvalidInput, data)
}

// checkKey refuses an empty idempotency key or a done context.
func checkKey(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty idempotency key", ErrInvalidInput)
	}
	return ctx.Err()
}

// InventoryService holds the stock of products and reserves items for orders. Reserve and
// Release are idempotent by key. It is safe for concurrent use.
type InventoryService struct {
	mu           sync.Mutex
	stock        map[string]int
	reservations map[string]reservation
	released     map[string]bool
}

type reservation struct {
	product  string
	quantity int
}

// NewInventoryService returns an inventory holding a copy of stock (items by product id).
func NewInventoryService(stock map[string]int) *InventoryService {
	s := &InventoryService{stock: map[string]int{}, reservations: map[string]reservation{}, released: map[string]bool{}}
	for product, n := range stock {
		s.stock[product] = n
	}
	return s
}

// Reserve takes quantity items of product out of the available stock, once per key: a second
// call with the same key does nothing. It returns ErrInsufficientStock when too few are
// available, and ErrCompensated when key has already been released.
func (s *InventoryService) Reserve(ctx context.Context, key, product string, quantity int) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	if product == "" || quantity <= 0 {
		return fmt.Errorf("%w: reserve %d of product %q", ErrInvalidInput, quantity, product)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch _, reserved := s.reservations[key]; {
	case s.released[key]:
		return fmt.Errorf("reservation %q: %w", key, ErrCompensated)
	case reserved:
		return nil
	case s.stock[product] < quantity:
		return fmt.Errorf("reserve %d of %q (%d available): %w", quantity, product, s.stock[product], ErrInsufficientStock)
	}
	s.stock[product] -= quantity
	s.reservations[key] = reservation{product: product, quantity: quantity}
	return nil
}

// Release puts back the items reserved with key. Releasing twice, or releasing a key that
// reserved nothing, changes no stock; a later Reserve with key is refused.
func (s *InventoryService) Release(ctx context.Context, key string) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reservations[key]; ok {
		s.stock[r.product] += r.quantity
		delete(s.reservations, key)
	}
	s.released[key] = true
	return nil
}

// Available returns how many items of product are in stock and not reserved.
func (s *InventoryService) Available(product string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stock[product]
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
	mu       sync.Mutex
	payments map[string]*Payment
	refunded map[string]bool
}

// NewPaymentService returns a payment service that has charged nothing.
func NewPaymentService() *PaymentService {
	return &PaymentService{payments: map[string]*Payment{}, refunded: map[string]bool{}}
}

// Charge charges amount (in cents) for orderID, once per key: a second call with the same key
// does nothing. It returns ErrCompensated when key has already been refunded.
func (s *PaymentService) Charge(ctx context.Context, key, orderID string, amount int64) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	if orderID == "" || amount <= 0 {
		return fmt.Errorf("%w: charge %d for order %q", ErrInvalidInput, amount, orderID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.refunded[key]:
		return fmt.Errorf("payment %q: %w", key, ErrCompensated)
	case s.payments[key] != nil:
		return nil
	}
	s.payments[key] = &Payment{Key: key, OrderID: orderID, Amount: amount}
	return nil
}

// Refund refunds the charge made with key. Refunding twice, or a key that charged nothing, pays
// nothing back; a later Charge with key is refused.
func (s *PaymentService) Refund(ctx context.Context, key string) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.payments[key]; p != nil {
		p.Refunded = true
	}
	s.refunded[key] = true
	return nil
}

// Payments returns every charge made, refunded or not, sorted by key.
func (s *PaymentService) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	payments := make([]Payment, 0, len(s.payments))
	for _, p := range s.payments {
		payments = append(payments, *p)
	}
	sort.Slice(payments, func(i, j int) bool { return payments[i].Key < payments[j].Key })
	return payments
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
	mu        sync.Mutex
	orders    map[string]*Order
	cancelled map[string]bool
}

// NewOrderService returns an order service with no orders.
func NewOrderService() *OrderService {
	return &OrderService{orders: map[string]*Order{}, cancelled: map[string]bool{}}
}

// Confirm records order as confirmed, once per key: a second call with the same key does
// nothing. It returns ErrCompensated when key has already been cancelled.
func (s *OrderService) Confirm(ctx context.Context, key string, order OrderData) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	if err := order.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cancelled[key]:
		return fmt.Errorf("order %q: %w", key, ErrCompensated)
	case s.orders[key] != nil:
		return nil
	}
	s.orders[key] = &Order{Key: key, OrderData: order, Status: OrderConfirmed}
	return nil
}

// Cancel cancels the order confirmed with key. Cancelling twice, or a key that confirmed
// nothing, changes no order; a later Confirm with key is refused.
func (s *OrderService) Cancel(ctx context.Context, key string) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orders[key]; o != nil {
		o.Status = OrderCancelled
	}
	s.cancelled[key] = true
	return nil
}

// Orders returns every order recorded, confirmed or cancelled, sorted by key.
func (s *OrderService) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	orders := make([]Order, 0, len(s.orders))
	for _, o := range s.orders {
		orders = append(orders, *o)
	}
	sort.Slice(orders, func(i, j int) bool { return orders[i].Key < orders[j].Key })
	return orders
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
	key := func(step string) string { return s.ID + "/" + step }
	s.Steps = []SagaStep{
		{
			Name: StepReserveInventory,
			Action: func(ctx context.Context, data any) error {
				order, err := orderData(data)
				if err != nil {
					return err
				}
				return inventorySvc.Reserve(ctx, key(StepReserveInventory), order.ProductID, order.Quantity)
			},
			Compensate: func(ctx context.Context, _ any) error {
				return inventorySvc.Release(ctx, key(StepReserveInventory))
			},
		},
		{
			Name: StepProcessPayment,
			Action: func(ctx context.Context, data any) error {
				order, err := orderData(data)
				if err != nil {
					return err
				}
				return paymentSvc.Charge(ctx, key(StepProcessPayment), order.OrderID, order.Amount)
			},
			Compensate: func(ctx context.Context, _ any) error {
				return paymentSvc.Refund(ctx, key(StepProcessPayment))
			},
		},
		{
			Name: StepConfirmOrder,
			Action: func(ctx context.Context, data any) error {
				order, err := orderData(data)
				if err != nil {
					return err
				}
				return orderSvc.Confirm(ctx, key(StepConfirmOrder), order)
			},
			Compensate: func(ctx context.Context, _ any) error {
				return orderSvc.Cancel(ctx, key(StepConfirmOrder))
			},
		},
	}
	return s
}
