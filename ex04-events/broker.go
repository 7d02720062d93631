package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect connects to the NATS server at url with settings suited to a long-running service: it
// reconnects for ever (buffering what is published meanwhile), pings the server often enough to
// notice a dead connection, and logs disconnects, reconnects and the final close to logger
// (slog.Default() when nil). opts are applied after these settings and override them. ctx bounds
// the first connection attempt.
func Connect(ctx context.Context, url string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	// TODO(ex04.broker): fail with an error wrapping ctx's error when ctx is already done. Call
	// nats.Connect with a name (nats.Name), unlimited reconnects (nats.MaxReconnects(-1)), a pause
	// of at most 1s between attempts (nats.ReconnectWait), a reconnect buffer (never -1), a ping
	// interval of at most 30s (nats.PingInterval, nats.MaxPingsOutstanding), and handlers that
	// log disconnects and reconnects (nats.DisconnectErrHandler, nats.ReconnectHandler). Append
	// opts last so that the caller can override any of them.
	return nil, ErrNotImplemented
}

// StreamConfig names the JetStream streams that store the events and the dead letters. The zero
// value is a valid configuration: a zero field takes the default written in its comment.
type StreamConfig struct {
	// Name is the stream of events. Default: "EVENTS".
	Name string
	// Subjects are the topics the events stream stores. Default: "events.>".
	Subjects []string
	// DeadLetterName is the stream of dead letters. Default: "DEADLETTERS".
	DeadLetterName string
	// DeadLetterSubjects are the subjects the dead-letter stream stores. Default: "dlq.>", which
	// holds the subjects SubscriberConfig's default DeadLetterPrefix makes.
	DeadLetterSubjects []string
	// Duplicates is how long the broker remembers event ids to drop a second publish of the same
	// event. Default: 2m.
	Duplicates time.Duration
}

// CreateStreams creates the events and dead-letter streams described by cfg, or updates them to
// match it. Both are file-backed, so they survive a server restart.
func CreateStreams(ctx context.Context, nc *nats.Conn, cfg StreamConfig) error {
	// TODO(ex04.broker): apply the defaults, then jetstream.New(nc) and CreateOrUpdateStream for
	// both streams (their names and subjects from cfg), with file storage, and the Duplicates
	// window on the events stream.
	return ErrNotImplemented
}
