package grpcsvc

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
)

// A shallow suite: happy paths only, against the exercise's own server and store. It must not
// meet ex03.mock-servers.

func TestMyHappyPaths(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := NewServer(nil, nil)
	Register(srv, NewUserGRPCServer(NewUserService(), nil))
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
	ctx := t.Context()

	_, err = c.CreateUser(ctx, User{ID: "u-1", Email: "one@example.com"})
	require.NoError(t, err)
	u, err := c.GetUser(ctx, "u-1")
	require.NoError(t, err)
	assert.Equal(t, "one@example.com", u.Email)
	require.NoError(t, c.DeleteUser(ctx, "u-1"))
}
