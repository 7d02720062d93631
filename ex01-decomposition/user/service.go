// Package user is the user-management bounded context: customer accounts and their credentials.
// It knows nothing of products, orders or how it is reached (HTTP, gRPC, a test).
package user

import (
	"context"
	"errors"
	"log/slog"

	"golang.org/x/crypto/bcrypt"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
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
//
// TODO(ex01.user-service): validate the id (required) and the email (net/mail.ParseAddress,
// and reject "Name <addr>" forms) with errors wrapping errs.ErrInvalidInput that name the field;
// replace a non-empty Password with bcrypt.GenerateFromPassword(password, s.cost) (a password
// longer than 72 bytes is errs.ErrInvalidInput naming the password); store through s.repo (a
// duplicate id must fail with errs.ErrAlreadyExists and keep the first user). Log with s.log if
// you like, but never the password or its hash, there or with any other logger.
func (s *Service) CreateUser(ctx context.Context, u User) error {
	return errs.ErrNotImplemented
}

// GetUser returns a copy of the user with the given id, with an empty Password.
//
// TODO(ex01.user-service, ex01.own-data): read from s.repo, blank the Password, return a
// pointer to a copy (never to what the store holds).
func (s *Service) GetUser(ctx context.Context, id string) (*User, error) {
	return nil, errs.ErrNotImplemented
}

// UpdateUser replaces the stored user that has u's id with u. An empty Password keeps the current
// one; any other value replaces it.
//
// TODO(ex01.user-service): validate as CreateUser does; errs.ErrNotFound for an unknown id.
func (s *Service) UpdateUser(ctx context.Context, u User) error {
	return errs.ErrNotImplemented
}

// DeleteUser removes the user with the given id.
//
// TODO(ex01.user-service): errs.ErrNotFound for an unknown id.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	return errs.ErrNotImplemented
}

// Authenticate returns nil when password is the user's password, and ErrInvalidCredentials when
// it is not or when the user does not exist.
//
// TODO(ex01.user-service): compare with bcrypt.CompareHashAndPassword; a user stored without a
// password never authenticates.
func (s *Service) Authenticate(ctx context.Context, id, password string) error {
	return errs.ErrNotImplemented
}
