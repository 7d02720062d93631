package tracing

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// messagingNATS is the messaging.system attribute of NATS spans.
var messagingNATS = semconv.MessagingSystemKey.String("nats")

// EventPublisher publishes events on NATS with the trace context in the message headers, so
// that a consumer's span continues the publisher's trace.
type EventPublisher struct {
	nc         *nats.Conn
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// NewEventPublisher returns a publisher on nc, traced with tel.
func NewEventPublisher(nc *nats.Conn, tel Telemetry) *EventPublisher {
	return &EventPublisher{nc: nc, tracer: tel.tracer(), propagator: tel.propagator()}
}

// Publish publishes data on subject inside a producer span named "publish <subject>", a child
// of the span in ctx, and writes that span's context into the message headers.
func (p *EventPublisher) Publish(ctx context.Context, subject string, data []byte) error {
	ctx, span := p.tracer.Start(ctx, "publish "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttrs(subject, "publish", semconv.MessagingOperationTypeSend)...),
	)
	defer span.End()

	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	// Injected from the producer span's context: the consumer's span becomes its child.
	p.propagator.Inject(ctx, headerCarrier(msg.Header))
	if err := p.nc.PublishMsg(msg); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("publish on %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls handle for each message on subject, inside a consumer span named
// "process <subject>" that continues the trace found in the message headers (a new trace when
// there is none). handle gets that span in its context. Unsubscribe or drain the returned
// subscription to stop.
func Subscribe(nc *nats.Conn, subject string, tel Telemetry, handle func(ctx context.Context, msg *nats.Msg)) (*nats.Subscription, error) {
	tracer, propagator := tel.tracer(), tel.propagator()
	sub, err := nc.Subscribe(subject, func(msg *nats.Msg) {
		ctx := propagator.Extract(context.Background(), headerCarrier(msg.Header))
		ctx, span := tracer.Start(ctx, "process "+msg.Subject,
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(messagingAttrs(msg.Subject, "process", semconv.MessagingOperationTypeProcess)...),
		)
		defer span.End()
		handle(ctx, msg)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	return sub, nil
}

// messagingAttrs returns the messaging semantic-convention attributes of a NATS span.
func messagingAttrs(subject, operation string, opType attribute.KeyValue) []attribute.KeyValue {
	return []attribute.KeyValue{
		messagingNATS,
		semconv.MessagingDestinationName(subject),
		semconv.MessagingOperationName(operation),
		opType,
	}
}

// headerCarrier lets a propagator read and write NATS message headers. Unlike
// propagation.HeaderCarrier it keeps keys as the propagator spells them ("traceparent"): NATS
// headers are case-sensitive, and that is the spelling other languages' clients look for.
type headerCarrier nats.Header

// Get returns the value of key.
func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set sets key to value.
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys of the headers.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
