package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSEventPublisher publishes events to JetStream. It is safe for concurrent use.
type NATSEventPublisher struct {
	conn *nats.Conn
	js   jetstream.JetStream
}

// NewNATSEventPublisher returns a publisher that sends on conn. The caller keeps conn and closes
// it (preferably with Drain) when done.
func NewNATSEventPublisher(conn *nats.Conn) (*NATSEventPublisher, error) {
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &NATSEventPublisher{conn: conn, js: js}, nil
}

// Publish sends event on topic, in an Envelope, and returns once a stream has stored it. event is
// an Event, which gets a new envelope (and id), or an Envelope, which is sent as it is: publish
// the same Envelope again and the broker drops the copy. The envelope's id travels in the
// Nats-Msg-Id header, which is what the broker deduplicates on.
func (p *NATSEventPublisher) Publish(ctx context.Context, topic string, event any) error {
	var env Envelope
	switch e := event.(type) {
	case Envelope:
		env = e
	case *Envelope:
		if e == nil {
			return fmt.Errorf("publish on %s: nil envelope", topic)
		}
		env = *e
	case Event:
		var err error
		if env, err = NewEnvelope(e); err != nil {
			return err
		}
	default:
		return fmt.Errorf("publish on %s: %T is neither an Event nor an Envelope", topic, event)
	}
	if env.ID == "" {
		return fmt.Errorf("publish on %s: the envelope has no id", topic)
	}
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("publish on %s: encode envelope: %w", topic, err)
	}
	msg := &nats.Msg{Subject: topic, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, env.ID)
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish %s event %s on %s: %w", env.Type, env.ID, topic, err)
	}
	return nil
}
