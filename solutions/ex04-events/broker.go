package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The connection settings Connect starts from; options passed to Connect override them.
const (
	defaultClientName    = "events"
	defaultReconnectWait = 250 * time.Millisecond
	// defaultReconnectBuf holds what is published while the connection is down.
	defaultReconnectBuf = 8 << 20
	// A server that misses maxPingsOut pings, pingInterval apart, is taken as gone.
	defaultPingInterval = 10 * time.Second
	defaultMaxPingsOut  = 3
)

// Connect connects to the NATS server at url with settings suited to a long-running service: it
// reconnects for ever (waiting defaultReconnectWait between attempts and buffering what is
// published meanwhile), pings the server every 10s to notice a dead connection, and logs
// disconnects, reconnects and the final close to logger (slog.Default() when nil). opts are
// applied after these settings and override them. ctx bounds the first connection attempt.
func Connect(ctx context.Context, url string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	settings := []nats.Option{
		nats.Name(defaultClientName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(defaultReconnectWait),
		nats.ReconnectBufSize(defaultReconnectBuf),
		nats.PingInterval(defaultPingInterval),
		nats.MaxPingsOutstanding(defaultMaxPingsOut),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			logger.Warn("nats disconnected", "name", nc.Opts.Name, "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "name", nc.Opts.Name, "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			logger.Info("nats connection closed", "name", nc.Opts.Name)
		}),
	}
	if deadline, ok := ctx.Deadline(); ok {
		settings = append(settings, nats.Timeout(time.Until(deadline)))
	}
	nc, err := nats.Connect(url, append(settings, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
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

// withDefaults returns c with its zero fields set to their defaults.
func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = "EVENTS"
	}
	if len(c.Subjects) == 0 {
		c.Subjects = []string{"events.>"}
	}
	if c.DeadLetterName == "" {
		c.DeadLetterName = "DEADLETTERS"
	}
	if len(c.DeadLetterSubjects) == 0 {
		c.DeadLetterSubjects = []string{"dlq.>"}
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
	return c
}

// CreateStreams creates the events and dead-letter streams described by cfg, or updates them to
// match it. Both are file-backed, so they survive a server restart.
func CreateStreams(ctx context.Context, nc *nats.Conn, cfg StreamConfig) error {
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	streams := []jetstream.StreamConfig{
		{Name: cfg.Name, Subjects: cfg.Subjects, Storage: jetstream.FileStorage, Duplicates: cfg.Duplicates},
		{Name: cfg.DeadLetterName, Subjects: cfg.DeadLetterSubjects, Storage: jetstream.FileStorage, Duplicates: cfg.Duplicates},
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	return nil
}
