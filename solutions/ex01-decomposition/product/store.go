package product

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// memoryStore is the product context's own database. It stores and returns deep copies, so
// nothing a caller does to a Product it passed in or got back changes what is stored.
type memoryStore struct {
	mu       sync.RWMutex
	products map[string]Product
}

func newMemoryStore() *memoryStore {
	return &memoryStore{products: make(map[string]Product)}
}

func (s *memoryStore) add(_ context.Context, p Product) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.products[p.ID]; ok {
		return fmt.Errorf("product %q: %w", p.ID, errs.ErrAlreadyExists)
	}
	s.products[p.ID] = clone(p)
	return nil
}

func (s *memoryStore) get(_ context.Context, id string) (Product, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.products[id]
	if !ok {
		return Product{}, fmt.Errorf("product %q: %w", id, errs.ErrNotFound)
	}
	return clone(p), nil
}

func (s *memoryStore) update(_ context.Context, p Product) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.products[p.ID]; !ok {
		return fmt.Errorf("product %q: %w", p.ID, errs.ErrNotFound)
	}
	s.products[p.ID] = clone(p)
	return nil
}

func (s *memoryStore) remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.products[id]; !ok {
		return fmt.Errorf("product %q: %w", id, errs.ErrNotFound)
	}
	delete(s.products, id)
	return nil
}

// clone copies p together with the backing array of its Tags.
func clone(p Product) Product {
	p.Tags = slices.Clone(p.Tags)
	return p
}
