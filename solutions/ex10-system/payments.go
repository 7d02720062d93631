package system

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PaymentProcessedStatus is the status of a payment made.
const PaymentProcessedStatus = "processed"

// Payment is the payment of one order.
type Payment struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	UserID      string    `json:"user_id"`
	AmountCents int64     `json:"amount_cents"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// paymentRequest is the body of POST /api/payments.
type paymentRequest struct {
	OrderID     string `json:"order_id"`
	UserID      string `json:"user_id"`
	Email       string `json:"email"`
	AmountCents int64  `json:"amount_cents"`
}

// paymentStore is the payment service's data: one payment per order.
type paymentStore struct {
	mu        sync.RWMutex
	byID      map[string]Payment
	byOrder   map[string]string // order id → payment id
	published map[string]bool   // payment id → its event is stored
}

func newPaymentStore() *paymentStore {
	return &paymentStore{byID: map[string]Payment{}, byOrder: map[string]string{}, published: map[string]bool{}}
}

// paymentService serves /api/payments and publishes PaymentProcessed.
type paymentService struct {
	noConsumer
	env       *env
	store     *paymentStore
	processed prometheus.Counter
}

func (s *paymentService) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/payments", s.create)
	mux.HandleFunc("GET /api/payments/{id}", s.get)
	mux.HandleFunc("GET /api/payments", s.list)
}

// create pays an order, once: 201 with the new payment; 200 with the same payment when the
// order is already paid (so a retried call charges nothing twice); 409 when it was paid another
// amount; 400 for a missing order_id or an amount that is not positive; 503 when the event
// cannot be stored (a retry publishes it then).
func (s *paymentService) create(w http.ResponseWriter, r *http.Request) {
	var in paymentRequest
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(in.OrderID) == "" || in.AmountCents <= 0 {
		writeError(w, http.StatusBadRequest, "order_id and a positive amount_cents are required")
		return
	}
	st := s.store
	st.mu.Lock()
	p, exists := st.byID[st.byOrder[in.OrderID]]
	if !exists {
		p = Payment{
			ID: newID("pay"), OrderID: in.OrderID, UserID: in.UserID, AmountCents: in.AmountCents,
			Status: PaymentProcessedStatus, CreatedAt: time.Now().UTC(),
		}
		st.byID[p.ID], st.byOrder[p.OrderID] = p, p.ID
	}
	published := st.published[p.ID]
	st.mu.Unlock()
	if exists && p.AmountCents != in.AmountCents {
		writeError(w, http.StatusConflict, "order already paid another amount")
		return
	}
	if !published {
		event := PaymentProcessed{
			ID: "payment-processed-" + p.ID, PaymentID: p.ID, OrderID: p.OrderID, UserID: p.UserID,
			Email: in.Email, AmountCents: p.AmountCents, Time: p.CreatedAt,
		}
		if err := publish(r.Context(), s.env, SubjectPaymentProcessed, event.ID, event); err != nil {
			s.env.logger.ErrorContext(r.Context(), "payment made, event not stored", "payment_id", p.ID, "error", err)
			writeError(w, http.StatusServiceUnavailable, "event store unavailable")
			return
		}
		st.mu.Lock()
		st.published[p.ID] = true
		st.mu.Unlock()
	}
	if exists {
		writeJSON(w, http.StatusOK, p)
		return
	}
	s.processed.Inc()
	s.env.logger.InfoContext(r.Context(), "payment processed", "payment_id", p.ID, "order_id", p.OrderID)
	writeJSON(w, http.StatusCreated, p)
}

func (s *paymentService) get(w http.ResponseWriter, r *http.Request) {
	s.store.mu.RLock()
	p, ok := s.store.byID[r.PathValue("id")]
	s.store.mu.RUnlock()
	if !ok {
		writeError(w, http.StatusNotFound, "payment not found")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// list answers the payments, those of ?order_id= when it is given.
func (s *paymentService) list(w http.ResponseWriter, r *http.Request) {
	order := r.URL.Query().Get("order_id")
	s.store.mu.RLock()
	out := []Payment{}
	for _, p := range s.store.byID {
		if order == "" || p.OrderID == order {
			out = append(out, p)
		}
	}
	s.store.mu.RUnlock()
	slices.SortFunc(out, func(a, b Payment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	writeJSON(w, http.StatusOK, out)
}
