// Package notification is the notification bounded context: messages sent to users. It refers to
// users by id only; delivery (email, SMS) would be an adapter called from Send.
package notification

import (
	"context"

	"github.com/microservices-workbook/workbook/ex01-decomposition/internal/errs"
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
//
// TODO(ex01.bounded-contexts): the user id and message are required (errs.ErrInvalidInput,
// naming the field).
func (s *Service) Send(ctx context.Context, n Notification) error {
	return errs.ErrNotImplemented
}

// Sent returns the notifications sent to the user, oldest first; none (and no error) for a user
// who was sent nothing.
//
// TODO(ex01.bounded-contexts): only that user's notifications, in a new slice, never the
// store's own.
func (s *Service) Sent(ctx context.Context, userID string) ([]Notification, error) {
	return nil, errs.ErrNotImplemented
}
