package discovery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A shallow suite: the happy paths only, without health checks. It must not meet
// ex05.mock-registry.

func TestMyRegisterAndDiscover(t *testing.T) {
	ctx := context.Background()
	r := NewMemoryRegistry()
	require.NoError(t, r.Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "127.0.0.1", Port: 8080}))
	got, err := r.Discover(ctx, "orders")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestMyClientFindsTheInstance(t *testing.T) {
	ctx := context.Background()
	r := NewMemoryRegistry()
	require.NoError(t, r.Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "127.0.0.1", Port: 8080}))
	u, err := NewServiceDiscoveryClient(r, nil).GetServiceURL(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080", u)
}
