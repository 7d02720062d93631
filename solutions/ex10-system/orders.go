package system

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The statuses of an order.
const (
	OrderPending = "pending" // created, not paid yet
	OrderPaid    = "paid"    // paid, and its OrderCreated event stored
	OrderFailed  = "failed"  // the payment could not be made
)

// Order is a customer's order of some items of one product.
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

// orderStore is the order service's data.
type orderStore struct {
	mu   sync.RWMutex
	byID map[string]Order
}

func newOrderStore() *orderStore { return &orderStore{byID: map[string]Order{}} }

func (st *orderStore) put(o Order) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.byID[o.ID] = o
}

// orderService serves /api/orders. Placing an order calls the user, product and payment
// services, each through its own breaker, and publishes OrderCreated.
type orderService struct {
	noConsumer
	env      *env
	store    *orderStore
	users    *caller
	products *caller
	payments *caller
	created  prometheus.Counter
}

func (s *orderService) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/orders", s.create)
	mux.HandleFunc("GET /api/orders/{id}", s.get)
	mux.HandleFunc("GET /api/orders", s.list)
}

// create places an order: 201 with the paid order; 400 for a missing id or a quantity that is
// not positive; 422 for a user or product that does not exist; 503 when a service it needs
// cannot answer (no instance, a failure, a timeout, or its breaker open).
func (s *orderService) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID    string `json:"user_id"`
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(in.UserID) == "" || strings.TrimSpace(in.ProductID) == "" || in.Quantity <= 0 {
		writeError(w, http.StatusBadRequest, "user_id, product_id and a positive quantity are required")
		return
	}
	ctx := r.Context()
	var user User
	if !s.lookup(ctx, w, s.users, "/api/users/"+in.UserID, &user, "unknown user") {
		return
	}
	var product Product
	if !s.lookup(ctx, w, s.products, "/api/products/"+in.ProductID, &product, "unknown product") {
		return
	}

	o := Order{
		ID: newID("ord"), UserID: user.ID, ProductID: product.ID, Quantity: in.Quantity,
		AmountCents: product.PriceCents * int64(in.Quantity), Status: OrderPending, CreatedAt: time.Now().UTC(),
	}
	s.store.put(o)
	var payment Payment
	status, err := s.payments.call(ctx, http.MethodPost, "/api/payments", paymentRequest{
		OrderID: o.ID, UserID: user.ID, Email: user.Email, AmountCents: o.AmountCents,
	}, &payment)
	if err != nil || (status != http.StatusCreated && status != http.StatusOK) {
		o.Status = OrderFailed
		s.store.put(o)
		s.env.logger.WarnContext(ctx, "payment failed", "order_id", o.ID, "status", status, "error", err)
		writeError(w, http.StatusServiceUnavailable, "payment service unavailable")
		return
	}
	o.Status, o.PaymentID = OrderPaid, payment.ID
	s.store.put(o)

	event := OrderCreated{
		ID: "order-created-" + o.ID, OrderID: o.ID, UserID: o.UserID, ProductID: o.ProductID,
		Quantity: o.Quantity, AmountCents: o.AmountCents, Time: o.CreatedAt,
	}
	if err := publish(ctx, s.env, SubjectOrderCreated, event.ID, event); err != nil {
		s.env.logger.ErrorContext(ctx, "order paid, event not stored", "order_id", o.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "event store unavailable")
		return
	}
	s.created.Inc()
	s.env.logger.InfoContext(ctx, "order created", "order_id", o.ID, "amount_cents", o.AmountCents)
	writeJSON(w, http.StatusCreated, o)
}

// lookup GETs path from a service into out. It answers the client itself and returns false
// when the thing is missing (422, with missing as the error) or the service cannot answer
// (503).
func (s *orderService) lookup(ctx context.Context, w http.ResponseWriter, c *caller, path string, out any, missing string) bool {
	status, err := c.call(ctx, http.MethodGet, path, nil, out)
	switch {
	case errors.Is(err, ErrUnavailable) || err != nil:
		s.env.logger.WarnContext(ctx, "dependency unavailable", "callee", c.service, "error", err)
		writeError(w, http.StatusServiceUnavailable, c.service+" service unavailable")
		return false
	case status == http.StatusNotFound:
		writeError(w, http.StatusUnprocessableEntity, missing)
		return false
	case status != http.StatusOK:
		writeError(w, http.StatusServiceUnavailable, c.service+" service answered "+http.StatusText(status))
		return false
	}
	return true
}

func (s *orderService) get(w http.ResponseWriter, r *http.Request) {
	s.store.mu.RLock()
	o, ok := s.store.byID[r.PathValue("id")]
	s.store.mu.RUnlock()
	if !ok {
		writeError(w, http.StatusNotFound, "order not found")
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// list answers the orders, those of ?user_id= when it is given, oldest first.
func (s *orderService) list(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user_id")
	s.store.mu.RLock()
	out := []Order{}
	for _, o := range s.store.byID {
		if user == "" || o.UserID == user {
			out = append(out, o)
		}
	}
	s.store.mu.RUnlock()
	slices.SortFunc(out, func(a, b Order) int { return a.CreatedAt.Compare(b.CreatedAt) })
	writeJSON(w, http.StatusOK, out)
}
