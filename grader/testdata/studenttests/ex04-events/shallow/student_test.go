package events

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// A shallow suite: one happy path through the broker. It must not meet ex04.integration.

func TestMyOrderReservesStock(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(5*time.Second))
	t.Cleanup(s.Shutdown)

	ctx := context.Background()
	nc, err := Connect(ctx, s.ClientURL(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.NoError(t, CreateStreams(ctx, nc, StreamConfig{}))
	inventory := NewInventoryService()
	sub, err := NewNATSEventSubscriber(nc, SubscriberConfig{Durable: "inventory", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close(context.Background()) })
	require.NoError(t, sub.Subscribe("events.orders.created", inventory.HandleOrderCreated))
	pub, err := NewNATSEventPublisher(nc)
	require.NoError(t, err)
	require.NoError(t, pub.Publish(ctx, "events.orders.created", OrderCreatedEvent{OrderID: "o-1", Total: 5}))
	require.Eventually(t, func() bool { return len(inventory.Reservations()) == 1 }, 5*time.Second, 10*time.Millisecond)
}
