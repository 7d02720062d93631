// Package user is the user-management bounded context: customer accounts and their credentials.
// It knows nothing of products, orders or how it is reached (HTTP, gRPC, a test).
package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// ErrInvalidCredentials is returned by Authenticate for a wrong password, and also for an
// unknown user so that a caller cannot probe which ids exist.
var ErrInvalidCredentials = errors.New("invalid credentials")

// User is a customer account. Password is write-only: CreateUser and UpdateUser take it in plain
// text, the service keeps only its bcrypt hash, and GetUser always returns it empty.
type User struct {
	ID       string
	Email    string
	Name     string
	Address  Address
	Password string
}

// Address is a postal address.
type Address struct {
	Street     string
	City       string
	PostalCode string
	Country    string
}

// LogValue implements slog.LogValuer so that a logged User never shows its password or hash.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("email", u.Email))
}

// Repository is where the user service keeps its users. The Password field it receives and
// returns holds a bcrypt hash, never a plain password. Implementations return errors wrapping
// errs.ErrNotFound and errs.ErrAlreadyExists.
type Repository interface {
	// Add stores a new user.
	Add(ctx context.Context, u User) error
	// Get returns the user with the given id.
	Get(ctx context.Context, id string) (User, error)
	// Update applies update to the stored user and stores the result, atomically.
	Update(ctx context.Context, id string, update func(*User) error) error
	// Delete removes the user with the given id.
	Delete(ctx context.Context, id string) error
}

// Service is the user service.
type Service struct {
	repo Repository
	cost int
	log  *slog.Logger
}

// Option configures a Service.
type Option func(*Service)

// WithRepository makes the service keep its users in r. Default: a new in-memory store that
// belongs to this service alone.
func WithRepository(r Repository) Option { return func(s *Service) { s.repo = r } }

// WithPasswordCost sets the bcrypt cost of password hashes. Default: bcrypt.DefaultCost (10).
// Tests may use bcrypt.MinCost (4) to stay fast; production should not go below the default.
func WithPasswordCost(cost int) Option { return func(s *Service) { s.cost = cost } }

// WithLogger sets the logger. Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// NewService returns a user service with its own store.
func NewService(opts ...Option) *Service {
	s := &Service{repo: newMemoryStore(), cost: bcrypt.DefaultCost, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// CreateUser validates u, hashes its password (which may be empty: such a user cannot
// authenticate) and stores it.
func (s *Service) CreateUser(ctx context.Context, u User) error {
	if err := validate(u); err != nil {
		return err
	}
	if err := s.hashPassword(&u); err != nil {
		return err
	}
	if err := s.repo.Add(ctx, u); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	s.log.InfoContext(ctx, "user created", "user", u) // User.LogValue leaves the hash out
	return nil
}

// GetUser returns a copy of the user with the given id, with an empty Password.
func (s *Service) GetUser(ctx context.Context, id string) (*User, error) {
	u, err := s.repo.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	u.Password = ""
	return &u, nil
}

// UpdateUser replaces the stored user that has u's id with u. An empty Password keeps the current
// one; any other value replaces it.
func (s *Service) UpdateUser(ctx context.Context, u User) error {
	if err := validate(u); err != nil {
		return err
	}
	if err := s.hashPassword(&u); err != nil {
		return err
	}
	err := s.repo.Update(ctx, u.ID, func(stored *User) error {
		if u.Password == "" {
			u.Password = stored.Password
		}
		*stored = u
		return nil
	})
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}

// DeleteUser removes the user with the given id.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	if err := s.repo.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// Authenticate returns nil when password is the user's password, and ErrInvalidCredentials when
// it is not or when the user does not exist.
func (s *Service) Authenticate(ctx context.Context, id, password string) error {
	u, err := s.repo.Get(ctx, id)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return ErrInvalidCredentials
	case err != nil:
		return fmt.Errorf("authenticate: %w", err)
	}
	if u.Password == "" || bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(password)) != nil {
		s.log.WarnContext(ctx, "authentication failed", "user_id", id)
		return ErrInvalidCredentials
	}
	return nil
}

// hashPassword replaces a non-empty u.Password with its bcrypt hash.
func (s *Service) hashPassword(u *User) error {
	if u.Password == "" {
		return nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), s.cost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return fmt.Errorf("%w: password is longer than 72 bytes", errs.ErrInvalidInput)
	}
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u.Password = string(hash)
	return nil
}

func validate(u User) error {
	if strings.TrimSpace(u.ID) == "" {
		return fmt.Errorf("%w: id is required", errs.ErrInvalidInput)
	}
	// ParseAddress also accepts "Name <addr>" and surrounding spaces; only a bare address is valid.
	if addr, err := mail.ParseAddress(u.Email); err != nil || addr.Address != u.Email {
		return fmt.Errorf("%w: email %q is not a valid address", errs.ErrInvalidInput, u.Email)
	}
	return nil
}
