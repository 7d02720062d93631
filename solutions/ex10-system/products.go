package system

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Product is something the shop sells.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
}

// productStore is the product service's data.
type productStore struct {
	mu   sync.RWMutex
	byID map[string]Product
}

func newProductStore() *productStore { return &productStore{byID: map[string]Product{}} }

// productService serves /api/products.
type productService struct {
	noConsumer
	env     *env
	store   *productStore
	created prometheus.Counter
}

func (s *productService) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/products", s.create)
	mux.HandleFunc("GET /api/products/{id}", s.get)
	mux.HandleFunc("GET /api/products", s.list)
}

// create answers 201 with the new product, 400 for a missing name or a price that is not
// positive.
func (s *productService) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string `json:"name"`
		PriceCents int64  `json:"price_cents"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || in.PriceCents <= 0 {
		writeError(w, http.StatusBadRequest, "name and a positive price_cents are required")
		return
	}
	p := Product{ID: newID("prd"), Name: in.Name, PriceCents: in.PriceCents}
	s.store.mu.Lock()
	s.store.byID[p.ID] = p
	s.store.mu.Unlock()
	s.created.Inc()
	writeJSON(w, http.StatusCreated, p)
}

func (s *productService) get(w http.ResponseWriter, r *http.Request) {
	s.store.mu.RLock()
	p, ok := s.store.byID[r.PathValue("id")]
	s.store.mu.RUnlock()
	if !ok {
		writeError(w, http.StatusNotFound, "product not found")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *productService) list(w http.ResponseWriter, _ *http.Request) {
	s.store.mu.RLock()
	out := make([]Product, 0, len(s.store.byID))
	for _, p := range s.store.byID {
		out = append(out, p)
	}
	s.store.mu.RUnlock()
	slices.SortFunc(out, func(a, b Product) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, out)
}
