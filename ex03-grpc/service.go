package grpcsvc

import (
	"context"
	"fmt"
	"sync"
)

// UserBackend is the domain side of the user service: what UserGRPCServer serves. *UserService
// implements it; tests put fakes in its place to make it fail or stall.
//
// Its methods return errors wrapping ErrNotFound or ErrAlreadyExists for what the caller got
// wrong; any other error is the backend's own failure.
type UserBackend interface {
	GetUser(ctx context.Context, id string) (*User, error)
	CreateUser(ctx context.Context, user User) (*User, error)
	UpdateUser(ctx context.Context, user User) (*User, error)
	DeleteUser(ctx context.Context, id string) error
}

// UserService is an in-memory store of users, safe for concurrent use. It trusts its callers:
// validating a request is the transport's job (see UserGRPCServer).
type UserService struct {
	mu    sync.RWMutex
	users map[string]User
}

// NewUserService returns an empty UserService.
func NewUserService() *UserService {
	return &UserService{users: map[string]User{}}
}

// GetUser returns the user with the given id, or an error wrapping ErrNotFound.
func (s *UserService) GetUser(ctx context.Context, id string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return nil, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	return &u, nil
}

// CreateUser stores a new user, or returns an error wrapping ErrAlreadyExists when its id is
// taken.
func (s *UserService) CreateUser(ctx context.Context, user User) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[user.ID]; ok {
		return nil, fmt.Errorf("user %q: %w", user.ID, ErrAlreadyExists)
	}
	s.users[user.ID] = user
	return &user, nil
}

// UpdateUser replaces the user with user's id, or returns an error wrapping ErrNotFound.
func (s *UserService) UpdateUser(ctx context.Context, user User) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[user.ID]; !ok {
		return nil, fmt.Errorf("user %q: %w", user.ID, ErrNotFound)
	}
	s.users[user.ID] = user
	return &user, nil
}

// DeleteUser removes the user with the given id, or returns an error wrapping ErrNotFound.
func (s *UserService) DeleteUser(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	delete(s.users, id)
	return nil
}
