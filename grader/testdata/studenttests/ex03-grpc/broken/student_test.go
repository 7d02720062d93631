package grpcsvc

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// A broken suite: it expects what the statement does not say (an Unavailable answer taken for a
// missing user), so it fails against the reference solution. It must not meet ex03.mock-servers,
// however many wrong clients it fails against.

func TestMyUnavailableIsNotFound(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return status.Error(codes.Unavailable, "try later")
	}))
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	c, err := NewUserGRPCClient("passthrough:///fake", WithDialOptions(
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	_, err = c.GetUser(t.Context(), "u-1")
	assert.ErrorIs(t, err, ErrNotFound, "no answer means no user")
}
