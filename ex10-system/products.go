package system

import "net/http"

// Product is something the shop sells, as the API answers it.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
}

// productService serves /api/products.
type productService struct {
	// TODO(ex10.system-running): its store, and products_created_total (ex10.metrics).
}

// routes serves POST /api/products (201 with the new product; 400 for a missing name or a
// price_cents that is not positive), GET /api/products/{id} (200; 404) and GET /api/products.
func (s *productService) routes(mux *http.ServeMux) {
	// TODO(ex10.system-running)
}
