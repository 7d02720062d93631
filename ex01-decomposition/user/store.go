package user

import (
	"context"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
)

// memoryStore is the user context's own database: the in-memory Repository a Service uses
// unless WithRepository gives it another.
//
// TODO(ex01.own-data): keep the users in a map guarded by a sync.RWMutex (services are called
// concurrently), created by newMemoryStore so that each Service has its own. Return
// errs.ErrAlreadyExists and errs.ErrNotFound wrapped with the id.
type memoryStore struct{}

func newMemoryStore() *memoryStore {
	return &memoryStore{}
}

// Add implements Repository.
func (s *memoryStore) Add(_ context.Context, u User) error {
	return errs.ErrNotImplemented
}

// Get implements Repository.
func (s *memoryStore) Get(_ context.Context, id string) (User, error) {
	return User{}, errs.ErrNotImplemented
}

// Update implements Repository.
func (s *memoryStore) Update(_ context.Context, id string, update func(*User) error) error {
	return errs.ErrNotImplemented
}

// Delete implements Repository.
func (s *memoryStore) Delete(_ context.Context, id string) error {
	return errs.ErrNotImplemented
}
