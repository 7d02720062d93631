package discovery

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The contract of ServiceRegistry, run against MemoryRegistry (TestMockRegistry) and against a
// real Consul agent (TestConsulAgent).

// contractInterval is the check interval of the instances the contract registers.
const contractInterval = time.Second

// registryHarness is a registry under test and the way to let it catch up with a change.
type registryHarness struct {
	registry ServiceRegistry
	// await lets the registry run its health checks until Discover(serviceName) satisfies cond,
	// and returns that answer; it fails the test, saying what was awaited, when that never
	// happens.
	await func(t *testing.T, serviceName string, cond func([]ServiceInfo) bool, what string) []ServiceInfo
	// name returns a service name unused by the other subtests (they may share one agent).
	name func(t *testing.T, base string) string
}

// runRegistryContract runs the ServiceRegistry contract against the registries newHarness
// returns, one per subtest.
func runRegistryContract(t *testing.T, newHarness func(t *testing.T) registryHarness) {
	ctx := context.Background()
	has := func(want ...string) func([]ServiceInfo) bool {
		return func(got []ServiceInfo) bool { return strings.Join(ids(got), ",") == strings.Join(want, ",") }
	}

	t.Run("registered instances are discovered", func(t *testing.T) {
		h := newHarness(t)
		orders, payments := h.name(t, "orders"), h.name(t, "payments")
		a := newBackend(t).instance(t, orders+"-a", orders, contractInterval, "v1", "eu")
		b := newBackend(t).instance(t, orders+"-b", orders, contractInterval, "v2")
		p := newBackend(t).instance(t, payments+"-a", payments, contractInterval)
		for _, s := range []ServiceInfo{a, b, p} {
			require.NoError(t, h.registry.Register(ctx, s), "Register(%s)", s.ID)
		}
		got := h.await(t, orders, has(a.ID, b.ID), "both healthy instances of "+orders)
		assert.Equal(t, endpoints([]ServiceInfo{a, b}), endpoints(got),
			"Discover must give back the ID, name, address, port and tags that were registered")
		got = h.await(t, payments, has(p.ID), "the one instance of "+payments)
		assert.Equal(t, endpoints([]ServiceInfo{p}), endpoints(got), "Discover returns only the named service")
	})

	t.Run("an unknown service has no instances", func(t *testing.T) {
		h := newHarness(t)
		got, err := h.registry.Discover(ctx, h.name(t, "nobody"))
		require.NoError(t, err, "Discover of an unknown service is not an error")
		assert.Empty(t, got, "Discover of an unknown service returns no instance")
	})

	t.Run("an instance without a check is healthy", func(t *testing.T) {
		h := newHarness(t)
		name := h.name(t, "nocheck")
		s := ServiceInfo{ID: name + "-1", Name: name, Address: "127.0.0.1", Port: 9, Tags: []string{"static"}}
		require.NoError(t, h.registry.Register(ctx, s))
		got := h.await(t, name, has(s.ID), "the instance registered without a health check")
		assert.Equal(t, endpoints([]ServiceInfo{s}), endpoints(got))
	})

	t.Run("a deregistered instance is no longer discovered", func(t *testing.T) {
		h := newHarness(t)
		name := h.name(t, "inventory")
		a := newBackend(t).instance(t, name+"-a", name, contractInterval)
		b := newBackend(t).instance(t, name+"-b", name, contractInterval)
		require.NoError(t, h.registry.Register(ctx, a))
		require.NoError(t, h.registry.Register(ctx, b))
		h.await(t, name, has(a.ID, b.ID), "both instances before the deregistration")
		require.NoError(t, h.registry.Deregister(ctx, a.ID), "Deregister(%s)", a.ID)
		h.await(t, name, has(b.ID), "only "+b.ID+" after deregistering "+a.ID)
	})

	t.Run("registering an ID again replaces the instance", func(t *testing.T) {
		h := newHarness(t)
		name := h.name(t, "catalog")
		first := newBackend(t).instance(t, name+"-1", name, contractInterval, "v1")
		second := newBackend(t).instance(t, name+"-1", name, contractInterval, "v2")
		require.NoError(t, h.registry.Register(ctx, first))
		h.await(t, name, has(first.ID), "the first registration")
		require.NoError(t, h.registry.Register(ctx, second))
		got := h.await(t, name, func(got []ServiceInfo) bool {
			return len(got) == 1 && got[0].Port == second.Port
		}, "one instance, at the port of the second registration")
		assert.Equal(t, endpoints([]ServiceInfo{second}), endpoints(got), "the second registration replaces the first")
	})

	t.Run("an instance failing its check drops out and comes back when it recovers", func(t *testing.T) {
		h := newHarness(t)
		name := h.name(t, "shipping")
		flaky, steady := newBackend(t), newBackend(t)
		a := flaky.instance(t, name+"-a", name, contractInterval)
		b := steady.instance(t, name+"-b", name, contractInterval)
		require.NoError(t, h.registry.Register(ctx, a))
		require.NoError(t, h.registry.Register(ctx, b))
		h.await(t, name, has(a.ID, b.ID), "both instances while both checks pass")
		flaky.setHealthy(false)
		h.await(t, name, has(b.ID), "only "+b.ID+" once the check of "+a.ID+" fails")
		flaky.setHealthy(true)
		h.await(t, name, has(a.ID, b.ID), a.ID+" back once its check passes again")
	})

	t.Run("invalid registrations are rejected", func(t *testing.T) {
		h := newHarness(t)
		name := h.name(t, "invalid")
		valid := ServiceInfo{ID: name + "-1", Name: name, Address: "127.0.0.1", Port: 8080}
		tests := []struct {
			name   string
			mutate func(*ServiceInfo)
		}{
			{"empty ID", func(s *ServiceInfo) { s.ID = "" }},
			{"empty name", func(s *ServiceInfo) { s.Name = "" }},
			{"empty address", func(s *ServiceInfo) { s.Address = "" }},
			{"port 0", func(s *ServiceInfo) { s.Port = 0 }},
			{"port above 65535", func(s *ServiceInfo) { s.Port = 70000 }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := valid
				tt.mutate(&s)
				err := h.registry.Register(ctx, s)
				assert.ErrorIs(t, err, ErrInvalidService, "Register(%+v) must fail with ErrInvalidService", s)
			})
		}
	})

	t.Run("a cancelled context is honoured", func(t *testing.T) {
		h := newHarness(t)
		name := h.name(t, "cancelled")
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		s := ServiceInfo{ID: name + "-1", Name: name, Address: "127.0.0.1", Port: 8080}
		assert.ErrorIs(t, h.registry.Register(cancelled, s), context.Canceled, "Register with a cancelled context")
		_, err := h.registry.Discover(cancelled, name)
		assert.ErrorIs(t, err, context.Canceled, "Discover with a cancelled context")
		assert.ErrorIs(t, h.registry.Deregister(cancelled, s.ID), context.Canceled, "Deregister with a cancelled context")
	})
}

// memoryHarness returns a harness over a new MemoryRegistry on a fake clock: await moves the
// clock by one check interval, runs the due checks once and then looks.
func memoryHarness(t *testing.T) registryHarness {
	r, clock := newMemoryRegistry(t)
	return registryHarness{
		registry: r,
		await: func(t *testing.T, name string, cond func([]ServiceInfo) bool, what string) []ServiceInfo {
			t.Helper()
			clock.Advance(contractInterval)
			r.Tick(context.Background())
			got, err := r.Discover(context.Background(), name)
			require.NoError(t, err, "Discover(%s)", name)
			require.True(t, cond(got), "after one check interval and Tick, want %s; Discover(%s) = %v", what, name, endpoints(got))
			return got
		},
		name: func(_ *testing.T, base string) string { return base },
	}
}

// startConsulAgent starts a Consul agent for the test, or skips the test when no consul binary
// is installed.
func startConsulAgent(t *testing.T) *testutil.TestServer {
	t.Helper()
	if _, err := exec.LookPath("consul"); err != nil {
		t.Skipf("consul binary not on PATH: %v (install Consul to run this test, see README.md)", err)
	}
	srv, err := testutil.NewTestServerConfigT(t, func(c *testutil.TestServerConfig) {
		c.LogLevel = "warn"
	})
	require.NoError(t, err, "starting a consul agent")
	t.Cleanup(func() { _ = srv.Stop() })
	srv.WaitForSerfCheck(t)
	return srv
}

// consulHarness returns harnesses over a ConsulServiceRegistry connected to agent: await asks
// the agent again until the condition holds, for at most 30 seconds.
func consulHarness(agent *testutil.TestServer) func(t *testing.T) registryHarness {
	var seq atomic.Int64
	return func(t *testing.T) registryHarness {
		r, err := NewConsulServiceRegistry(&consul.Config{Address: agent.HTTPAddr})
		require.NoError(t, err, "NewConsulServiceRegistry")
		return registryHarness{
			registry: r,
			await: func(t *testing.T, name string, cond func([]ServiceInfo) bool, what string) []ServiceInfo {
				t.Helper()
				deadline := time.NewTimer(30 * time.Second)
				defer deadline.Stop()
				poll := time.NewTicker(100 * time.Millisecond)
				defer poll.Stop()
				for {
					got, err := r.Discover(context.Background(), name)
					if err == nil && cond(got) {
						return got
					}
					select {
					case <-deadline.C:
						require.NoError(t, err, "Discover(%s)", name)
						require.Failf(t, "timed out", "want %s within 30s; Discover(%s) = %v", what, name, endpoints(got))
					case <-poll.C:
					}
				}
			},
			name: func(_ *testing.T, base string) string {
				return fmt.Sprintf("%s-%d", base, seq.Add(1))
			},
		}
	}
}
