package events

import "context"

// Notification is a message the NotificationService has sent.
type Notification struct {
	UserID  string
	To      string
	Subject string
	Body    string
}

// NotificationService sends a welcome message to each new user. It is safe for concurrent use.
type NotificationService struct {
	// TODO(ex04.versioning): keep an Upcasters registry that knows UpcastUserCreatedV1.
	// TODO(ex04.subscribers): keep the notifications sent and the ids of the events already
	// applied, guarded by a mutex.
}

// NewNotificationService returns a NotificationService that understands versions 1 and 2 of
// UserCreatedEvent.
func NewNotificationService() *NotificationService {
	return &NotificationService{}
}

// HandleUserCreated is the EventHandler of UserCreatedEvent: it sends the new user a welcome
// message. An event it has already applied (a redelivery) is acknowledged and ignored.
func (s *NotificationService) HandleUserCreated(ctx context.Context, eventData []byte) error {
	// TODO(ex04.versioning): Decode[UserCreatedEvent] with the service's upcasters; return its
	// error (wrapped with %w) so that an unknown version is dead-lettered.
	// TODO(ex04.subscribers): unless the event's id was already applied (check and mark under one
	// lock), record a Notification to the user's email whose Body greets the user by name.
	return ErrNotImplemented
}

// Sent returns the notifications sent so far, oldest first.
func (s *NotificationService) Sent() []Notification {
	// TODO(ex04.subscribers): return a copy, read under the lock.
	return nil
}

// Reservation is stock the InventoryService holds for an order.
type Reservation struct {
	OrderID string
	UserID  string
	Total   float64
}

// InventoryService reserves stock for each new order. It is safe for concurrent use.
type InventoryService struct {
	// TODO(ex04.subscribers): keep the reservations and the ids of the events already applied,
	// guarded by a mutex.
}

// NewInventoryService returns an InventoryService with no reservations.
func NewInventoryService() *InventoryService {
	return &InventoryService{}
}

// HandleOrderCreated is the EventHandler of OrderCreatedEvent: it reserves stock for the order. An
// event it has already applied (a redelivery) is acknowledged and ignored.
func (s *InventoryService) HandleOrderCreated(ctx context.Context, eventData []byte) error {
	// TODO(ex04.subscribers): Decode[OrderCreatedEvent] and, unless the event's id (not the
	// order's) was already applied, record a Reservation for the order.
	return ErrNotImplemented
}

// Reservations returns the reservations made so far, oldest first.
func (s *InventoryService) Reservations() []Reservation {
	// TODO(ex04.subscribers): return a copy, read under the lock.
	return nil
}
