package discovery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick checks to run while you work. The graded criteria are in criteria_test.go.

func TestServiceInfoURL(t *testing.T) {
	tests := []struct {
		name string
		info ServiceInfo
		want string
	}{
		{"IPv4", ServiceInfo{Address: "10.0.0.7", Port: 8080}, "http://10.0.0.7:8080"},
		{"host name", ServiceInfo{Address: "orders.internal", Port: 80}, "http://orders.internal:80"},
		{"IPv6", ServiceInfo{Address: "::1", Port: 9000}, "http://[::1]:9000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.info.URL())
		})
	}
}

func TestMemoryRegistryRegisterDiscover(t *testing.T) {
	ctx := context.Background()
	r, _ := newMemoryRegistry(t)

	// Instances without a health check are healthy at once.
	for _, s := range staticInstances("users", 2) {
		require.NoError(t, r.Register(ctx, s), "Register(%s)", s.ID)
	}
	got, err := r.Discover(ctx, "users")
	require.NoError(t, err)
	assert.Equal(t, []string{"users-1", "users-2"}, ids(got))

	require.NoError(t, r.Deregister(ctx, "users-1"))
	got, err = r.Discover(ctx, "users")
	require.NoError(t, err)
	assert.Equal(t, []string{"users-2"}, ids(got))
}

func TestGetServiceURL(t *testing.T) {
	ctx := context.Background()
	r, _ := newMemoryRegistry(t)
	for _, s := range staticInstances("users", 2) {
		require.NoError(t, r.Register(ctx, s))
	}
	client := NewServiceDiscoveryClient(r, NewRoundRobin())

	first, err := client.GetServiceURL(ctx, "users")
	require.NoError(t, err)
	second, err := client.GetServiceURL(ctx, "users")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"http://10.0.0.1:8001", "http://10.0.0.2:8002"}, []string{first, second},
		"two calls over two instances reach both")

	_, err = client.GetServiceURL(ctx, "payments")
	assert.ErrorIs(t, err, ErrNoHealthyInstances)
}
