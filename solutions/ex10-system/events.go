package system

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/telemetry"
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
// is dropped.
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

// publishTimeout bounds the wait for JetStream to store an event.
const publishTimeout = 2 * time.Second

// publish stores event v on subject, within a producer span whose context travels in the
// message headers, with id as its Nats-Msg-Id so that a publish sent twice is stored once.
func publish(ctx context.Context, e *env, subject, id string, v any) error {
	ctx, span := e.tracer.Start(ctx, "publish "+subject, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(subject)))
	defer span.End()
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	e.propagator.Inject(ctx, telemetry.HeaderCarrier(msg.Header))
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return fmt.Errorf("publish %s %s: %w", subject, id, err)
	}
	return nil
}

// consume hands each event on subject to handle, through the durable consumer named durable:
// every instance of a service shares it, so each event goes to one of them, and events stored
// while no instance runs wait for the next. Each event is handled in a consumer span that
// continues the publisher's trace, and acknowledged once handled; a failed one comes back after
// a second. Delivery is at least once: handle must be idempotent. The returned function stops
// consuming, after the event in progress.
func consume(ctx context.Context, e *env, durable, subject string, handle func(ctx context.Context, data []byte) error) (func(context.Context) error, error) {
	cons, err := e.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", durable, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		ctx := e.propagator.Extract(context.Background(), telemetry.HeaderCarrier(msg.Headers()))
		ctx, span := e.tracer.Start(ctx, "process "+subject, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(subject)))
		defer span.End()
		err := handle(ctx, msg.Data())
		switch {
		case errors.Is(err, errMalformed):
			e.logger.ErrorContext(ctx, "event dropped", "subject", subject, "error", err)
			_ = msg.Term()
			return
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, "handler failed")
			e.logger.WarnContext(ctx, "event failed, will retry", "subject", subject, "error", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		if err := msg.Ack(); err != nil {
			e.logger.WarnContext(ctx, "ack failed", "subject", subject, "error", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", subject, err)
	}
	return func(ctx context.Context) error {
		cc.Drain()
		select {
		case <-cc.Closed():
			return nil
		case <-ctx.Done():
			cc.Stop()
			return ctx.Err()
		}
	}, nil
}

// decodeEvent decodes data into v, or returns an error wrapping errMalformed.
func decodeEvent(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	return nil
}
