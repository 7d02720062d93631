// Package notification is the notification bounded context: messages sent to users. It refers to
// users by id only; delivery (email, SMS) would be an adapter called from Send.
package notification

import (
	"context"
	"fmt"
	"strings"

	"github.com/microservices-workbook/workbook/solutions/ex01-decomposition/internal/errs"
)

// Notification is a message to a user.
type Notification struct {
	UserID  string
	Subject string
	Message string
}

// Service is the notification service.
type Service struct {
	store *memoryStore
}

// NewService returns a notification service with its own store.
func NewService() *Service {
	return &Service{store: newMemoryStore()}
}

// Send validates n and records it as sent.
func (s *Service) Send(ctx context.Context, n Notification) error {
	switch {
	case strings.TrimSpace(n.UserID) == "":
		return fmt.Errorf("%w: user id is required", errs.ErrInvalidInput)
	case strings.TrimSpace(n.Message) == "":
		return fmt.Errorf("%w: message is required", errs.ErrInvalidInput)
	}
	s.store.add(ctx, n)
	return nil
}

// Sent returns the notifications sent to the user, oldest first; none (and no error) for a user
// who was sent nothing.
func (s *Service) Sent(ctx context.Context, userID string) ([]Notification, error) {
	return s.store.byUser(ctx, userID), nil
}
