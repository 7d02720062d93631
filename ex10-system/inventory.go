package system

import (
	"context"
	"net/http"
)

// Item is the stock of one product, as the API answers it.
type Item struct {
	ProductID string `json:"product_id"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
}

// inventoryService serves /api/inventory and reserves the items of every order created.
type inventoryService struct {
	// TODO(ex10.events): its store, and inventory_reservations_total{result} (ex10.metrics).
}

// routes serves PUT /api/inventory/{product_id} {available} (200 with the item; 400 for a
// negative number) and GET /api/inventory/{product_id} (200; 404 for a product with no stock
// recorded).
func (s *inventoryService) routes(mux *http.ServeMux) {
	// TODO(ex10.system-running)
}

// consume reserves the items of each OrderCreated, once per order however often it comes:
// available -= quantity and reserved += quantity when enough is available, else the order is
// rejected and the stock unchanged.
func (s *inventoryService) consume(ctx context.Context) (func(context.Context) error, error) {
	// TODO(ex10.events): consume(ctx, s.env, "inventory", SubjectOrderCreated, …)
	return nil, ErrNotImplemented
}
