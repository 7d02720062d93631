package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The package's own integration tests, through an embedded NATS server.

// myWait bounds every wait of these tests.
const myWait = 5 * time.Second

// startMyBroker starts an embedded NATS server with JetStream on a random port, its store in a
// temporary directory, and returns its URL. The server stops when the test ends.
func startMyBroker(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	go s.Start()
	if !s.ReadyForConnections(myWait) {
		s.Shutdown()
		t.Fatal("the embedded NATS server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.ClientURL()
}

// myBroker is a broker with the streams created, and a connection to it.
type myBroker struct {
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	pub *NATSEventPublisher
}

func newMyBroker(t *testing.T) *myBroker {
	t.Helper()
	b := &myBroker{url: startMyBroker(t)}
	b.nc = b.conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), myWait)
	defer cancel()
	require.NoError(t, CreateStreams(ctx, b.nc, StreamConfig{}))
	var err error
	b.js, err = jetstream.New(b.nc)
	require.NoError(t, err)
	b.pub, err = NewNATSEventPublisher(b.nc)
	require.NoError(t, err)
	return b
}

// conn opens another connection, as another instance of a service would.
func (b *myBroker) conn(t *testing.T) *nats.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), myWait)
	defer cancel()
	nc, err := Connect(ctx, b.url, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// subscribe subscribes handler to topic in a subscriber of its own, closed when the test ends.
func (b *myBroker) subscribe(t *testing.T, cfg SubscriberConfig, topic string, handler EventHandler) *NATSEventSubscriber {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	sub, err := NewNATSEventSubscriber(b.conn(t), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), myWait)
		defer cancel()
		_ = sub.Close(ctx)
	})
	require.NoError(t, sub.Subscribe(topic, handler))
	return sub
}

func (b *myBroker) publish(t *testing.T, topic string, event any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), myWait)
	defer cancel()
	require.NoError(t, b.pub.Publish(ctx, topic, event))
}

// myIDs is a handler that records the ids of the envelopes it gets.
type myIDs struct {
	mu  sync.Mutex
	ids []string
}

func (r *myIDs) handle(_ context.Context, data []byte) error {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, env.ID)
	return nil
}

func (r *myIDs) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func (r *myIDs) count(id string) int {
	n := 0
	for _, got := range r.get() {
		if got == id {
			n++
		}
	}
	return n
}

func myEnvelope(t *testing.T, event Event) Envelope {
	t.Helper()
	env, err := NewEnvelope(event)
	require.NoError(t, err)
	return env
}

// myDeadLetters subscribes to the dead letters of topic.
func myDeadLetters(t *testing.T, nc *nats.Conn, topic string) chan *nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 10)
	sub, err := nc.ChanSubscribe("dlq."+topic, ch)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())
	return ch
}

func TestMyWelcomeMessageThroughTheBroker(t *testing.T) {
	b := newMyBroker(t)
	notifications := NewNotificationService()
	b.subscribe(t, SubscriberConfig{Durable: "notification"}, "events.users.created", notifications.HandleUserCreated)
	b.publish(t, "events.users.created", UserCreatedEvent{UserID: "u-1", Email: "eva@example.com", Name: "Eva"})

	require.Eventually(t, func() bool { return len(notifications.Sent()) == 1 }, myWait, 10*time.Millisecond,
		"one welcome message; sent: %+v", notifications.Sent())
	sent := notifications.Sent()[0]
	assert.Equal(t, "eva@example.com", sent.To)
	assert.Contains(t, sent.Body, "Eva", "the welcome message greets the user by name")
}

// A redelivery looks to a handler like the same envelope stored twice; a plain NATS publish has
// no Nats-Msg-Id, so the stream keeps both copies.
func TestMyRedeliveredEventsAreAppliedOnce(t *testing.T) {
	b := newMyBroker(t)
	notifications, inventory := NewNotificationService(), NewInventoryService()
	b.subscribe(t, SubscriberConfig{Durable: "notification"}, "events.users.created", notifications.HandleUserCreated)
	b.subscribe(t, SubscriberConfig{Durable: "inventory"}, "events.orders.created", inventory.HandleOrderCreated)

	user, err := json.Marshal(myEnvelope(t, UserCreatedEvent{UserID: "u-1", Email: "ana@example.com", Name: "Ana"}))
	require.NoError(t, err)
	order, err := json.Marshal(myEnvelope(t, OrderCreatedEvent{OrderID: "o-1", UserID: "u-1", Total: 10}))
	require.NoError(t, err)
	for range 2 {
		require.NoError(t, b.nc.Publish("events.users.created", user))
		require.NoError(t, b.nc.Publish("events.orders.created", order))
	}
	b.publish(t, "events.users.created", UserCreatedEvent{UserID: "u-2", Email: "bob@example.com", Name: "Bob"})
	b.publish(t, "events.orders.created", OrderCreatedEvent{OrderID: "o-2", UserID: "u-2", Total: 20})

	require.Eventually(t, func() bool {
		sent, reserved := notifications.Sent(), inventory.Reservations()
		return len(sent) > 0 && sent[len(sent)-1].UserID == "u-2" && len(reserved) > 0 && reserved[len(reserved)-1].OrderID == "o-2"
	}, myWait, 10*time.Millisecond, "the events published last must be handled")
	assert.Len(t, notifications.Sent(), 2, "a user event delivered twice sends one welcome message")
	assert.Len(t, inventory.Reservations(), 2, "an order event delivered twice reserves stock once")
}

func TestMyEnvelopePublishedTwiceIsStoredOnce(t *testing.T) {
	b := newMyBroker(t)
	var ids myIDs
	b.subscribe(t, SubscriberConfig{Durable: "audit"}, "events.orders.created", ids.handle)
	again := myEnvelope(t, OrderCreatedEvent{OrderID: "o-1"})
	b.publish(t, "events.orders.created", again)
	b.publish(t, "events.orders.created", again) // a retry after a lost acknowledgement
	last := myEnvelope(t, OrderCreatedEvent{OrderID: "o-2"})
	b.publish(t, "events.orders.created", last)

	require.Eventually(t, func() bool { return ids.count(last.ID) == 1 }, myWait, 10*time.Millisecond)
	assert.Equal(t, 1, ids.count(again.ID), "the broker keeps one copy of an envelope published twice")
}

func TestMyInstancesOfAServiceShareTheEvents(t *testing.T) {
	b := newMyBroker(t)
	var first, second myIDs
	b.subscribe(t, SubscriberConfig{Durable: "billing"}, "events.orders.created", first.handle)
	b.subscribe(t, SubscriberConfig{Durable: "billing"}, "events.orders.created", second.handle)
	const events = 10
	for i := range events {
		b.publish(t, "events.orders.created", OrderCreatedEvent{OrderID: fmt.Sprint("o-", i)})
	}
	// Done when every consumer of the stream has nothing left to deliver or to acknowledge.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), myWait)
		defer cancel()
		stream, err := b.js.Stream(ctx, "EVENTS")
		if err != nil {
			return false
		}
		idle, seen := true, 0
		consumers := stream.ListConsumers(ctx)
		for info := range consumers.Info() {
			seen++
			idle = idle && info.NumPending == 0 && info.NumAckPending == 0
		}
		return consumers.Err() == nil && seen > 0 && idle && len(first.get())+len(second.get()) >= events
	}, myWait, 10*time.Millisecond)
	assert.Equal(t, events, len(first.get())+len(second.get()), "each event handled by one instance of the service")
}

func TestMyServiceCatchesUpAfterARestart(t *testing.T) {
	b := newMyBroker(t)
	var before myIDs
	sub := b.subscribe(t, SubscriberConfig{Durable: "audit"}, "events.orders.created", before.handle)
	handled := myEnvelope(t, OrderCreatedEvent{OrderID: "o-1"})
	b.publish(t, "events.orders.created", handled)
	require.Eventually(t, func() bool { return before.count(handled.ID) == 1 }, myWait, 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), myWait)
	defer cancel()
	require.NoError(t, sub.Close(ctx))

	missed := myEnvelope(t, OrderCreatedEvent{OrderID: "o-2"})
	b.publish(t, "events.orders.created", missed)
	var after myIDs
	b.subscribe(t, SubscriberConfig{Durable: "audit"}, "events.orders.created", after.handle)
	require.Eventually(t, func() bool { return after.count(missed.ID) == 1 }, myWait, 10*time.Millisecond,
		"the event published while the service was down")
	assert.Equal(t, []string{missed.ID}, after.get(), "only what was not handled before")
}

func TestMyFailingMessageEndsInDeadLetters(t *testing.T) {
	b := newMyBroker(t)
	dlq := myDeadLetters(t, b.nc, "events.payments.processed")
	b.subscribe(t, SubscriberConfig{Durable: "payments", MaxDeliver: 2, RetryDelay: 10 * time.Millisecond},
		"events.payments.processed", func(context.Context, []byte) error { return errors.New("card declined") })
	poison := myEnvelope(t, PaymentProcessedEvent{PaymentID: "p-1"})
	b.publish(t, "events.payments.processed", poison)
	select {
	case dl := <-dlq:
		var env Envelope
		require.NoError(t, json.Unmarshal(dl.Data, &env))
		assert.Equal(t, poison.ID, env.ID)
		assert.Equal(t, "2", dl.Header.Get(HeaderDeadLetterDeliveries))
		assert.Contains(t, dl.Header.Get(HeaderDeadLetterReason), "card declined")
	case <-time.After(myWait):
		t.Fatal("no dead letter")
	}
}

func TestMyOldAndFutureVersions(t *testing.T) {
	b := newMyBroker(t)
	dlq := myDeadLetters(t, b.nc, "events.users.created")
	notifications := NewNotificationService()
	b.subscribe(t, SubscriberConfig{Durable: "notification", MaxDeliver: 3, RetryDelay: 10 * time.Millisecond},
		"events.users.created", notifications.HandleUserCreated)

	v1 := Envelope{ID: "v1-event", Type: "user.created", Version: 1, Time: time.Now(),
		Data: json.RawMessage(`{"user_id":"u-1","email":"ana@example.com","created_at":"2024-01-01T00:00:00Z"}`)}
	future := Envelope{ID: "v9-event", Type: "user.created", Version: 9, Time: time.Now(),
		Data: json.RawMessage(`{"user_id":"u-9","contact":{"email":"zoe@example.com"}}`)}
	b.publish(t, "events.users.created", v1)
	b.publish(t, "events.users.created", future)

	select {
	case dl := <-dlq:
		assert.Equal(t, "1", dl.Header.Get(HeaderDeadLetterDeliveries), "a version from the future is dead-lettered at once")
		assert.Contains(t, string(dl.Data), future.ID)
	case <-time.After(myWait):
		t.Fatal("the unknown version was not dead-lettered")
	}
	require.Eventually(t, func() bool { return len(notifications.Sent()) >= 1 }, myWait, 10*time.Millisecond)
	sent := notifications.Sent()
	assert.Len(t, sent, 1, "only the version 1 event sends a welcome message")
	assert.Contains(t, sent[0].Body, "ana", "version 1 has no name: it comes from the email address")
}
