package inventory

import (
	"context"
	"fmt"
	"sync"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// memoryStore is the inventory context's own database: units in stock by product id.
type memoryStore struct {
	mu    sync.Mutex
	stock map[string]int
}

func newMemoryStore() *memoryStore {
	return &memoryStore{stock: make(map[string]int)}
}

func (s *memoryStore) set(_ context.Context, productID string, quantity int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stock[productID] = quantity
}

func (s *memoryStore) get(_ context.Context, productID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.stock[productID]
	if !ok {
		return 0, fmt.Errorf("stock of product %q: %w", productID, errs.ErrNotFound)
	}
	return n, nil
}

// take checks and decrements under one lock, so two reservations cannot both take the last unit.
func (s *memoryStore) take(_ context.Context, productID string, quantity int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.stock[productID]
	switch {
	case !ok:
		return fmt.Errorf("stock of product %q: %w", productID, errs.ErrNotFound)
	case n < quantity:
		return fmt.Errorf("reserve %d of product %q with %d in stock: %w", quantity, productID, n, ErrInsufficientStock)
	}
	s.stock[productID] = n - quantity
	return nil
}
