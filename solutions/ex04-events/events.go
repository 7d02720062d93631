// Package events lets services talk through events on NATS JetStream: a publisher wraps each event
// in a versioned envelope, subscribers hand the envelopes to handlers, failing messages are retried
// a bounded number of times and then parked on a dead-letter subject, and old versions of an event
// are upcast to the current one before a handler sees them.
//
// Handlers receive the envelope's JSON, not only the payload: the envelope carries the event id
// (which makes handlers idempotent) and the schema version (which tells how to decode the
// payload). Decode does both steps for a handler.
package events

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrPermanent marks failures that retrying cannot fix, such as an event that cannot be decoded.
// A subscriber dead-letters a message at once when its handler returns an error that wraps it.
var ErrPermanent = errors.New("permanent failure")

// ErrUnknownVersion is returned when an event's schema version is newer than the consumer knows,
// or has no upcaster to the current version. It wraps ErrPermanent.
var ErrUnknownVersion = fmt.Errorf("%w: unknown event version", ErrPermanent)

// ErrMalformedEvent is returned when a message is not a valid envelope, or carries another event
// type than the handler expects. It wraps ErrPermanent.
var ErrMalformedEvent = fmt.Errorf("%w: malformed event", ErrPermanent)

// EventPublisher publishes events on topics.
type EventPublisher interface {
	// Publish sends event on topic and returns once the broker has stored it.
	Publish(ctx context.Context, topic string, event any) error
}

// EventSubscriber delivers the events published on a topic to a handler.
type EventSubscriber interface {
	// Subscribe calls handler for each event published on topic.
	Subscribe(topic string, handler EventHandler) error
}

// EventHandler handles one event: event is the envelope's JSON (see Envelope and Decode). A nil
// error acknowledges the event; an error has it delivered again, or dead-lettered.
type EventHandler func(ctx context.Context, event []byte) error

// Event is implemented by the event types: it names the event's type and schema version, which
// the publisher writes into the envelope.
type Event interface {
	EventType() string
	EventVersion() int
}

// UserCreatedEvent is published when a user signs up. This is version 2 of the event: version 1
// had no Name (see UpcastUserCreatedV1).
type UserCreatedEvent struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType returns "user.created".
func (UserCreatedEvent) EventType() string { return "user.created" }

// EventVersion returns 2.
func (UserCreatedEvent) EventVersion() int { return 2 }

// OrderCreatedEvent is published when a user places an order.
type OrderCreatedEvent struct {
	OrderID   string    `json:"order_id"`
	UserID    string    `json:"user_id"`
	Total     float64   `json:"total"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType returns "order.created".
func (OrderCreatedEvent) EventType() string { return "order.created" }

// EventVersion returns 1.
func (OrderCreatedEvent) EventVersion() int { return 1 }

// PaymentProcessedEvent is published when a payment for an order has been processed.
type PaymentProcessedEvent struct {
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	Amount      float64   `json:"amount"`
	Status      string    `json:"status"`
	ProcessedAt time.Time `json:"processed_at"`
}

// EventType returns "payment.processed".
func (PaymentProcessedEvent) EventType() string { return "payment.processed" }

// EventVersion returns 1.
func (PaymentProcessedEvent) EventVersion() int { return 1 }

// Envelope is what travels on the wire: the event's data with what a consumer needs to know
// before decoding it.
type Envelope struct {
	// ID identifies the event. The broker drops a second publish of the same ID within its
	// duplicate window, and handlers use it to apply a redelivered event only once.
	ID string `json:"id"`
	// Type is the event's type, such as "user.created".
	Type string `json:"type"`
	// Version is the schema version of Data.
	Version int `json:"version"`
	// Time is when the envelope was made.
	Time time.Time `json:"time"`
	// Data is the event itself, as JSON.
	Data json.RawMessage `json:"data"`
}

// NewEnvelope wraps event in an envelope with a new ID. Publish an envelope more than once (a
// retry after a lost acknowledgement) and the broker keeps only one copy.
func NewEnvelope(event Event) (Envelope, error) {
	data, err := json.Marshal(event)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s event: %w", event.EventType(), err)
	}
	return Envelope{
		ID:      rand.Text(),
		Type:    event.EventType(),
		Version: event.EventVersion(),
		Time:    time.Now().UTC(),
		Data:    data,
	}, nil
}

// Decode reads an envelope of an event of type T, upcasts its data to T's version with
// upcasters (which may be nil when T has a single version), and decodes it. It returns
// ErrMalformedEvent for anything that is not an envelope of T's type, and ErrUnknownVersion for a
// version it cannot upcast.
func Decode[T Event](upcasters *Upcasters, eventData []byte) (Envelope, T, error) {
	var event T
	var env Envelope
	if err := json.Unmarshal(eventData, &env); err != nil {
		return env, event, fmt.Errorf("%w: %w", ErrMalformedEvent, err)
	}
	if env.ID == "" || env.Type != event.EventType() {
		return env, event, fmt.Errorf("%w: want a %s envelope with an id, got type %q, id %q",
			ErrMalformedEvent, event.EventType(), env.Type, env.ID)
	}
	data, err := upcasters.Upcast(env.Type, env.Version, event.EventVersion(), env.Data)
	if err != nil {
		return env, event, fmt.Errorf("event %s: %w", env.ID, err)
	}
	if err := json.Unmarshal(data, &event); err != nil {
		return env, event, fmt.Errorf("%w: event %s: %w", ErrMalformedEvent, env.ID, err)
	}
	return env, event, nil
}
