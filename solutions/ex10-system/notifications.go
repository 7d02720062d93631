package system

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Notification is a message sent to a customer. Sending is simulated: the service records it
// and logs it.
type Notification struct {
	ID        string    `json:"id"`
	To        string    `json:"to"`
	OrderID   string    `json:"order_id"`
	PaymentID string    `json:"payment_id"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// notificationStore is the notification service's data: one notification per payment.
type notificationStore struct {
	mu        sync.RWMutex
	list      []Notification
	byPayment map[string]bool
}

func newNotificationStore() *notificationStore {
	return &notificationStore{byPayment: map[string]bool{}}
}

// add records n unless its payment was notified already, and reports whether it did.
func (st *notificationStore) add(n Notification) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byPayment[n.PaymentID] {
		return false
	}
	st.byPayment[n.PaymentID] = true
	st.list = append(st.list, n)
	return true
}

// notificationService sends a notification for every payment processed, and serves
// /api/notifications.
type notificationService struct {
	env   *env
	store *notificationStore
	sent  prometheus.Counter
}

func (s *notificationService) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/notifications", s.list)
}

// list answers the notifications sent to ?to= (all of them without it), oldest first.
func (s *notificationService) list(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	s.store.mu.RLock()
	out := slices.DeleteFunc(slices.Clone(s.store.list), func(n Notification) bool { return to != "" && n.To != to })
	s.store.mu.RUnlock()
	if out == nil {
		out = []Notification{}
	}
	writeJSON(w, http.StatusOK, out)
}

// consume notifies the customer of each PaymentProcessed, once per payment however often it
// comes.
func (s *notificationService) consume(ctx context.Context) (func(context.Context) error, error) {
	return consume(ctx, s.env, "notification", SubjectPaymentProcessed, func(ctx context.Context, data []byte) error {
		var e PaymentProcessed
		if err := decodeEvent(data, &e); err != nil {
			return err
		}
		n := Notification{
			ID: newID("ntf"), To: e.Email, OrderID: e.OrderID, PaymentID: e.PaymentID, CreatedAt: time.Now().UTC(),
			Message: fmt.Sprintf("Payment of %d.%02d received for order %s.", e.AmountCents/100, e.AmountCents%100, e.OrderID),
		}
		if !s.store.add(n) {
			s.env.logger.InfoContext(ctx, "duplicate payment event ignored", "payment_id", e.PaymentID)
			return nil
		}
		s.sent.Inc()
		s.env.logger.InfoContext(ctx, "notification sent", "order_id", n.OrderID, "payment_id", n.PaymentID)
		return nil
	})
}
