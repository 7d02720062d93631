package discovery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A suite that fails against the reference solution: it expects Discover to return instances
// that were never registered with a valid port. It must not meet ex05.mock-registry.

func TestMyPortZeroIsFine(t *testing.T) {
	ctx := context.Background()
	r := NewMemoryRegistry()
	require.NoError(t, r.Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "127.0.0.1"}),
		"a registration without a port")
	got, err := r.Discover(ctx, "orders")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}
