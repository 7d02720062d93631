package system

import (
	"context"
	"net/http"
	"time"
)

// Notification is a message sent to a customer, as the API answers it. Sending is simulated:
// the service records it and logs it.
type Notification struct {
	ID        string    `json:"id"`
	To        string    `json:"to"`
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// notificationService sends a notification for every payment processed, and serves
// /api/notifications.
type notificationService struct {
	// TODO(ex10.events): its store (one notification per payment), and
	// notifications_sent_total (ex10.metrics).
}

// routes serves GET /api/notifications?to= (the notifications sent to that address, oldest
// first; all of them without the parameter).
func (s *notificationService) routes(mux *http.ServeMux) {
	// TODO(ex10.system-running)
}

// consume notifies the customer of each PaymentProcessed, once per payment however often it
// comes.
func (s *notificationService) consume(ctx context.Context) (func(context.Context) error, error) {
	// TODO(ex10.events): consume(ctx, s.env, "notification", SubjectPaymentProcessed, …)
	return nil, ErrNotImplemented
}
