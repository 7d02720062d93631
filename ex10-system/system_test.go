package system

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick tests of the given configuration code. The criteria tests are in criteria_test.go.

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		EnvServices: "order", EnvInstances: "1", EnvHost: "0.0.0.0", EnvPort: "8080",
		EnvAdvertiseHost: "order-1", EnvGatewayAddr: ":8080", EnvNATSURL: "nats://nats:4222",
		EnvConsulAddr: "consul:8500", EnvTraceEndpoint: "http://jaeger:4318/v1/traces", EnvHealthInterval: "2s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := ConfigFromEnv(lookup)
	require.NoError(t, err)
	assert.Equal(t, []string{OrderService}, cfg.Services)
	assert.Equal(t, 1, cfg.Instances[OrderService])
	assert.Equal(t, 8080, cfg.Port)
	assert.Equal(t, "order-1", cfg.AdvertiseHost)
	assert.Equal(t, "nats://nats:4222", cfg.NATSURL)
	assert.Equal(t, "consul:8500", cfg.ConsulAddr)
	assert.Equal(t, 2*time.Second, cfg.HealthInterval)

	for name, bad := range map[string]map[string]string{
		"unknown service": {EnvServices: "warehouse"},
		"port":            {EnvPort: "eighty"},
		"instances":       {EnvInstances: "0"},
		"interval":        {EnvHealthInterval: "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
			assert.True(t, errors.Is(err, ErrInvalidConfig), "want an error wrapping ErrInvalidConfig, got %v", err)
		})
	}
}
