package events

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// Helpers shared by the tests: an embedded NATS server with JetStream, connections, streams,
// envelopes and bounded waits. Nothing here needs a NATS server installed on the machine.

// waitTimeout bounds every wait for something to arrive.
const waitTimeout = 5 * time.Second

// The streams the tests create, the same as CreateStreams makes with a zero StreamConfig.
const (
	eventsStream      = "EVENTS"
	deadLetterStream  = "DEADLETTERS"
	duplicateWindow   = time.Minute
	deadLetterPrefix  = "dlq."
	topicUserCreated  = "events.users.created"
	topicOrderCreated = "events.orders.created"
	topicPayments     = "events.payments.processed"
)

// runServer starts an embedded NATS server with JetStream on a random port, storing its data in
// a temporary directory, and shuts it down when the test ends.
func runServer(t *testing.T) *server.Server {
	t.Helper()
	return startServer(t, -1, t.TempDir())
}

// startServer starts an embedded server on port (-1 for a random one) with its JetStream store in
// storeDir.
func startServer(t *testing.T, port int, storeDir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
	})
	require.NoError(t, err, "create the embedded NATS server")
	go s.Start()
	if !s.ReadyForConnections(waitTimeout) {
		s.Shutdown()
		t.Fatalf("the embedded NATS server was not ready within %v", waitTimeout)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// restartServer shuts s down and starts a new server on the same port with the same store, as an
// operator restarting the broker would.
func restartServer(t *testing.T, s *server.Server) *server.Server {
	t.Helper()
	port := s.Addr().(*net.TCPAddr).Port
	storeDir := s.JetStreamConfig().StoreDir
	s.Shutdown()
	s.WaitForShutdown()
	return startServer(t, port, storeDir)
}

// connect opens a plain connection to s, closed when the test ends.
func connect(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err, "connect to the embedded NATS server")
	t.Cleanup(nc.Close)
	return nc
}

// createStreams creates the events and dead-letter streams the way CreateStreams would, so that
// the tests of the other criteria do not depend on it.
func createStreams(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for name, subject := range map[string]string{eventsStream: "events.>", deadLetterStream: deadLetterPrefix + ">"} {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: name, Subjects: []string{subject}, Duplicates: duplicateWindow,
		})
		require.NoError(t, err, "create stream %s", name)
	}
	return js
}

// newSubscriber returns a subscriber on nc, closed when the test ends. Its logs are discarded
// unless cfg sets a logger.
func newSubscriber(t *testing.T, nc *nats.Conn, cfg SubscriberConfig) *NATSEventSubscriber {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	sub, err := NewNATSEventSubscriber(nc, cfg)
	require.NoError(t, err, "NewNATSEventSubscriber")
	require.NotNil(t, sub, "NewNATSEventSubscriber must not return nil")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = sub.Close(ctx)
	})
	return sub
}

// quietLogger discards everything.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// envelopeSeq numbers the envelopes the tests make.
var envelopeSeq struct {
	sync.Mutex
	n int
}

// testEnvelope wraps data (an event, or any JSON value for old or future versions) in an
// envelope with a fresh id, without using the code under test.
func testEnvelope(t *testing.T, eventType string, version int, data any) Envelope {
	t.Helper()
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	envelopeSeq.Lock()
	envelopeSeq.n++
	id := fmt.Sprintf("evt-%d-%d", time.Now().UnixNano(), envelopeSeq.n)
	envelopeSeq.Unlock()
	return Envelope{ID: id, Type: eventType, Version: version, Time: time.Now().UTC(), Data: raw}
}

// publishEnvelope stores env on topic through JetStream, with its id in Nats-Msg-Id and the
// given extra headers, without using the code under test.
func publishEnvelope(t *testing.T, js jetstream.JetStream, topic string, env Envelope, headers map[string]string) {
	t.Helper()
	data, err := json.Marshal(env)
	require.NoError(t, err)
	msg := &nats.Msg{Subject: topic, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, env.ID)
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err = js.PublishMsg(ctx, msg)
	require.NoError(t, err, "publish %s on %s", env.ID, topic)
}

// envelopeID returns the id of the envelope in data, or "" when data is not an envelope.
func envelopeID(data []byte) string {
	var env Envelope
	if json.Unmarshal(data, &env) != nil {
		return ""
	}
	return env.ID
}

// receive waits for a value on ch for at most waitTimeout.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("waited %v for %s; nothing came", waitTimeout, what)
		var zero T
		return zero
	}
}
