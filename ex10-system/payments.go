package system

import (
	"net/http"
	"time"
)

// PaymentProcessedStatus is the status of a payment made.
const PaymentProcessedStatus = "processed"

// Payment is the payment of one order, as the API answers it.
type Payment struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	UserID      string    `json:"user_id"`
	AmountCents int64     `json:"amount_cents"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// paymentService serves /api/payments and publishes PaymentProcessed.
type paymentService struct {
	// TODO(ex10.events): its store (one payment per order), and payments_processed_total
	// (ex10.metrics).
}

// routes serves POST /api/payments {order_id, user_id, email, amount_cents}, which pays an
// order once: 201 with the new payment, and PaymentProcessed published; 200 with the same
// payment when the order is paid already (a retried call charges nothing twice); 409 when it
// was paid another amount; 400 for a missing order_id or an amount that is not positive. It
// also serves GET /api/payments/{id} (200; 404) and GET /api/payments?order_id=.
func (s *paymentService) routes(mux *http.ServeMux) {
	// TODO(ex10.events)
}
