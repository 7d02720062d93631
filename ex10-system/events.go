package system

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The subjects of the events.
const (
	// SubjectOrderCreated carries an OrderCreated once an order is paid; inventory reserves its
	// items.
	SubjectOrderCreated = "orders.created"
	// SubjectPaymentProcessed carries a PaymentProcessed once a payment is made; notification
	// tells the customer.
	SubjectPaymentProcessed = "payments.processed"
)

// StreamName is the JetStream stream that stores both subjects.
const StreamName = "SHOP"

// OrderCreated is the event of a paid order.
type OrderCreated struct {
	ID          string    `json:"id"` // the event's id, also its Nats-Msg-Id
	OrderID     string    `json:"order_id"`
	UserID      string    `json:"user_id"`
	ProductID   string    `json:"product_id"`
	Quantity    int       `json:"quantity"`
	AmountCents int64     `json:"amount_cents"`
	Time        time.Time `json:"time"`
}

// PaymentProcessed is the event of a payment made.
type PaymentProcessed struct {
	ID          string    `json:"id"` // the event's id, also its Nats-Msg-Id
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	UserID      string    `json:"user_id"`
	Email       string    `json:"email"`
	AmountCents int64     `json:"amount_cents"`
	Time        time.Time `json:"time"`
}

// errMalformed marks an event that no retry can handle: it is terminated, not redelivered.
var errMalformed = errors.New("malformed event")

// ensureStream creates the stream, or updates it to this configuration: file storage (it
// survives a restart of NATS) and a window in which a publish with a Nats-Msg-Id already seen
// is dropped. (Given.)
func ensureStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{SubjectOrderCreated, SubjectPaymentProcessed},
		Storage:    jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamName, err)
	}
	return nil
}

// publish stores event v on subject, within a producer span whose context travels in the
// message headers, with id as its Nats-Msg-Id so that a publish sent twice is stored once.
func publish(ctx context.Context, e *env, subject, id string, v any) error {
	// TODO(ex10.events, ex10.tracing): a producer span "publish <subject>"; the message's
	// headers get its context (propagator.Inject with telemetry.HeaderCarrier); wait for
	// JetStream to store it (PublishMsg, jetstream.WithMsgID(id)) within a timeout.
	return ErrNotImplemented
}

// consume hands each event on subject to handle, through the durable consumer named durable:
// every instance of a service shares it, so each event goes to one of them, and events stored
// while no instance runs wait for the next. Each event is handled in a consumer span that
// continues the publisher's trace, and acknowledged once handled; a failed one comes back
// later. Delivery is at least once: handle must be idempotent. The returned function stops
// consuming, after the event in progress.
func consume(ctx context.Context, e *env, durable, subject string, handle func(ctx context.Context, data []byte) error) (func(context.Context) error, error) {
	// TODO(ex10.events, ex10.tracing): e.js.CreateOrUpdateConsumer(ctx, StreamName, …) with
	// Durable, FilterSubject, AckExplicitPolicy and DeliverAllPolicy; Consume; for each
	// message: extract the trace context from its headers, start a consumer span, handle,
	// then Ack (errMalformed: Term; another error: NakWithDelay). Stop: Drain, then wait for
	// Closed() or ctx.
	return nil, ErrNotImplemented
}

// decodeEvent decodes data into v, or returns an error wrapping errMalformed. (Given.)
func decodeEvent(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	return nil
}
