package system

import (
	"context"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Item is the stock of one product.
type Item struct {
	ProductID string `json:"product_id"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
}

// The results of a reservation, the values of inventory_reservations_total's result label.
const (
	reservationReserved = "reserved"
	reservationRejected = "rejected" // not enough stock
)

// inventoryStore is the inventory service's data.
type inventoryStore struct {
	mu      sync.Mutex
	items   map[string]*Item
	byOrder map[string]string // order id → the result of its reservation
}

func newInventoryStore() *inventoryStore {
	return &inventoryStore{items: map[string]*Item{}, byOrder: map[string]string{}}
}

// reserve takes an order's items from the stock, once per order: it returns the result and
// whether this call made it (false for an order already handled).
func (st *inventoryStore) reserve(e OrderCreated) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if result, seen := st.byOrder[e.OrderID]; seen {
		return result, false
	}
	item := st.items[e.ProductID]
	result := reservationRejected
	if item != nil && e.Quantity > 0 && item.Available >= e.Quantity {
		item.Available -= e.Quantity
		item.Reserved += e.Quantity
		result = reservationReserved
	}
	st.byOrder[e.OrderID] = result
	return result, true
}

// inventoryService serves /api/inventory and reserves the items of every order created.
type inventoryService struct {
	env          *env
	store        *inventoryStore
	reservations *prometheus.CounterVec
}

func (s *inventoryService) routes(mux *http.ServeMux) {
	mux.HandleFunc("PUT /api/inventory/{product_id}", s.set)
	mux.HandleFunc("GET /api/inventory/{product_id}", s.get)
}

// set sets a product's available stock: 200 with the item, 400 for a negative number.
func (s *inventoryService) set(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Available int `json:"available"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if in.Available < 0 {
		writeError(w, http.StatusBadRequest, "available must not be negative")
		return
	}
	id := r.PathValue("product_id")
	s.store.mu.Lock()
	item := s.store.items[id]
	if item == nil {
		item = &Item{ProductID: id}
		s.store.items[id] = item
	}
	item.Available = in.Available
	out := *item
	s.store.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *inventoryService) get(w http.ResponseWriter, r *http.Request) {
	s.store.mu.Lock()
	item := s.store.items[r.PathValue("product_id")]
	var out Item
	if item != nil {
		out = *item
	}
	s.store.mu.Unlock()
	if item == nil {
		writeError(w, http.StatusNotFound, "no stock recorded for this product")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// consume reserves the items of each OrderCreated, once per order however often it comes.
func (s *inventoryService) consume(ctx context.Context) (func(context.Context) error, error) {
	return consume(ctx, s.env, "inventory", SubjectOrderCreated, func(ctx context.Context, data []byte) error {
		var e OrderCreated
		if err := decodeEvent(data, &e); err != nil {
			return err
		}
		result, first := s.store.reserve(e)
		if !first {
			s.env.logger.InfoContext(ctx, "duplicate order event ignored", "order_id", e.OrderID)
			return nil
		}
		s.reservations.WithLabelValues(result).Inc()
		s.env.logger.InfoContext(ctx, "stock "+result, "order_id", e.OrderID, "product_id", e.ProductID, "quantity", e.Quantity)
		return nil
	})
}
