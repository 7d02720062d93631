package user

import (
	"context"
	"fmt"
	"sync"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// memoryStore is the user context's own database: an in-memory Repository. User holds no slices
// or pointers, so storing and returning values is enough to keep callers from sharing its data.
type memoryStore struct {
	mu    sync.RWMutex
	users map[string]User
}

func newMemoryStore() *memoryStore {
	return &memoryStore{users: make(map[string]User)}
}

// Add implements Repository.
func (s *memoryStore) Add(_ context.Context, u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.ID]; ok {
		return fmt.Errorf("user %q: %w", u.ID, errs.ErrAlreadyExists)
	}
	s.users[u.ID] = u
	return nil
}

// Get implements Repository.
func (s *memoryStore) Get(_ context.Context, id string) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, fmt.Errorf("user %q: %w", id, errs.ErrNotFound)
	}
	return u, nil
}

// Update implements Repository.
func (s *memoryStore) Update(_ context.Context, id string, update func(*User) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("user %q: %w", id, errs.ErrNotFound)
	}
	if err := update(&u); err != nil {
		return err
	}
	s.users[id] = u
	return nil
}

// Delete implements Repository.
func (s *memoryStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return fmt.Errorf("user %q: %w", id, errs.ErrNotFound)
	}
	delete(s.users, id)
	return nil
}
