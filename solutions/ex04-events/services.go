package events

import (
	"context"
	"fmt"
	"sync"
)

// Notification is a message the NotificationService has sent.
type Notification struct {
	UserID  string
	To      string
	Subject string
	Body    string
}

// NotificationService sends a welcome message to each new user. It is safe for concurrent use.
type NotificationService struct {
	upcasters *Upcasters

	mu        sync.Mutex
	processed map[string]bool // ids of the events already applied
	sent      []Notification
}

// NewNotificationService returns a NotificationService that understands versions 1 and 2 of
// UserCreatedEvent.
func NewNotificationService() *NotificationService {
	return &NotificationService{
		upcasters: NewUpcasters().Register(UserCreatedEvent{}.EventType(), 1, UpcastUserCreatedV1),
		processed: make(map[string]bool),
	}
}

// HandleUserCreated is the EventHandler of UserCreatedEvent: it sends the new user a welcome
// message. An event it has already applied (a redelivery) is acknowledged and ignored.
func (s *NotificationService) HandleUserCreated(ctx context.Context, eventData []byte) error {
	env, event, err := Decode[UserCreatedEvent](s.upcasters, eventData)
	if err != nil {
		return fmt.Errorf("notification: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("notification: event %s: %w", env.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.processed[env.ID] {
		return nil
	}
	s.processed[env.ID] = true
	s.sent = append(s.sent, Notification{
		UserID:  event.UserID,
		To:      event.Email,
		Subject: "Welcome!",
		Body:    fmt.Sprintf("Hello %s, welcome aboard.", event.Name),
	})
	return nil
}

// Sent returns the notifications sent so far, oldest first.
func (s *NotificationService) Sent() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.sent...)
}

// Reservation is stock the InventoryService holds for an order.
type Reservation struct {
	OrderID string
	UserID  string
	Total   float64
}

// InventoryService reserves stock for each new order. It is safe for concurrent use.
type InventoryService struct {
	mu           sync.Mutex
	processed    map[string]bool // ids of the events already applied
	reservations []Reservation
}

// NewInventoryService returns an InventoryService with no reservations.
func NewInventoryService() *InventoryService {
	return &InventoryService{processed: make(map[string]bool)}
}

// HandleOrderCreated is the EventHandler of OrderCreatedEvent: it reserves stock for the order. An
// event it has already applied (a redelivery) is acknowledged and ignored.
func (s *InventoryService) HandleOrderCreated(ctx context.Context, eventData []byte) error {
	env, event, err := Decode[OrderCreatedEvent](nil, eventData)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("inventory: event %s: %w", env.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.processed[env.ID] {
		return nil
	}
	s.processed[env.ID] = true
	s.reservations = append(s.reservations, Reservation{OrderID: event.OrderID, UserID: event.UserID, Total: event.Total})
	return nil
}

// Reservations returns the reservations made so far, oldest first.
func (s *InventoryService) Reservations() []Reservation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reservation(nil), s.reservations...)
}
