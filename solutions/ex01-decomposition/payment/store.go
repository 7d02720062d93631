package payment

import (
	"context"
	"fmt"
	"sync"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// memoryStore is the payment context's own database: payments by id. Payment holds no slices or
// pointers, so storing and returning values keeps callers from sharing its data.
type memoryStore struct {
	mu       sync.RWMutex
	payments map[string]Payment
}

func newMemoryStore() *memoryStore {
	return &memoryStore{payments: make(map[string]Payment)}
}

func (s *memoryStore) add(_ context.Context, p Payment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.payments[p.ID]; ok {
		return fmt.Errorf("payment %q: %w", p.ID, errs.ErrAlreadyExists)
	}
	s.payments[p.ID] = p
	return nil
}

func (s *memoryStore) get(_ context.Context, id string) (Payment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.payments[id]
	if !ok {
		return Payment{}, fmt.Errorf("payment %q: %w", id, errs.ErrNotFound)
	}
	return p, nil
}
