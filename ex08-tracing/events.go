package tracing

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

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
	// TODO(ex08.propagation): start a producer span "publish <subject>" with p.tracer
	// (trace.WithSpanKind(trace.SpanKindProducer)) and end it when Publish returns; inject
	// the producer span's context (not ctx's) into msg.Header with p.propagator. nats.Header
	// is not a propagation.TextMapCarrier: write a small carrier type over it (Get, Set,
	// Keys). Record a publish error on the span.
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	if err := p.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish on %s: %w", subject, err)
	}
	return nil
}

// Subscribe calls handle for each message on subject, inside a consumer span named
// "process <subject>" that continues the trace found in the message headers (a new trace when
// there is none). handle gets that span in its context. Unsubscribe or drain the returned
// subscription to stop.
func Subscribe(nc *nats.Conn, subject string, tel Telemetry, handle func(ctx context.Context, msg *nats.Msg)) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(subject, func(msg *nats.Msg) {
		// TODO(ex08.propagation): extract the publisher's context from msg.Header with
		// tel.propagator(), start a consumer span "process <subject>" from it with
		// tel.tracer() (trace.SpanKindConsumer), call handle with the span's context, and end
		// the span when handle returns.
		handle(context.Background(), msg)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	return sub, nil
}
