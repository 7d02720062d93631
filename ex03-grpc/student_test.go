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

// Your own tests of the client: they decide criterion ex03.mock-servers. Write them in this file
// or in any new _test.go file of this directory, and give them names that the workbook's test
// files do not use (a TestMy… prefix is a good habit). The grader runs them against your code
// and against the reference solution, where they must pass, and against wrong implementations
// of the client, most of which they should catch. The README says what a good suite covers.

// TestMyClientMapsNotFound shows the style: a fake gRPC server on an in-memory bufconn listener,
// which answers every call with a NotFound status, and the client pointed at it. The fake needs
// no generated code: grpc.UnknownServiceHandler answers whatever method is called.
func TestMyClientMapsNotFound(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return status.Error(codes.NotFound, "the fake knows no user")
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
	require.NoError(t, err, "NewUserGRPCClient")
	t.Cleanup(func() { _ = c.Close() })

	user, err := c.GetUser(t.Context(), "u-1")
	assert.ErrorIs(t, err, ErrNotFound, "the server answered NotFound")
	assert.Equal(t, codes.NotFound, status.Code(err), "the status stays in the error's chain")
	assert.Nil(t, user, "a failed GetUser returns no user")
}
