package system

import (
	"net/http"
	"time"
)

// The statuses of an order.
const (
	OrderPending = "pending" // created, not paid yet
	OrderPaid    = "paid"    // paid, and its OrderCreated event stored
	OrderFailed  = "failed"  // the payment could not be made
)

// Order is a customer's order of some items of one product, as the API answers it.
type Order struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	ProductID   string    `json:"product_id"`
	Quantity    int       `json:"quantity"`
	AmountCents int64     `json:"amount_cents"`
	Status      string    `json:"status"`
	PaymentID   string    `json:"payment_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// orderService serves /api/orders. Placing an order calls the user, product and payment
// services, each through its own breaker, and publishes OrderCreated.
type orderService struct {
	// TODO(ex10.circuit-breakers): its store, a caller of each service it calls, and
	// orders_created_total (ex10.metrics).
}

// routes serves POST /api/orders {user_id, product_id, quantity}: it looks the user and the
// product up (GET on their services), stores the order pending, pays it (POST /api/payments on
// the payment service, with the order's id, user_id, the user's email and amount_cents = price
// × quantity), marks it paid and publishes OrderCreated; it answers 201 with the paid order;
// 400 for a missing id or a quantity that is not positive; 422 for a user or product that does
// not exist; 503 when a service it needs cannot answer (the order is then failed). It also
// serves GET /api/orders/{id} (200; 404) and GET /api/orders?user_id= (the user's orders, or
// all of them without the parameter).
func (s *orderService) routes(mux *http.ServeMux) {
	// TODO(ex10.circuit-breakers, ex10.events)
}
