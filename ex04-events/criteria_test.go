package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The criteria tests of exercise 04, one per criterion of criteria.json. Each starts its own
// embedded NATS server (see natsserver_test.go).

// syncBuffer is a bytes.Buffer safe for concurrent writes, to capture logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// idRecorder is a handler that records the envelope ids it sees and passes them on a channel.
type idRecorder struct {
	mu  sync.Mutex
	ids []string
	ch  chan string
}

func newIDRecorder() *idRecorder { return &idRecorder{ch: make(chan string, 100)} }

func (r *idRecorder) handle(_ context.Context, data []byte) error {
	id := envelopeID(data)
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	r.ch <- id
	return nil
}

func (r *idRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// waitFor receives ids from r until want has come, and fails after waitTimeout.
func (r *idRecorder) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case id := <-r.ch:
			if id == want {
				return
			}
		case <-deadline:
			t.Fatalf("event %s was not handled within %v; handled: %v", want, waitTimeout, r.seen())
		}
	}
}

func TestBrokerConfigured(t *testing.T) {
	t.Run("reconnect and ping options", func(t *testing.T) {
		s := runServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		nc, err := Connect(ctx, s.ClientURL(), quietLogger())
		require.NoError(t, err, "Connect to a running server")
		require.NotNil(t, nc, "Connect must return the connection")
		t.Cleanup(nc.Close)

		o := nc.Opts
		assert.NotEmpty(t, o.Name, "the connection must have a name, to find it in the server's monitoring")
		assert.True(t, o.AllowReconnect, "the connection must reconnect after the server goes away")
		assert.Negative(t, o.MaxReconnect,
			"MaxReconnects is %d: want unlimited (-1), so that no broker outage, however long, closes the connection for good", o.MaxReconnect)
		assert.True(t, o.ReconnectWait > 0 && o.ReconnectWait <= time.Second,
			"ReconnectWait is %v: want a pause between attempts of more than 0 and at most 1s (the client's default is 2s)", o.ReconnectWait)
		assert.Positive(t, o.ReconnectBufSize,
			"ReconnectBufSize is %d: keep a buffer for what is published while reconnecting (the client's default of 8MB does; -1 disables it)", o.ReconnectBufSize)
		assert.True(t, o.PingInterval > 0 && o.PingInterval <= 30*time.Second,
			"PingInterval is %v: want at most 30s, so a dead connection is noticed in reasonable time (the client default is 2m)", o.PingInterval)
		assert.Positive(t, o.MaxPingsOut, "MaxPingsOutstanding must be positive")
	})

	t.Run("the caller's options come last", func(t *testing.T) {
		s := runServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		nc, err := Connect(ctx, s.ClientURL(), quietLogger(),
			nats.Name("billing-7"), nats.MaxReconnects(3), nats.ReconnectWait(300*time.Millisecond), nats.PingInterval(7*time.Second))
		require.NoError(t, err, "Connect with options")
		require.NotNil(t, nc, "Connect must return the connection")
		t.Cleanup(nc.Close)
		o := nc.Opts
		assert.Equal(t, "billing-7", o.Name, "the caller's nats.Name must win over Connect's own")
		assert.Equal(t, 3, o.MaxReconnect, "the caller's nats.MaxReconnects must win over Connect's own")
		assert.Equal(t, 300*time.Millisecond, o.ReconnectWait, "the caller's nats.ReconnectWait must win over Connect's own")
		assert.Equal(t, 7*time.Second, o.PingInterval, "the caller's nats.PingInterval must win over Connect's own")
	})

	t.Run("CreateStreams makes both streams, file-backed", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		check := func(name string, subjects []string, duplicates time.Duration) {
			t.Helper()
			stream, err := js.Stream(ctx, name)
			require.NoError(t, err, "CreateStreams must create the %s stream", name)
			info, err := stream.Info(ctx)
			require.NoError(t, err)
			assert.Equal(t, subjects, info.Config.Subjects, "the subjects of the %s stream", name)
			assert.Equal(t, jetstream.FileStorage, info.Config.Storage, "the %s stream must be file-backed, to survive a restart", name)
			if duplicates > 0 {
				assert.Equal(t, duplicates, info.Config.Duplicates, "the duplicates window of the %s stream", name)
			}
		}

		require.NoError(t, CreateStreams(ctx, nc, StreamConfig{}), "CreateStreams with the defaults")
		check("EVENTS", []string{"events.>"}, 2*time.Minute)
		check("DEADLETTERS", []string{"dlq.>"}, 0)

		require.NoError(t, CreateStreams(ctx, nc, StreamConfig{
			Name: "ORDERS", Subjects: []string{"orders.>"}, DeadLetterName: "ORDERS_PARKED", DeadLetterSubjects: []string{"parked.orders.>"},
			Duplicates: 30 * time.Second,
		}), "CreateStreams with a StreamConfig of its own")
		check("ORDERS", []string{"orders.>"}, 30*time.Second)
		check("ORDERS_PARKED", []string{"parked.orders.>"}, 0)
	})

	t.Run("honours the context", func(t *testing.T) {
		s := runServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		nc, err := Connect(ctx, s.ClientURL(), quietLogger())
		if nc != nil {
			nc.Close()
		}
		assert.ErrorIs(t, err, context.Canceled, "Connect with a cancelled context must fail with context.Canceled")
	})

	t.Run("keeps working across a server restart", func(t *testing.T) {
		s := runServer(t)
		logs := &syncBuffer{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		ctx, cancel := context.WithTimeout(context.Background(), 4*waitTimeout)
		defer cancel()
		nc, err := Connect(ctx, s.ClientURL(), logger, nats.ReconnectWait(20*time.Millisecond))
		require.NoError(t, err, "Connect")
		require.NotNil(t, nc, "Connect must return the connection")
		t.Cleanup(nc.Close)
		require.NoError(t, CreateStreams(ctx, nc, StreamConfig{}), "CreateStreams with the defaults")

		// The broker is used through the test's own connection for publishing and subscribing,
		// so that only Connect and CreateStreams decide this test.
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		rec := newIDRecorder()
		cons, err := js.CreateOrUpdateConsumer(ctx, eventsStream, jetstream.ConsumerConfig{
			Durable: "restart", FilterSubject: topicOrderCreated, AckPolicy: jetstream.AckExplicitPolicy,
		})
		require.NoError(t, err, "CreateStreams must create the %s stream holding events.>", eventsStream)
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			_ = rec.handle(ctx, msg.Data())
			_ = msg.Ack()
		})
		require.NoError(t, err)
		t.Cleanup(cc.Stop)

		before := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-before"})
		publishEnvelope(t, js, topicOrderCreated, before, nil)
		rec.waitFor(t, before.ID)

		restartServer(t, s)

		after := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-after"})
		data, err := json.Marshal(after)
		require.NoError(t, err)
		// The client needs a moment to reconnect: try again every 20ms, for up to waitTimeout.
		publish := func() error {
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			_, err := js.Publish(pctx, topicOrderCreated, data, jetstream.WithMsgID(after.ID))
			return err
		}
		deadline := time.After(waitTimeout)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		err = publish()
	retry:
		for err != nil && !nc.IsClosed() {
			select {
			case <-tick.C:
				err = publish()
			case <-deadline:
				break retry
			}
		}
		require.False(t, nc.IsClosed(), "the connection closed for good when the server restarted: it must keep reconnecting")
		require.NoError(t, err, "publishing after the server restart must work again within %v (connection %v); are the streams stored on disk?", waitTimeout, nc.Status())
		rec.waitFor(t, after.ID)

		text := strings.ToLower(logs.String())
		assert.Contains(t, text, "disconnect", "the disconnect must be logged through the logger given to Connect; logs:\n%s", logs)
		assert.Contains(t, text, "reconnect", "the reconnect must be logged through the logger given to Connect; logs:\n%s", logs)
	})
}

func TestPublisher(t *testing.T) {
	s := runServer(t)
	nc := connect(t, s)
	js := createStreams(t, nc)
	pub, err := NewNATSEventPublisher(nc)
	require.NoError(t, err, "NewNATSEventPublisher")
	require.NotNil(t, pub, "NewNATSEventPublisher must not return nil")
	var _ EventPublisher = pub

	t.Run("versioned envelope", func(t *testing.T) {
		sub, err := nc.SubscribeSync(topicUserCreated)
		require.NoError(t, err)
		defer func() { _ = sub.Unsubscribe() }()

		event := UserCreatedEvent{UserID: "u-1", Email: "ana@example.com", Name: "Ana",
			CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, pub.Publish(ctx, topicUserCreated, event), "Publish a UserCreatedEvent")
		end := time.Now()

		msg, err := sub.NextMsg(waitTimeout)
		require.NoError(t, err, "the published event must reach a subscriber of %s", topicUserCreated)
		var env Envelope
		require.NoError(t, json.Unmarshal(msg.Data, &env), "the message must be a JSON envelope; got %s", msg.Data)
		assert.NotEmpty(t, env.ID, "the envelope must carry an event id; got %s", msg.Data)
		assert.Equal(t, "user.created", env.Type, "the envelope's type must be the event's EventType()")
		assert.Equal(t, 2, env.Version, "the envelope's version must be the event's EventVersion()")
		assert.WithinRange(t, env.Time, start.Add(-time.Second), end.Add(time.Second), "the envelope's time must be when it was published")
		var got UserCreatedEvent
		require.NoError(t, json.Unmarshal(env.Data, &got), "the envelope's data must be the event as JSON; got %s", env.Data)
		assert.Equal(t, event.UserID, got.UserID)
		assert.Equal(t, event.Email, got.Email)
		assert.Equal(t, event.Name, got.Name)
		assert.True(t, event.CreatedAt.Equal(got.CreatedAt), "created_at: want %v, got %v", event.CreatedAt, got.CreatedAt)
		assert.Equal(t, env.ID, msg.Header.Get("Nats-Msg-Id"),
			"the event id must also be in the Nats-Msg-Id header, which JetStream deduplicates on")

		require.NoError(t, pub.Publish(ctx, topicUserCreated, event), "Publish the same event again")
		msg2, err := sub.NextMsg(waitTimeout)
		require.NoError(t, err)
		assert.NotEqual(t, env.ID, envelopeID(msg2.Data), "each Publish of an event must make a new event id")
	})

	t.Run("types and versions of the events", func(t *testing.T) {
		events := []struct {
			event   Event
			typ     string
			version int
		}{
			{OrderCreatedEvent{OrderID: "o-1", UserID: "u-1", Total: 12.5}, "order.created", 1},
			{PaymentProcessedEvent{PaymentID: "p-1", OrderID: "o-1", Amount: 12.5, Status: "ok"}, "payment.processed", 1},
		}
		for _, tt := range events {
			topic := "events.types." + tt.typ
			sub, err := nc.SubscribeSync(topic)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			require.NoError(t, pub.Publish(ctx, topic, tt.event), "Publish a %T", tt.event)
			cancel()
			msg, err := sub.NextMsg(waitTimeout)
			require.NoError(t, err)
			var env Envelope
			require.NoError(t, json.Unmarshal(msg.Data, &env))
			assert.Equal(t, tt.typ, env.Type, "type of %T", tt.event)
			assert.Equal(t, tt.version, env.Version, "version of %T", tt.event)
			_ = sub.Unsubscribe()
		}
	})

	t.Run("honours the context", func(t *testing.T) {
		topic := "events.cancelled"
		sub, err := nc.SubscribeSync(topic)
		require.NoError(t, err)
		defer func() { _ = sub.Unsubscribe() }()

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = pub.Publish(ctx, topic, OrderCreatedEvent{OrderID: "o-cancelled"})
		assert.ErrorIs(t, err, context.Canceled, "Publish with a cancelled context must fail with context.Canceled")

		ctx2, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel2()
		require.NoError(t, pub.Publish(ctx2, topic, OrderCreatedEvent{OrderID: "o-next"}))
		msg, err := sub.NextMsg(waitTimeout)
		require.NoError(t, err)
		var env Envelope
		require.NoError(t, json.Unmarshal(msg.Data, &env))
		assert.Contains(t, string(env.Data), "o-next", "nothing must be sent when the context was cancelled; the first message was %s", msg.Data)
	})

	t.Run("confirmed by the broker", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := pub.Publish(ctx, "nostream.orders", OrderCreatedEvent{OrderID: "o-lost"})
		assert.Error(t, err, "Publish on a topic no stream stores must fail: the event was not stored (publish through JetStream and wait for its acknowledgement)")
	})

	// storedOn returns how many messages the events stream holds on topic.
	storedOn := func(t *testing.T, topic string) uint64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stream, err := js.Stream(ctx, eventsStream)
		require.NoError(t, err)
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(topic))
		require.NoError(t, err)
		return info.State.Subjects[topic]
	}

	t.Run("an *Envelope is sent as it is", func(t *testing.T) {
		topic := "events.pointer"
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		env := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-pointer"})
		require.NoError(t, pub.Publish(ctx, topic, &env), "Publish an *Envelope")
		require.NoError(t, pub.Publish(ctx, topic, &env), "Publish the same *Envelope again (a retry) must not be an error")
		assert.EqualValues(t, 1, storedOn(t, topic), "an *Envelope published twice: the stream must hold it once")
		stream, err := js.Stream(ctx, eventsStream)
		require.NoError(t, err)
		msg, err := stream.GetLastMsgForSubject(ctx, topic)
		require.NoError(t, err, "the *Envelope must be stored")
		assert.Equal(t, env.ID, envelopeID(msg.Data), "an *Envelope must be sent as it is, with its own id; got %s", msg.Data)
	})

	t.Run("a value that is neither an Event nor an Envelope is an error", func(t *testing.T) {
		topic := "events.junk"
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := pub.Publish(ctx, topic, map[string]string{"hello": "world"})
		assert.Error(t, err, "Publish of a map, which is neither an Event nor an Envelope")
		assert.Zero(t, storedOn(t, topic), "nothing must be published for a value that is not an event")
	})

	t.Run("duplicate event id deduplicated by the broker", func(t *testing.T) {
		topic := "events.dedupe"
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		env := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-dup"})
		require.NoError(t, pub.Publish(ctx, topic, env), "Publish an Envelope")
		require.NoError(t, pub.Publish(ctx, topic, env), "Publish the same Envelope again (a retry) must not be an error")
		require.NoError(t, pub.Publish(ctx, topic, OrderCreatedEvent{OrderID: "o-other"}))

		stream, err := js.Stream(ctx, eventsStream)
		require.NoError(t, err)
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(topic))
		require.NoError(t, err)
		assert.EqualValues(t, 2, info.State.Subjects[topic],
			"an envelope published twice, then another event: the stream must hold 2 events on %s (the duplicate dropped by the broker), it holds %d",
			topic, info.State.Subjects[topic])
	})
}

func TestSubscribers(t *testing.T) {
	t.Run("handlers receive events", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		var sub EventSubscriber = newSubscriber(t, nc, SubscriberConfig{})
		got := make(chan []byte, 10)
		require.NoError(t, sub.Subscribe(topicOrderCreated, func(_ context.Context, data []byte) error {
			got <- data
			return nil
		}), "Subscribe")

		env := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-1", UserID: "u-1", Total: 9.5})
		publishEnvelope(t, js, topicOrderCreated, env, nil)
		data := receive(t, got, "the handler to get the published event")
		var gotEnv Envelope
		require.NoError(t, json.Unmarshal(data, &gotEnv), "the handler must get the envelope's JSON; got %s", data)
		assert.Equal(t, env.ID, gotEnv.ID)
		assert.JSONEq(t, string(env.Data), string(gotEnv.Data))
	})

	t.Run("a queue group handles each event once", func(t *testing.T) {
		s := runServer(t)
		js := createStreams(t, connect(t, s))
		const events = 20
		var mu sync.Mutex
		handled := map[string]int{}
		perInstance := [2]int{}
		distinct := make(chan struct{})
		for i := range 2 {
			// Two instances of one service: each with its own connection, the same durable name.
			sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "billing"})
			require.NoError(t, sub.Subscribe(topicOrderCreated, func(_ context.Context, data []byte) error {
				mu.Lock()
				defer mu.Unlock()
				id := envelopeID(data)
				handled[id]++
				perInstance[i]++
				if len(handled) == events && handled[id] == 1 {
					close(distinct)
				}
				return nil
			}), "Subscribe instance %d", i+1)
		}
		for i := range events {
			publishEnvelope(t, js, topicOrderCreated, testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: fmt.Sprint("o-", i)}), nil)
		}
		receive(t, distinct, fmt.Sprintf("the %d events to be handled", events))
		// Every consumer on the stream (one, if the instances share it) must be done: then no
		// handler call is still to come.
		waitAllAcked(t, js)

		mu.Lock()
		defer mu.Unlock()
		total := perInstance[0] + perInstance[1]
		assert.Equal(t, events, total,
			"%d events published to two instances of one service: want each handled once (%d handler calls), got %d calls (instance 1: %d, instance 2: %d)",
			events, events, total, perInstance[0], perInstance[1])
		var twice []string
		for id, n := range handled {
			if n > 1 {
				twice = append(twice, fmt.Sprintf("%s (%d times)", id, n))
			}
		}
		assert.Empty(t, twice, "events handled more than once by the group")
	})

	t.Run("a durable consumer picks up what was published while it was down", func(t *testing.T) {
		s := runServer(t)
		js := createStreams(t, connect(t, s))

		first := newIDRecorder()
		sub1 := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "audit"})
		require.NoError(t, sub1.Subscribe(topicOrderCreated, first.handle), "Subscribe")
		e1 := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-1"})
		publishEnvelope(t, js, topicOrderCreated, e1, nil)
		first.waitFor(t, e1.ID)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, sub1.Close(ctx), "Close the subscriber")

		// The service is down while these are published.
		e2 := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-2"})
		e3 := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-3"})
		publishEnvelope(t, js, topicOrderCreated, e2, nil)
		publishEnvelope(t, js, topicOrderCreated, e3, nil)

		second := newIDRecorder()
		sub2 := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "audit"})
		require.NoError(t, sub2.Subscribe(topicOrderCreated, second.handle), "Subscribe again after a restart")
		second.waitFor(t, e3.ID)
		assert.Equal(t, []string{e2.ID, e3.ID}, second.seen(),
			"the restarted service must get exactly the events published while it was down (not the one it had handled, %s)", e1.ID)
	})

	t.Run("without a durable name, a subscriber sees only the events published after it subscribed", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		old := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-old"})
		publishEnvelope(t, js, topicOrderCreated, old, nil)
		rec := newIDRecorder()
		sub := newSubscriber(t, connect(t, s), SubscriberConfig{})
		require.NoError(t, sub.Subscribe(topicOrderCreated, rec.handle), "Subscribe")
		fresh := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-new"})
		publishEnvelope(t, js, topicOrderCreated, fresh, nil)
		rec.waitFor(t, fresh.ID)
		assert.Equal(t, []string{fresh.ID}, rec.seen(),
			"an ephemeral consumer (no Durable) must start with the events published after Subscribe, not replay %s", old.ID)
	})

	t.Run("one service subscribes to several topics", func(t *testing.T) {
		s := runServer(t)
		js := createStreams(t, connect(t, s))
		orders, payments := newIDRecorder(), newIDRecorder()
		sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "audit"})
		require.NoError(t, sub.Subscribe(topicOrderCreated, orders.handle), "Subscribe to %s", topicOrderCreated)
		require.NoError(t, sub.Subscribe(topicPayments, payments.handle), "Subscribe to %s with the same Durable", topicPayments)
		o := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-1"})
		p := testEnvelope(t, "payment.processed", 1, PaymentProcessedEvent{PaymentID: "p-1"})
		publishEnvelope(t, js, topicOrderCreated, o, nil)
		publishEnvelope(t, js, topicPayments, p, nil)
		orders.waitFor(t, o.ID)
		payments.waitFor(t, p.ID)
		assert.Equal(t, []string{o.ID}, orders.seen(), "the %s handler must get the events of its topic only (one consumer per service and topic)", topicOrderCreated)
		assert.Equal(t, []string{p.ID}, payments.seen(), "the %s handler must get the events of its topic only (one consumer per service and topic)", topicPayments)
	})

	t.Run("a handler slower than AckWait gets its message again", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		release := make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		var calls atomic.Int32
		again := make(chan struct{})
		sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "slow", AckWait: 300 * time.Millisecond, RetryDelay: time.Minute})
		t.Cleanup(releaseOnce) // runs before the subscriber closes: never leave the handler blocked
		require.NoError(t, sub.Subscribe(topicOrderCreated, func(context.Context, []byte) error {
			switch calls.Add(1) {
			case 1:
				<-release // a handler still busy when AckWait runs out
			case 2:
				close(again)
			}
			return nil
		}), "Subscribe")
		publishEnvelope(t, js, topicOrderCreated, testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-slow"}), nil)

		// The broker redelivers once AckWait has passed: a consumer of the stream reports it.
		var state []string
		redelivered := func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			stream, err := js.Stream(ctx, eventsStream)
			if err != nil {
				return false
			}
			state = state[:0]
			found := false
			lister := stream.ListConsumers(ctx)
			for info := range lister.Info() {
				state = append(state, fmt.Sprintf("%s: %d redelivered, AckWait %v", info.Name, info.NumRedelivered, info.Config.AckWait))
				found = found || info.NumRedelivered > 0
			}
			return found
		}
		if !assert.Eventually(t, redelivered, waitTimeout, 10*time.Millisecond) {
			t.Fatalf("the handler has held the message for %v with AckWait 300ms, and the broker has not redelivered it: is the consumer's AckWait the configured one? consumers: %v", waitTimeout, state)
		}
		releaseOnce()
		receive(t, again, "the redelivered message to reach the handler")
	})

	t.Run("Close gives up when its context ends, and cancels the handlers' context", func(t *testing.T) {
		s := runServer(t)
		js := createStreams(t, connect(t, s))
		started := make(chan struct{})
		release := make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		cancelled := make(chan struct{})
		sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "stuck"})
		t.Cleanup(releaseOnce)
		require.NoError(t, sub.Subscribe(topicOrderCreated, func(ctx context.Context, _ []byte) error {
			close(started)
			select {
			case <-ctx.Done():
				close(cancelled)
			case <-release:
			}
			return ctx.Err()
		}), "Subscribe")
		publishEnvelope(t, js, topicOrderCreated, testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-stuck"}), nil)
		receive(t, started, "the handler to start")

		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		closed := make(chan error, 1)
		go func() { closed <- sub.Close(ctx) }()
		select {
		case err := <-closed:
			assert.ErrorIs(t, err, context.DeadlineExceeded,
				"Close must wait for the running handler and, when its context ends first, return the context's error")
		case <-time.After(waitTimeout):
			t.Fatalf("Close had not returned %v after its context ended: it must stop waiting when its context is done", waitTimeout)
		}
		receive(t, cancelled, "the handler's context to be cancelled once Close gave up")
	})

	t.Run("Close lets the running handler finish before it cancels its context", func(t *testing.T) {
		s := runServer(t)
		js := createStreams(t, connect(t, s))
		started := make(chan struct{})
		release := make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		handlerErr := make(chan error, 1)
		sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "drain"})
		t.Cleanup(releaseOnce)
		require.NoError(t, sub.Subscribe(topicOrderCreated, func(ctx context.Context, _ []byte) error {
			close(started)
			<-release
			handlerErr <- ctx.Err()
			return nil
		}), "Subscribe")
		publishEnvelope(t, js, topicOrderCreated, testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-drain"}), nil)
		receive(t, started, "the handler to start")

		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		closed := make(chan error, 1)
		go func() { closed <- sub.Close(ctx) }()
		releaseOnce()
		assert.NoError(t, receive(t, handlerErr, "the handler to finish"),
			"the context of a handler that was running when Close was called must stay alive until it returns")
		assert.NoError(t, receive(t, closed, "Close to return"), "Close, once the running handler has finished")
	})

	t.Run("a consumer error reaches OnError", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		reported := make(chan error, 100)
		sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "audit", OnError: func(err error) {
			select {
			case reported <- err:
			default:
			}
		}})
		require.NoError(t, sub.Subscribe(topicOrderCreated, func(context.Context, []byte) error { return nil }), "Subscribe")
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stream, err := js.Stream(ctx, eventsStream)
		require.NoError(t, err)
		var deleted []string
		for name := range stream.ListConsumers(ctx).Info() {
			require.NoError(t, stream.DeleteConsumer(ctx, name.Name), "delete consumer %s under the subscriber", name.Name)
			deleted = append(deleted, name.Name)
		}
		require.NotEmpty(t, deleted, "precondition: Subscribe must have created a consumer on the %s stream", eventsStream)
		err = receive(t, reported, fmt.Sprintf("OnError to report that the consumer (%v) was deleted under the subscriber", deleted))
		assert.Error(t, err)
	})

	// The services of the exercise, as subscribers: each event applied once, redeliveries included.
	t.Run("services integrated through events", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		createStreams(t, nc)
		pub, err := NewNATSEventPublisher(nc)
		require.NoError(t, err, "NewNATSEventPublisher")

		notifications := NewNotificationService()
		inventory := NewInventoryService()
		require.NotNil(t, notifications)
		require.NotNil(t, inventory)
		require.NoError(t, newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "notification"}).
			Subscribe(topicUserCreated, notifications.HandleUserCreated), "Subscribe the notification service")
		require.NoError(t, newSubscriber(t, connect(t, s), SubscriberConfig{Durable: "inventory"}).
			Subscribe(topicOrderCreated, inventory.HandleOrderCreated), "Subscribe the inventory service")

		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		created := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

		t.Run("user created sends a welcome message", func(t *testing.T) {
			require.NoError(t, pub.Publish(ctx, topicUserCreated, UserCreatedEvent{UserID: "u-7", Email: "eva@example.com", Name: "Eva", CreatedAt: created}))
			ok := assert.Eventually(t, func() bool { return len(notifications.Sent()) == 1 }, waitTimeout, 5*time.Millisecond)
			require.True(t, ok, "publishing UserCreatedEvent must make the notification service send one welcome message; sent: %+v", notifications.Sent())
			n := notifications.Sent()[0]
			assert.Equal(t, "u-7", n.UserID)
			assert.Equal(t, "eva@example.com", n.To)
			assert.Contains(t, n.Body, "Eva")
		})

		t.Run("order created reserves stock", func(t *testing.T) {
			require.NoError(t, pub.Publish(ctx, topicOrderCreated, OrderCreatedEvent{OrderID: "o-7", UserID: "u-7", Total: 42.5, CreatedAt: created}))
			ok := assert.Eventually(t, func() bool { return len(inventory.Reservations()) == 1 }, waitTimeout, 5*time.Millisecond)
			require.True(t, ok, "publishing OrderCreatedEvent must make the inventory service reserve stock once; reservations: %+v", inventory.Reservations())
			assert.Equal(t, Reservation{OrderID: "o-7", UserID: "u-7", Total: 42.5}, inventory.Reservations()[0])
		})

		t.Run("a redelivered event is applied once", func(t *testing.T) {
			// The same envelope stored twice, as a redelivery after a lost acknowledgement would
			// look to the handler; the order behind it tells when both have been handled.
			again := testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-8", UserID: "u-8", Total: 1})
			data, err := json.Marshal(again)
			require.NoError(t, err)
			require.NoError(t, nc.Publish(topicOrderCreated, data))
			require.NoError(t, nc.Publish(topicOrderCreated, data))
			require.NoError(t, pub.Publish(ctx, topicOrderCreated, OrderCreatedEvent{OrderID: "o-9", UserID: "u-9", Total: 2}))
			ok := assert.Eventually(t, func() bool {
				r := inventory.Reservations()
				return len(r) > 0 && r[len(r)-1].OrderID == "o-9"
			}, waitTimeout, 5*time.Millisecond)
			require.True(t, ok, "the order published last was not reserved; reservations: %+v", inventory.Reservations())
			var o8 int
			for _, r := range inventory.Reservations() {
				if r.OrderID == "o-8" {
					o8++
				}
			}
			assert.Equal(t, 1, o8, "an event delivered twice must reserve stock once; reservations: %+v", inventory.Reservations())
		})

		t.Run("Sent and Reservations return copies", func(t *testing.T) {
			ns, inv := NewNotificationService(), NewInventoryService()
			user, err := json.Marshal(testEnvelope(t, "user.created", 2, UserCreatedEvent{UserID: "u-11", Email: "y@example.com", Name: "Y"}))
			require.NoError(t, err)
			order, err := json.Marshal(testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-11"}))
			require.NoError(t, err)
			require.NoError(t, ns.HandleUserCreated(context.Background(), user))
			require.NoError(t, inv.HandleOrderCreated(context.Background(), order))
			sent, reserved := ns.Sent(), inv.Reservations()
			require.Len(t, sent, 1)
			require.Len(t, reserved, 1)
			sent[0].Body = "changed by a reader"
			reserved[0].OrderID = "changed by a reader"
			assert.NotEqual(t, "changed by a reader", ns.Sent()[0].Body, "changing what Sent returned must not change the service's record")
			assert.NotEqual(t, "changed by a reader", inv.Reservations()[0].OrderID, "changing what Reservations returned must not change the service's record")
		})

		t.Run("the event id decides, and every applied id is remembered", func(t *testing.T) {
			inv := NewInventoryService()
			a, err := json.Marshal(testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-12", Total: 1}))
			require.NoError(t, err)
			b, err := json.Marshal(testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-12", Total: 2}))
			require.NoError(t, err)
			for _, data := range [][]byte{a, b, a, b} {
				require.NoError(t, inv.HandleOrderCreated(context.Background(), data))
			}
			assert.Len(t, inv.Reservations(), 2,
				"two events (two ids) about one order, each delivered twice, apart: want each applied once, keyed on the event id; reservations: %+v", inv.Reservations())
		})

		t.Run("concurrent redeliveries are applied once", func(t *testing.T) {
			inv := NewInventoryService()
			ns := NewNotificationService()
			order, err := json.Marshal(testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-10"}))
			require.NoError(t, err)
			user, err := json.Marshal(testEnvelope(t, "user.created", 2, UserCreatedEvent{UserID: "u-10", Email: "x@example.com", Name: "X"}))
			require.NoError(t, err)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					assert.NoError(t, inv.HandleOrderCreated(context.Background(), order))
					assert.NoError(t, ns.HandleUserCreated(context.Background(), user))
				})
			}
			wg.Wait()
			assert.Len(t, inv.Reservations(), 1, "one order event handled 8 times at once must reserve stock once")
			assert.Len(t, ns.Sent(), 1, "one user event handled 8 times at once must send one welcome message")
		})
	})
}

// waitAllAcked waits until every consumer of the events stream has had all its messages
// delivered and acknowledged.
func waitAllAcked(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	var state []string
	done := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stream, err := js.Stream(ctx, eventsStream)
		if err != nil {
			return false
		}
		state = state[:0]
		idle := true
		lister := stream.ListConsumers(ctx)
		for info := range lister.Info() {
			state = append(state, fmt.Sprintf("%s: %d pending, %d unacknowledged", info.Name, info.NumPending, info.NumAckPending))
			idle = idle && info.NumPending == 0 && info.NumAckPending == 0
		}
		return lister.Err() == nil && len(state) > 0 && idle
	}
	if !assert.Eventually(t, done, waitTimeout, 10*time.Millisecond) {
		t.Fatalf("the consumers of %s did not get through their messages within %v: %v", eventsStream, waitTimeout, state)
	}
}

// deadLetters subscribes to the dead-letter subject of topic.
func deadLetters(t *testing.T, nc *nats.Conn, subject string) chan *nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 100)
	sub, err := nc.ChanSubscribe(subject, ch)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())
	return ch
}

func TestDeadLetterQueue(t *testing.T) {
	t.Run("bounded retries, then a dead letter with the reason and the original headers", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		dlq := deadLetters(t, nc, deadLetterPrefix+topicPayments)

		const (
			maxDeliver = 3
			retryDelay = 1500 * time.Millisecond // ample, so that a loaded machine still handles the 3 events first
		)
		poison := testEnvelope(t, "payment.processed", 1, PaymentProcessedEvent{PaymentID: "p-poison"})
		var mu sync.Mutex
		attempts := 0
		var firstAttempt time.Time
		retriedAfter := time.Duration(-1) // from the first delivery of the failing message to the second
		goodDone := 0
		goodAtSecondAttempt := -1
		allGood := make(chan struct{})
		sub := newSubscriber(t, nc, SubscriberConfig{Durable: "payments", MaxDeliver: maxDeliver, RetryDelay: retryDelay})
		require.NoError(t, sub.Subscribe(topicPayments, func(_ context.Context, data []byte) error {
			mu.Lock()
			defer mu.Unlock()
			if envelopeID(data) == poison.ID {
				attempts++
				switch attempts {
				case 1:
					firstAttempt = time.Now()
				case 2:
					retriedAfter = time.Since(firstAttempt)
					goodAtSecondAttempt = goodDone
				}
				return errors.New("payment gateway rejected the card")
			}
			goodDone++
			if goodDone == 3 {
				close(allGood)
			}
			return nil
		}), "Subscribe")

		publishEnvelope(t, js, topicPayments, poison, map[string]string{"Trace-Id": "trace-42"})
		for i := range 3 {
			publishEnvelope(t, js, topicPayments, testEnvelope(t, "payment.processed", 1, PaymentProcessedEvent{PaymentID: fmt.Sprint("p-", i)}), nil)
		}

		receive(t, allGood, "the 3 events behind the failing one to be handled")
		dl := receive(t, dlq, "a dead letter on "+deadLetterPrefix+topicPayments)

		mu.Lock()
		assert.Equal(t, maxDeliver, attempts, "the failing handler must get the message MaxDeliver (%d) times before it is dead-lettered", maxDeliver)
		if assert.GreaterOrEqual(t, retriedAfter, retryDelay*9/10,
			"the failing message came back %v after its first delivery; RetryDelay is %v: is the retry delayed by RetryDelay (NakWithDelay)?", retriedAfter, retryDelay) {
			assert.Equal(t, 3, goodAtSecondAttempt,
				"when the failing message came back (%v after its first delivery), %d of the 3 events behind it had been handled: a message waiting for its retry must not hold back the ones behind it (is more than one message allowed unacknowledged at once, MaxAckPending above 1?)",
				retriedAfter.Round(time.Millisecond), goodAtSecondAttempt)
		}
		mu.Unlock()

		assert.Equal(t, poison.ID, envelopeID(dl.Data), "the dead letter must carry the original message; got %s", dl.Data)
		assert.Contains(t, dl.Header.Get(HeaderDeadLetterReason), "payment gateway rejected the card",
			"the %s header must say why the message failed: the text of the handler's error", HeaderDeadLetterReason)
		assert.Equal(t, topicPayments, dl.Header.Get(HeaderDeadLetterSubject), "the %s header must name the original subject", HeaderDeadLetterSubject)
		assert.Equal(t, fmt.Sprint(maxDeliver), dl.Header.Get(HeaderDeadLetterDeliveries), "the %s header must be the number of deliveries, in decimal", HeaderDeadLetterDeliveries)
		assert.Equal(t, "trace-42", dl.Header.Get("Trace-Id"), "the dead letter must keep the original message's headers; got %v", dl.Header)
	})

	t.Run("two services failing on one event each get their dead letter", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		dlq := deadLetters(t, nc, deadLetterPrefix+topicPayments)
		for _, service := range []string{"billing", "shipping"} {
			sub := newSubscriber(t, connect(t, s), SubscriberConfig{Durable: service, MaxDeliver: 1})
			require.NoError(t, sub.Subscribe(topicPayments, func(context.Context, []byte) error {
				return fmt.Errorf("%w: %s cannot handle it", ErrPermanent, service)
			}), "Subscribe %s", service)
		}
		publishEnvelope(t, js, topicPayments, testEnvelope(t, "payment.processed", 1, PaymentProcessedEvent{PaymentID: "p-both"}), nil)
		receive(t, dlq, "the first dead letter")
		receive(t, dlq, "the second dead letter")

		subject := deadLetterPrefix + topicPayments
		var stored uint64
		kept := func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			stream, err := js.Stream(ctx, deadLetterStream)
			if err != nil {
				return false
			}
			info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
			if err != nil {
				return false
			}
			stored = info.State.Subjects[subject]
			return stored == 2
		}
		assert.Eventually(t, kept, waitTimeout, 10*time.Millisecond,
			"two services dead-lettered one event: the %s stream must keep both dead letters, it keeps %d; give each dead letter a Nats-Msg-Id of its own (the original's would make the second a duplicate)",
			deadLetterStream, stored)
	})

	t.Run("a permanent failure is dead-lettered at once", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		dlq := deadLetters(t, nc, deadLetterPrefix+topicPayments)
		var attempts atomic.Int32
		sub := newSubscriber(t, nc, SubscriberConfig{Durable: "payments", MaxDeliver: 3, RetryDelay: 10 * time.Millisecond})
		require.NoError(t, sub.Subscribe(topicPayments, func(context.Context, []byte) error {
			attempts.Add(1)
			return fmt.Errorf("%w: card number has 3 digits", ErrPermanent)
		}), "Subscribe")
		publishEnvelope(t, js, topicPayments, testEnvelope(t, "payment.processed", 1, PaymentProcessedEvent{PaymentID: "p-bad"}), nil)
		dl := receive(t, dlq, "a dead letter for an error wrapping ErrPermanent")
		assert.Equal(t, "1", dl.Header.Get(HeaderDeadLetterDeliveries), "an error wrapping ErrPermanent must not be retried")
		assert.Contains(t, dl.Header.Get(HeaderDeadLetterReason), "card number has 3 digits")
		assert.EqualValues(t, 1, attempts.Load(), "the handler must be called once for a permanent failure")
	})

	t.Run("a failed dead-letter publish is reported and retried, not lost", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		const prefix = "parked." // no stream stores parked.> yet: dead-lettering fails
		reported := make(chan error, 1000)
		sub := newSubscriber(t, nc, SubscriberConfig{
			Durable: "payments", MaxDeliver: 2, RetryDelay: 20 * time.Millisecond, DeadLetterPrefix: prefix,
			OnError: func(err error) {
				select {
				case reported <- err:
				default:
				}
			},
		})
		require.NoError(t, sub.Subscribe(topicPayments, func(context.Context, []byte) error {
			return errors.New("always fails")
		}), "Subscribe")
		poison := testEnvelope(t, "payment.processed", 1, PaymentProcessedEvent{PaymentID: "p-parked"})
		publishEnvelope(t, js, topicPayments, poison, nil)

		deadline := time.After(waitTimeout)
		var seen []error
	wait:
		for {
			select {
			case err := <-reported:
				seen = append(seen, err)
				if errors.Is(err, ErrDeadLetter) {
					break wait
				}
			case <-deadline:
				t.Fatalf("a dead-letter publish that fails must be reported to OnError with an error wrapping ErrDeadLetter; reported within %v: %v", waitTimeout, seen)
			}
		}

		// Now the dead letters have a home: the message must still be there to be parked.
		parked := deadLetters(t, nc, prefix+topicPayments)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "PARKED", Subjects: []string{prefix + ">"}})
		require.NoError(t, err)
		select {
		case dl := <-parked:
			assert.Equal(t, poison.ID, envelopeID(dl.Data), "the dead letter must carry the original message")
		case <-time.After(waitTimeout):
			t.Fatalf("after a failed dead-letter publish the message must stay unacknowledged and be dead-lettered on a later delivery; nothing reached %s within %v",
				prefix+topicPayments, waitTimeout)
		}
	})
}

func TestEventVersioning(t *testing.T) {
	v1 := map[string]any{"user_id": "u-1", "email": "ana@example.com", "created_at": "2024-01-02T03:04:05Z"}
	v2 := UserCreatedEvent{UserID: "u-2", Email: "bob@example.com", Name: "Bob", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	v99 := map[string]any{"user_id": "u-99", "contact": map[string]string{"email": "zoe@example.com"}}

	t.Run("handler", func(t *testing.T) {
		svc := NewNotificationService()
		require.NotNil(t, svc)
		for _, tt := range []struct {
			name    string
			version int
			data    any
		}{{"v1", 1, v1}, {"v2", 2, v2}} {
			data, err := json.Marshal(testEnvelope(t, "user.created", tt.version, tt.data))
			require.NoError(t, err)
			assert.NoError(t, svc.HandleUserCreated(context.Background(), data), "a %s user.created event must be understood", tt.name)
		}
		data, err := json.Marshal(testEnvelope(t, "user.created", 99, v99))
		require.NoError(t, err)
		err = svc.HandleUserCreated(context.Background(), data)
		assert.ErrorIs(t, err, ErrUnknownVersion, "version 99 of user.created must fail with ErrUnknownVersion")

		sent := svc.Sent()
		require.Len(t, sent, 2, "the v1 and v2 events must each send a welcome message; sent: %+v", sent)
		assert.Equal(t, "u-1", sent[0].UserID)
		assert.Equal(t, "ana@example.com", sent[0].To)
		assert.Contains(t, sent[0].Body, "ana", "a v1 event has no name: the upcaster takes it from the email address")
		assert.Equal(t, "bob@example.com", sent[1].To)
		assert.Contains(t, sent[1].Body, "Bob", "a v2 event's name must be in the welcome message")
	})

	t.Run("version 1 takes its name from the email address", func(t *testing.T) {
		data, err := json.Marshal(testEnvelope(t, "user.created", 1, v1))
		require.NoError(t, err)
		_, event, err := Decode[UserCreatedEvent](NewUpcasters().Register("user.created", 1, UpcastUserCreatedV1), data)
		require.NoError(t, err, "Decode a version 1 user.created with UpcastUserCreatedV1 registered")
		assert.Equal(t, "ana", event.Name, "the name of ana@example.com is the part before the @")
		assert.Equal(t, "ana@example.com", event.Email)
		assert.Equal(t, "u-1", event.UserID)
	})

	t.Run("Decode rejects what is not an envelope of its event type", func(t *testing.T) {
		wrongType, err := json.Marshal(testEnvelope(t, "order.created", 1, OrderCreatedEvent{OrderID: "o-1"}))
		require.NoError(t, err)
		noID, err := json.Marshal(Envelope{Type: "user.created", Version: 2, Data: json.RawMessage(`{"user_id":"u-1"}`)})
		require.NoError(t, err)
		for _, tt := range []struct {
			name string
			data []byte
		}{
			{"not JSON", []byte(`{"id": "e-1", "type": `)},
			{"another event type", wrongType},
			{"an envelope without an id", noID},
		} {
			_, _, err := Decode[UserCreatedEvent](nil, tt.data)
			assert.ErrorIs(t, err, ErrMalformedEvent, "Decode[UserCreatedEvent] of %s", tt.name)
			assert.ErrorIs(t, err, ErrPermanent, "Decode[UserCreatedEvent] of %s: ErrMalformedEvent wraps ErrPermanent", tt.name)
		}
	})

	t.Run("upcasters go one registered step at a time, per event type", func(t *testing.T) {
		data, err := json.Marshal(v1)
		require.NoError(t, err)
		upcasters := NewUpcasters().Register("user.created", 1, UpcastUserCreatedV1)
		_, err = upcasters.Upcast("user.created", 1, 2, data)
		require.NoError(t, err, "user.created from 1 to 2, with its upcaster registered")
		_, err = upcasters.Upcast("user.created", 1, 3, data)
		assert.ErrorIs(t, err, ErrUnknownVersion, "user.created from 1 to 3 with no upcaster from 2 to 3: a missing step")
		_, err = upcasters.Upcast("order.created", 1, 2, data)
		assert.ErrorIs(t, err, ErrUnknownVersion, "order.created from 1 to 2 when only user.created has an upcaster: upcasters belong to one event type")
	})

	t.Run("through the broker", func(t *testing.T) {
		s := runServer(t)
		nc := connect(t, s)
		js := createStreams(t, nc)
		dlq := deadLetters(t, nc, deadLetterPrefix+topicUserCreated)
		svc := NewNotificationService()
		sub := newSubscriber(t, nc, SubscriberConfig{Durable: "notification", MaxDeliver: 3, RetryDelay: 10 * time.Millisecond})
		require.NoError(t, sub.Subscribe(topicUserCreated, svc.HandleUserCreated), "Subscribe")

		future := testEnvelope(t, "user.created", 99, v99)
		publishEnvelope(t, js, topicUserCreated, testEnvelope(t, "user.created", 1, v1), nil)
		publishEnvelope(t, js, topicUserCreated, future, nil)
		publishEnvelope(t, js, topicUserCreated, testEnvelope(t, "user.created", 2, v2), nil)

		dl := receive(t, dlq, "version 99 of user.created to be dead-lettered")
		assert.Equal(t, future.ID, envelopeID(dl.Data))
		assert.Contains(t, dl.Header.Get(HeaderDeadLetterReason), "unknown event version",
			"the reason must say the version is unknown (wrap ErrUnknownVersion)")
		assert.Equal(t, "1", dl.Header.Get(HeaderDeadLetterDeliveries), "an unknown version must be dead-lettered at once, not retried")

		ok := assert.Eventually(t, func() bool { return len(svc.Sent()) == 2 }, waitTimeout, 5*time.Millisecond)
		require.True(t, ok, "the v1 and v2 events must both send a welcome message; sent: %+v", svc.Sent())
	})
}
