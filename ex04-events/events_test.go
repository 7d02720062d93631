package events

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick checks to run while you work. The graded criteria are in criteria_test.go.

func TestNewEnvelope(t *testing.T) {
	event := OrderCreatedEvent{OrderID: "o-1", UserID: "u-1", Total: 10, CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	env, err := NewEnvelope(event)
	require.NoError(t, err)
	assert.NotEmpty(t, env.ID, "an envelope needs an id")
	assert.Equal(t, "order.created", env.Type)
	assert.Equal(t, 1, env.Version)
	assert.False(t, env.Time.IsZero(), "an envelope needs a time")
	assert.JSONEq(t, `{"order_id":"o-1","user_id":"u-1","total":10,"created_at":"2024-01-01T00:00:00Z"}`, string(env.Data))

	other, err := NewEnvelope(event)
	require.NoError(t, err)
	assert.NotEqual(t, env.ID, other.ID, "every envelope gets its own id")
}

func TestDecodeUpcastsV1(t *testing.T) {
	upcasters := NewUpcasters().Register("user.created", 1, UpcastUserCreatedV1)
	data, err := json.Marshal(Envelope{
		ID: "e-1", Type: "user.created", Version: 1,
		Data: json.RawMessage(`{"user_id":"u-1","email":"ana@example.com","created_at":"2024-01-01T00:00:00Z"}`),
	})
	require.NoError(t, err)

	env, event, err := Decode[UserCreatedEvent](upcasters, data)
	require.NoError(t, err)
	assert.Equal(t, "e-1", env.ID)
	assert.Equal(t, "u-1", event.UserID)
	assert.Equal(t, "ana", event.Name, "version 1 has no name: the upcaster takes it from the email address")
}

func TestPublishSubscribe(t *testing.T) {
	s := runServer(t)
	nc := connect(t, s)
	createStreams(t, nc)

	pub, err := NewNATSEventPublisher(nc)
	require.NoError(t, err)
	sub := newSubscriber(t, nc, SubscriberConfig{})
	got := make(chan []byte, 1)
	require.NoError(t, sub.Subscribe("events.payments.processed", func(_ context.Context, data []byte) error {
		got <- data
		return nil
	}))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, pub.Publish(ctx, "events.payments.processed", PaymentProcessedEvent{PaymentID: "p-1", Status: "approved"}))

	_, event, err := Decode[PaymentProcessedEvent](nil, receive(t, got, "the payment event"))
	require.NoError(t, err)
	assert.Equal(t, "p-1", event.PaymentID)
	assert.Equal(t, "approved", event.Status)
}
