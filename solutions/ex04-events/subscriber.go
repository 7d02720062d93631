package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// maxAckPending is how many messages a consumer may have delivered and not yet acknowledged. More
// than one, so that a message waiting for its retry does not hold back the messages behind it.
const maxAckPending = 1000

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

// withDefaults returns c with its zero fields set to their defaults.
func (c SubscriberConfig) withDefaults() SubscriberConfig {
	if c.Stream == "" {
		c.Stream = "EVENTS"
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.DeadLetterPrefix == "" {
		c.DeadLetterPrefix = "dlq."
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// NATSEventSubscriber delivers events from JetStream to handlers, retries failed messages and
// dead-letters those that keep failing. It is safe for concurrent use.
type NATSEventSubscriber struct {
	js  jetstream.JetStream
	cfg SubscriberConfig

	// ctx is the handlers' context, cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	consumes []jetstream.ConsumeContext
}

// NewNATSEventSubscriber returns a subscriber that consumes on conn, configured by cfg. Call
// Close to stop it; the caller keeps conn and closes it afterwards.
func NewNATSEventSubscriber(conn *nats.Conn, cfg SubscriberConfig) (*NATSEventSubscriber, error) {
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &NATSEventSubscriber{js: js, cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel}, nil
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
	cc := jetstream.ConsumerConfig{
		Durable:       consumerName(s.cfg.Durable, topic),
		FilterSubject: topic,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		MaxAckPending: maxAckPending,
		// The subscriber counts deliveries itself (see handle): a message whose dead-letter
		// publish failed must be delivered again, which a server-side limit would prevent.
		MaxDeliver: -1,
	}
	if cc.Durable == "" {
		cc.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, cc)
	if err != nil {
		return fmt.Errorf("subscribe to %s: create consumer: %w", topic, err)
	}
	consume, err := cons.Consume(
		func(msg jetstream.Msg) { s.handle(handler, msg) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.report(fmt.Errorf("consume %s: %w", topic, err))
		}),
	)
	if err != nil {
		return fmt.Errorf("subscribe to %s: consume: %w", topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumes = append(s.consumes, consume)
	return nil
}

// consumerName is the durable consumer of service for topic, or "" for an ephemeral consumer. A
// consumer filters one topic, so a service that subscribes to several needs one per topic.
func consumerName(service, topic string) string {
	if service == "" {
		return ""
	}
	return service + "_" + strings.NewReplacer(".", "_", "*", "any", ">", "all").Replace(topic)
}

// handle hands one message to handler and settles it: acknowledged on success, delivered again
// after RetryDelay on failure, dead-lettered when the failure is permanent or MaxDeliver
// deliveries have failed.
func (s *NATSEventSubscriber) handle(handler EventHandler, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		s.report(fmt.Errorf("message on %s: %w", msg.Subject(), err))
		return
	}
	// A handler still running after AckWait races a redelivery of its message: stop it there.
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.AckWait)
	defer cancel()
	herr := handler(ctx, msg.Data())
	switch {
	case herr == nil:
		if err := msg.DoubleAck(s.ctx); err != nil {
			s.report(fmt.Errorf("ack message %d on %s: %w", meta.Sequence.Stream, msg.Subject(), err))
		}
	case errors.Is(herr, ErrPermanent) || meta.NumDelivered >= uint64(s.cfg.MaxDeliver):
		s.deadLetter(msg, meta, herr)
	default:
		s.cfg.Logger.Debug("handler failed, will retry", "subject", msg.Subject(),
			"delivery", meta.NumDelivered, "error", herr)
		if err := msg.NakWithDelay(s.cfg.RetryDelay); err != nil {
			s.report(fmt.Errorf("nak message %d on %s: %w", meta.Sequence.Stream, msg.Subject(), err))
		}
	}
}

// deadLetter publishes msg, with its headers and why it failed, on its dead-letter subject, and
// only then terminates it. When the publish fails the message is left unacknowledged, to be
// delivered and dead-lettered again, and the failure is reported.
func (s *NATSEventSubscriber) deadLetter(msg jetstream.Msg, meta *jetstream.MsgMetadata, reason error) {
	dl := &nats.Msg{
		Subject: s.cfg.DeadLetterPrefix + msg.Subject(),
		Data:    msg.Data(),
		Header:  nats.Header{},
	}
	for k, v := range msg.Headers() {
		dl.Header[k] = slices.Clone(v)
	}
	dl.Header.Set(HeaderDeadLetterReason, reason.Error())
	dl.Header.Set(HeaderDeadLetterSubject, msg.Subject())
	dl.Header.Set(HeaderDeadLetterDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	// One dead letter per message and consumer: a retried dead-letter publish is deduplicated,
	// while two services that both fail on one event each get theirs.
	dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%s.%d", meta.Stream, meta.Consumer, meta.Sequence.Stream))

	if _, err := s.js.PublishMsg(s.ctx, dl); err != nil {
		s.report(fmt.Errorf("%w: message %d on %s to %s: %w", ErrDeadLetter, meta.Sequence.Stream, msg.Subject(), dl.Subject, err))
		if err := msg.NakWithDelay(s.cfg.RetryDelay); err != nil {
			s.report(fmt.Errorf("nak message %d on %s: %w", meta.Sequence.Stream, msg.Subject(), err))
		}
		return
	}
	if err := msg.TermWithReason(reason.Error()); err != nil {
		s.report(fmt.Errorf("terminate message %d on %s: %w", meta.Sequence.Stream, msg.Subject(), err))
	}
	s.cfg.Logger.Warn("message dead-lettered", "subject", msg.Subject(), "dead_letter_subject", dl.Subject,
		"deliveries", meta.NumDelivered, "reason", reason)
}

// report logs err and passes it to OnError.
func (s *NATSEventSubscriber) report(err error) {
	s.cfg.Logger.Error("event subscriber", "error", err)
	if s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

// Close stops consuming: the messages already delivered are handled, then the handlers' context
// is cancelled. When ctx ends first, Close stops waiting, cancels the handlers' context and
// returns ctx's error. Messages not acknowledged are delivered again to the next subscriber.
func (s *NATSEventSubscriber) Close(ctx context.Context) error {
	s.mu.Lock()
	consumes := s.consumes
	s.consumes = nil
	s.mu.Unlock()
	defer s.cancel()

	for _, c := range consumes {
		c.Drain()
	}
	for _, c := range consumes {
		select {
		case <-c.Closed():
		case <-ctx.Done():
			return fmt.Errorf("close subscriber: %w", ctx.Err())
		}
	}
	return nil
}
