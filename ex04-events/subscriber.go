package events

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// The headers a dead letter carries besides the original message's own.
const (
	// HeaderDeadLetterReason is the error that sent the message to dead letters.
	HeaderDeadLetterReason = "Dead-Letter-Reason"
	// HeaderDeadLetterSubject is the subject the message was published on.
	HeaderDeadLetterSubject = "Dead-Letter-Subject"
	// HeaderDeadLetterDeliveries is how many times the message was delivered to the handler.
	HeaderDeadLetterDeliveries = "Dead-Letter-Deliveries"
)

// ErrDeadLetter is reported (through SubscriberConfig.OnError) when a message could not be
// published to dead letters. The message is then not acknowledged: it is delivered again, and
// dead-lettered again, until that works.
var ErrDeadLetter = errors.New("dead-letter publish failed")

// SubscriberConfig configures a NATSEventSubscriber. The zero value is a valid configuration: a
// zero field takes the default written in its comment, and so does a negative one.
type SubscriberConfig struct {
	// Stream is the JetStream stream the topics are stored in. Default: "EVENTS".
	Stream string

	// Durable names the service that subscribes. Every instance of the service uses the same
	// name: they then share one durable consumer per topic, so each event goes to one instance
	// (a queue group), and the consumer remembers what was handled while no instance runs.
	// Default: "", an ephemeral consumer that sees only the events published after Subscribe.
	Durable string

	// MaxDeliver is how many times a message is handed to a failing handler before it is
	// dead-lettered. Default: 5.
	MaxDeliver int

	// RetryDelay is how long a failed message waits before it is delivered again. Default: 1s.
	RetryDelay time.Duration

	// AckWait is how long the broker waits for a handler to finish before it delivers the
	// message again. Default: 30s.
	AckWait time.Duration

	// DeadLetterPrefix is put in front of a message's subject to make its dead-letter subject.
	// Default: "dlq.".
	DeadLetterPrefix string

	// OnError, when set, is called with every error the subscriber cannot return to a caller: a
	// failed acknowledgement, a failed dead-letter publish (wrapping ErrDeadLetter), a consumer
	// error. Default: nil; the errors are logged in any case.
	OnError func(err error)

	// Logger receives the subscriber's logs. Default: slog.Default().
	Logger *slog.Logger
}

// NATSEventSubscriber delivers events from JetStream to handlers, retries failed messages and
// dead-letters those that keep failing. It is safe for concurrent use.
type NATSEventSubscriber struct {
	conn *nats.Conn
	cfg  SubscriberConfig

	// TODO(ex04.subscribers): keep a jetstream.JetStream, the handlers' context and its cancel
	// function, and the jetstream.ConsumeContext of every subscription (guarded by a mutex).
}

// NewNATSEventSubscriber returns a subscriber that consumes on conn, configured by cfg. Call
// Close to stop it; the caller keeps conn and closes it afterwards.
func NewNATSEventSubscriber(conn *nats.Conn, cfg SubscriberConfig) (*NATSEventSubscriber, error) {
	// TODO(ex04.subscribers): apply cfg's defaults and create the JetStream context.
	return &NATSEventSubscriber{conn: conn, cfg: cfg}, nil
}

// Subscribe calls handler for each event published on topic. It is SubscribeContext without a
// deadline of its own for setting up the consumer.
func (s *NATSEventSubscriber) Subscribe(topic string, handler EventHandler) error {
	return s.SubscribeContext(context.Background(), topic, handler)
}

// SubscribeContext creates (or reuses) the consumer of topic and starts calling handler for each
// of its messages; ctx bounds the setup. Messages are handled one at a time, in the order the
// broker delivers them.
func (s *NATSEventSubscriber) SubscribeContext(ctx context.Context, topic string, handler EventHandler) error {
	// TODO(ex04.subscribers): CreateOrUpdateConsumer on cfg.Stream, filtered on topic, with
	// explicit acks and cfg.AckWait. With cfg.Durable set, make it a durable consumer whose name is the same for
	// every instance of the service (and different per topic: consumer names may not contain
	// "." "*" or ">"); without it, an ephemeral consumer that delivers only new messages. Then
	// Consume it, passing each message to a function that runs handler and settles the message,
	// and report the consumer's errors (jetstream.ConsumeErrHandler) to cfg.OnError.
	// TODO(ex04.dead-letters): settle each message: DoubleAck on success; on failure
	// NakWithDelay(cfg.RetryDelay), unless the message has been delivered cfg.MaxDeliver times
	// (msg.Metadata().NumDelivered) — then dead-letter it. Count deliveries yourself and leave
	// the consumer's own MaxDeliver unlimited (-1), so that a message whose dead-letter publish
	// failed comes back. Let the consumer have more than one message pending (MaxAckPending),
	// so that a message waiting for its retry does not hold back the ones behind it.
	// Dead-lettering: publish (through JetStream) on cfg.DeadLetterPrefix + the subject, with the
	// original data and headers plus the three Dead-Letter-* headers and a Nats-Msg-Id of its own
	// (one per message and consumer), and only when that worked Term the message. When it failed, report an error wrapping ErrDeadLetter to cfg.OnError
	// and Nak the message so that it comes back.
	// TODO(ex04.versioning): an error wrapping ErrPermanent (ErrUnknownVersion, for one) cannot
	// be fixed by retrying: dead-letter it on the first delivery.
	return ErrNotImplemented
}

// Close stops consuming: the messages already delivered are handled, then the handlers' context
// is cancelled. When ctx ends first, Close stops waiting, cancels the handlers' context and
// returns ctx's error. Messages not acknowledged are delivered again to the next subscriber.
func (s *NATSEventSubscriber) Close(ctx context.Context) error {
	// TODO(ex04.subscribers): Drain every ConsumeContext, wait for each one's Closed() channel
	// (or for ctx), then cancel the handlers' context: a running handler keeps a live context
	// until it returns, unless ctx ends first.
	return nil
}
