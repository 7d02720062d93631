package grpcsvc

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick checks to run while you work. The graded criteria are in criteria_test.go.

func TestUserServiceStore(t *testing.T) {
	// The domain service is given: these checks pass from the start.
	ctx := context.Background()
	svc := NewUserService()
	_, err := svc.CreateUser(ctx, alice)
	require.NoError(t, err)
	_, err = svc.CreateUser(ctx, alice)
	assert.ErrorIs(t, err, ErrAlreadyExists)
	got, err := svc.GetUser(ctx, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, alice, *got)
	require.NoError(t, svc.DeleteUser(ctx, alice.ID))
	_, err = svc.GetUser(ctx, alice.ID)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestUserGRPCClientOverTCP(t *testing.T) {
	// A real server on a loopback port and the client, as two services would use them.
	srv := NewServer(nil, nil)
	Register(srv, NewUserGRPCServer(NewUserService(), nil))
	client, err := NewUserGRPCClient(serveTCP(t, srv))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	ctx := context.Background()
	created, err := client.CreateUser(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, alice, *created)

	user, err := client.GetUser(ctx, alice.ID)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", user.Email)

	_, err = client.GetUser(ctx, "u-nobody")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = client.CreateUser(ctx, User{ID: "u-bad", Email: "no at sign"})
	assert.ErrorIs(t, err, ErrInvalidInput)
}
