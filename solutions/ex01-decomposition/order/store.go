package order

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// memoryStore is the order context's own database. It stores and returns deep copies, so
// nothing a caller does to an Order or its Items changes what is stored.
type memoryStore struct {
	mu     sync.RWMutex
	orders map[string]Order
}

func newMemoryStore() *memoryStore {
	return &memoryStore{orders: make(map[string]Order)}
}

func (s *memoryStore) add(_ context.Context, o Order) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[o.ID]; ok {
		return fmt.Errorf("order %q: %w", o.ID, errs.ErrAlreadyExists)
	}
	s.orders[o.ID] = clone(o)
	return nil
}

func (s *memoryStore) get(_ context.Context, id string) (Order, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, fmt.Errorf("order %q: %w", id, errs.ErrNotFound)
	}
	return clone(o), nil
}

// clone copies o together with the backing array of its Items.
func clone(o Order) Order {
	o.Items = slices.Clone(o.Items)
	return o
}
