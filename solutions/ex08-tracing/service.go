package tracing

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// The errors of the user directory, matched with errors.Is.
var (
	// ErrUserNotFound means no user has the id asked for.
	ErrUserNotFound = errors.New("user not found")
	// ErrInvalidUserID means the id asked for is empty.
	ErrInvalidUserID = errors.New("invalid user id")
)

// User is a user of the shop.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	// PasswordHash is the user's credential. It never leaves the user directory: not in JSON,
	// not over gRPC, not in a span attribute, not in a log line.
	PasswordHash string `json:"-"`
}

// UserService is an in-memory directory of users, safe for concurrent use.
type UserService struct {
	mu    sync.RWMutex
	users map[string]User
}

// NewUserService returns a directory holding users.
func NewUserService(users ...User) *UserService {
	s := &UserService{users: make(map[string]User, len(users))}
	for _, u := range users {
		s.users[u.ID] = u
	}
	return s
}

// GetUser returns a copy of the user with the given id: ErrInvalidUserID for an empty id,
// ErrUserNotFound for an unknown one.
func (s *UserService) GetUser(ctx context.Context, userID string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, ErrInvalidUserID
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[userID]
	if !ok {
		return nil, ErrUserNotFound
	}
	return &u, nil
}

// TracedUserService is a UserService whose calls are traced: a decorator, so that the
// directory itself knows nothing of tracing.
type TracedUserService struct {
	service *UserService
	tracer  trace.Tracer
}

// NewTracedUserService returns service traced with tracer.
func NewTracedUserService(service *UserService, tracer trace.Tracer) *TracedUserService {
	return &TracedUserService{service: service, tracer: tracer}
}

// GetUser calls the service's GetUser inside a span named "UserService.GetUser", a child of
// the span in ctx, with the user id as user.id. An error is recorded on the span (an
// exception event) and sets its status to Error.
func (s *TracedUserService) GetUser(ctx context.Context, userID string) (*User, error) {
	ctx, span := s.tracer.Start(ctx, "UserService.GetUser", trace.WithAttributes(semconv.UserID(userID)))
	defer span.End()

	u, err := s.service.GetUser(ctx, userID)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	return u, nil
}
