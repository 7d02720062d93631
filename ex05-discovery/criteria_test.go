package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The criteria tests of exercise 05, one per criterion of criteria.json.

func TestConsulAgent(t *testing.T) {
	agent := startConsulAgent(t)
	runRegistryContract(t, consulHarness(agent))

	t.Run("a service registers itself, is discovered, and deregisters on shutdown", func(t *testing.T) {
		ctx := context.Background()
		registry, err := NewConsulServiceRegistry(&consul.Config{Address: agent.HTTPAddr})
		require.NoError(t, err)
		svc := NewService(registry, ServiceConfig{Name: "greeter", ID: "greeter-1", Tags: []string{"v1"}, CheckInterval: time.Second}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start with a consul registry")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })

		h := consulHarness(agent)(t)
		got := h.await(t, "greeter", func(got []ServiceInfo) bool { return len(got) == 1 }, "the started service, once consul's check passes")
		assert.Equal(t, "greeter-1", got[0].ID)
		assert.Equal(t, svc.Info().Port, got[0].Port, "consul must have the port the service listens on")

		require.NoError(t, svc.Shutdown(ctx), "Shutdown")
		h.await(t, "greeter", func(got []ServiceInfo) bool { return len(got) == 0 }, "no instance after Shutdown")
	})
}

func TestAutoRegistration(t *testing.T) {
	ctx := context.Background()

	t.Run("Start registers the instance with its health check", func(t *testing.T) {
		mem, _ := newMemoryRegistry(t)
		rec := &recordingRegistry{ServiceRegistry: mem}
		hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })
		cfg := ServiceConfig{
			Name: "orders", ID: "orders-1", Tags: []string{"v1", "eu"},
			CheckInterval: 5 * time.Second, CheckTimeout: 500 * time.Millisecond, DeregisterCriticalServiceAfter: 30 * time.Second,
		}
		svc := NewService(rec, cfg, hello, quietLogger())
		require.NotNil(t, svc, "NewService must not return nil")
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })

		registered, _ := rec.calls()
		require.Len(t, registered, 1, "Start must register the instance exactly once")
		got := registered[0]
		assert.Equal(t, "orders-1", got.ID, "registered ID")
		assert.Equal(t, "orders", got.Name, "registered name")
		assert.Equal(t, "127.0.0.1", got.Address, "registered address (the default)")
		require.NotZero(t, got.Port, "the registered port must be the one Start listens on, not 0")
		assert.Equal(t, []string{"v1", "eu"}, got.Tags, "registered tags")
		assert.Equal(t, fmt.Sprintf("http://127.0.0.1:%d/health", got.Port), got.Health.HTTP, "the health check URL")
		assert.Equal(t, 5*time.Second, got.Health.Interval, "the check interval from CheckInterval")
		assert.Equal(t, 500*time.Millisecond, got.Health.Timeout, "the check timeout from CheckTimeout")
		assert.Equal(t, 30*time.Second, got.Health.DeregisterCriticalServiceAfter, "DeregisterCriticalServiceAfter")
		assert.Equal(t, got.ID, svc.Info().ID, "Info returns the registration")
		assert.Equal(t, got.Port, svc.Info().Port, "Info returns the registration")

		status, err := get(ctx, got.Health.HTTP)
		require.NoError(t, err, "the registered health URL must answer")
		assert.Equal(t, http.StatusOK, status, "the health endpoint of a running service")
		status, err = get(ctx, got.URL()+"/hello")
		require.NoError(t, err, "the service must serve its handler at the registered address")
		assert.Equal(t, http.StatusOK, status, "GET /hello")

		mem.Tick(ctx)
		discovered, err := mem.Discover(ctx, "orders")
		require.NoError(t, err)
		assert.Equal(t, endpoints([]ServiceInfo{got}), endpoints(discovered), "after its first check the started service is discovered")
		url, err := NewServiceDiscoveryClient(mem, nil).GetServiceURL(ctx, "orders")
		require.NoError(t, err, "GetServiceURL(orders)")
		assert.Equal(t, got.URL(), url, "the discovery client finds the started service")
	})

	t.Run("defaults", func(t *testing.T) {
		rec := &recordingRegistry{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))}
		svc := NewService(rec, ServiceConfig{Name: "billing"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		registered, _ := rec.calls()
		require.Len(t, registered, 1, "Start must register the instance exactly once")
		got := registered[0]
		assert.NotEmpty(t, got.ID, "an ID is made up when the config has none")
		assert.Equal(t, fmt.Sprintf("http://127.0.0.1:%d/health", got.Port), got.Health.HTTP, "the default health path is /health")
		assert.Equal(t, DefaultCheckInterval, got.Health.Interval, "default check interval")
		assert.Equal(t, DefaultCheckTimeout, got.Health.Timeout, "default check timeout")
		assert.Equal(t, DefaultDeregisterCriticalServiceAfter, got.Health.DeregisterCriticalServiceAfter, "default DeregisterCriticalServiceAfter")
		assert.Equal(t, fmt.Sprintf("billing-127.0.0.1-%d", got.Port), got.ID, "the default ID is Name-Address-Port")
	})

	t.Run("ServiceInfo applies the config and its defaults", func(t *testing.T) {
		got := ServiceConfig{Name: "orders", Address: "10.1.2.3", Port: 8080, Tags: []string{"v1"}, HealthPath: "/ready", CheckTimeout: time.Second}.ServiceInfo()
		assert.Equal(t, "orders-10.1.2.3-8080", got.ID, "the default ID is Name-Address-Port")
		assert.Equal(t, endpoint(ServiceInfo{ID: "orders-10.1.2.3-8080", Name: "orders", Address: "10.1.2.3", Port: 8080, Tags: []string{"v1"}}), endpoint(got),
			"the registration carries the configured name, address, port and tags")
		assert.Equal(t, "http://10.1.2.3:8080/ready", got.Health.HTTP, "the check is on HealthPath at Address and Port")
		assert.Equal(t, DefaultCheckInterval, got.Health.Interval, "default check interval")
		assert.Equal(t, time.Second, got.Health.Timeout, "the check timeout from CheckTimeout")
		assert.Equal(t, DefaultDeregisterCriticalServiceAfter, got.Health.DeregisterCriticalServiceAfter, "default DeregisterCriticalServiceAfter")
	})

	t.Run("Start serves HealthPath", func(t *testing.T) {
		rec := &recordingRegistry{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))}
		svc := NewService(rec, ServiceConfig{Name: "billing", HealthPath: "/ready"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		registered, _ := rec.calls()
		require.Len(t, registered, 1, "Start must register the instance exactly once")
		got := registered[0]
		assert.Equal(t, fmt.Sprintf("http://127.0.0.1:%d/ready", got.Port), got.Health.HTTP, "the check must be on the configured HealthPath")
		status, err := get(ctx, got.URL()+"/ready")
		require.NoError(t, err, "the service must serve its HealthPath")
		assert.Equal(t, http.StatusOK, status, "GET /ready, the configured HealthPath, of a running service")
	})

	t.Run("Start serves before it registers", func(t *testing.T) {
		var atRegister []string
		rec := &recordingRegistry{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))}
		rec.onRegister = func(ctx context.Context, s ServiceInfo) {
			// What the registry's first health check would see now.
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			status, err := get(ctx, s.Health.HTTP)
			atRegister = append(atRegister, fmt.Sprintf("health answered %d, err %v", status, err))
		}
		svc := NewService(rec, ServiceConfig{Name: "orders"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		assert.Equal(t, []string{"health answered 200, err <nil>"}, atRegister,
			"when Start registers the instance it must already be serving, so that the registry's first check finds it up")
	})

	t.Run("Start and RegisterServiceContext pass their context to Register", func(t *testing.T) {
		type key struct{}
		ctx := context.WithValue(ctx, key{}, "caller's context")
		var seen []any
		rec := &recordingRegistry{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))}
		rec.onRegister = func(ctx context.Context, _ ServiceInfo) { seen = append(seen, ctx.Value(key{})) }
		svc := NewService(rec, ServiceConfig{Name: "orders"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		require.NoError(t, RegisterServiceContext(ctx, rec, ServiceConfig{Name: "billing", Port: 8080}), "RegisterServiceContext")
		assert.Equal(t, []any{"caller's context", "caller's context"}, seen,
			"Register must get the context given to Start and to RegisterServiceContext (or one derived from it)")
	})

	t.Run("RegisterService registers the configured instance", func(t *testing.T) {
		mem, _ := newMemoryRegistry(t)
		rec := &recordingRegistry{ServiceRegistry: mem}
		host, port := newBackend(t).hostPort(t)
		cfg := ServiceConfig{Name: "inventory", ID: "inventory-7", Address: host, Port: port, Tags: []string{"blue"}, CheckInterval: 3 * time.Second}
		require.NoError(t, RegisterService(rec, cfg), "RegisterService")
		registered, _ := rec.calls()
		require.Len(t, registered, 1, "RegisterService must register once")
		got := registered[0]
		assert.Equal(t, endpoint(ServiceInfo{ID: "inventory-7", Name: "inventory", Address: host, Port: port, Tags: []string{"blue"}}), endpoint(got))
		assert.Equal(t, fmt.Sprintf("http://%s:%d/health", host, port), got.Health.HTTP, "the health check URL")
		assert.Equal(t, 3*time.Second, got.Health.Interval, "the check interval")

		mem.Tick(ctx)
		discovered, err := mem.Discover(ctx, "inventory")
		require.NoError(t, err)
		assert.Equal(t, []string{"inventory-7"}, ids(discovered), "the registered instance is discovered once its check passes")
	})

	t.Run("registration errors are returned", func(t *testing.T) {
		err := RegisterService(failingRegistry{}, ServiceConfig{Name: "inventory", Port: 8080})
		assert.ErrorIs(t, err, errRegistryDown, "RegisterService must return (wrap) the registry's error")
		svc := NewService(failingRegistry{}, ServiceConfig{Name: "orders"}, nil, quietLogger())
		err = svc.Start(ctx)
		assert.ErrorIs(t, err, errRegistryDown, "Start must fail, wrapping the registry's error, when it cannot register")
	})

	t.Run("Start stops serving when it cannot register", func(t *testing.T) {
		rec := &recordingRegistry{ServiceRegistry: failingRegistry{}}
		svc := NewService(rec, ServiceConfig{Name: "orders"}, nil, quietLogger())
		err := svc.Start(ctx)
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		require.ErrorIs(t, err, errRegistryDown, "Start must fail when it cannot register")
		registered, _ := rec.calls()
		require.Len(t, registered, 1, "Start must try to register once")
		_, err = get(ctx, registered[0].Health.HTTP)
		assert.Error(t, err, "after a failed registration Start must stop serving: %s still answers", registered[0].Health.HTTP)
	})

	t.Run("the consul adapter sends the registration and its check", func(t *testing.T) {
		agent := newFakeAgent(t)
		registry := agent.registry(t)
		s := ServiceInfo{
			ID: "orders-1", Name: "orders", Address: "10.1.2.3", Port: 8080, Tags: []string{"v1", "eu"},
			Health: HealthCheck{
				HTTP: "http://10.1.2.3:8080/health", Interval: 5 * time.Second, Timeout: 500 * time.Millisecond,
				DeregisterCriticalServiceAfter: 90 * time.Second,
			},
		}
		require.NoError(t, registry.Register(ctx, s), "Register against the fake agent")
		reqs := agent.received(http.MethodPut, "/v1/agent/service/register")
		require.Len(t, reqs, 1, "want one PUT /v1/agent/service/register; the agent got %v", agent.all())
		var got consul.AgentServiceRegistration
		require.NoError(t, json.Unmarshal(reqs[0].body, &got), "the registration body must be JSON: %s", reqs[0].body)
		assert.Equal(t, "orders-1", got.ID, "ID")
		assert.Equal(t, "orders", got.Name, "Name")
		assert.Equal(t, "10.1.2.3", got.Address, "Address")
		assert.Equal(t, 8080, got.Port, "Port")
		assert.Equal(t, []string{"v1", "eu"}, got.Tags, "Tags")
		require.NotNil(t, got.Check, "the registration must carry the HTTP check: %s", reqs[0].body)
		assert.Equal(t, "http://10.1.2.3:8080/health", got.Check.HTTP, "Check.HTTP")
		assertDuration(t, 5*time.Second, got.Check.Interval, "Check.Interval")
		assertDuration(t, 500*time.Millisecond, got.Check.Timeout, "Check.Timeout")
		assertDuration(t, 90*time.Second, got.Check.DeregisterCriticalServiceAfter, "Check.DeregisterCriticalServiceAfter")
		held, ok := agent.service("orders-1")
		assert.True(t, ok && held.Name == "orders", "the agent must hold the registered instance; it got %v", agent.all())
	})

	t.Run("the consul adapter sends the check's defaults", func(t *testing.T) {
		agent := newFakeAgent(t)
		s := ServiceInfo{ID: "orders-1", Name: "orders", Address: "10.1.2.3", Port: 8080, Health: HealthCheck{HTTP: "http://10.1.2.3:8080/health"}}
		require.NoError(t, agent.registry(t).Register(ctx, s), "Register against the fake agent")
		got, ok := agent.service("orders-1")
		require.True(t, ok, "the agent must hold the registered instance; it got %v", agent.all())
		require.NotNil(t, got.Check, "the registration must carry the HTTP check")
		assertDuration(t, DefaultCheckInterval, got.Check.Interval, "Check.Interval of a HealthCheck without one")
		assertDuration(t, DefaultCheckTimeout, got.Check.Timeout, "Check.Timeout of a HealthCheck without one")
		assertDuration(t, DefaultDeregisterCriticalServiceAfter, got.Check.DeregisterCriticalServiceAfter, "Check.DeregisterCriticalServiceAfter of a HealthCheck without one")
	})

	t.Run("the consul adapter rejects an invalid registration", func(t *testing.T) {
		agent := newFakeAgent(t)
		err := agent.registry(t).Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "10.1.2.3", Port: 0})
		assert.ErrorIs(t, err, ErrInvalidService, "Register with port 0 must fail with ErrInvalidService")
		_, ok := agent.service("orders-1")
		assert.False(t, ok, "an invalid registration must not reach the agent")
	})

	t.Run("the consul adapter passes the context to the agent", func(t *testing.T) {
		agent := newFakeAgent(t)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		err := agent.registry(t).Register(cancelled, ServiceInfo{ID: "orders-1", Name: "orders", Address: "10.1.2.3", Port: 8080})
		assert.ErrorIs(t, err, context.Canceled, "Register with a cancelled context")
		_, ok := agent.service("orders-1")
		assert.False(t, ok, "Register with a cancelled context must not register anything")
	})

	// The in-memory registry keeps the contract of ServiceRegistry, as Consul does.
	t.Run("the in-memory registry", func(t *testing.T) {
		runRegistryContract(t, memoryHarness)
	})

	t.Run("the in-memory registry keeps its own copies", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		tags := []string{"v1", "eu"}
		require.NoError(t, r.Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "127.0.0.1", Port: 8080, Tags: tags}))
		tags[0] = "changed by the caller"
		got, err := r.Discover(ctx, "orders")
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, []string{"v1", "eu"}, got[0].Tags, "changing the caller's slice after Register must not change the registry")
		got[0].Tags[1] = "changed by a reader"
		got, err = r.Discover(ctx, "orders")
		require.NoError(t, err)
		assert.Equal(t, []string{"v1", "eu"}, got[0].Tags, "changing what Discover returned must not change the registry")
	})

	t.Run("the in-memory registry discovers in ID order", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		var want []string
		for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(12) {
			s := staticInstances("orders", 12)[i]
			want = append(want, s.ID)
			require.NoError(t, r.Register(ctx, s))
		}
		slices.Sort(want)
		for range 5 {
			got, err := r.Discover(ctx, "orders")
			require.NoError(t, err)
			var order []string
			for _, s := range got {
				order = append(order, s.ID)
			}
			require.Equal(t, want, order, "Discover must return the instances ordered by ID")
		}
	})

	t.Run("deregistering an unknown ID is not an error", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		assert.NoError(t, r.Deregister(ctx, "never-registered"))
	})

	t.Run("the in-memory registry under concurrent use", func(t *testing.T) {
		r, clock := newMemoryRegistry(t)
		template := newBackend(t).instance(t, "template", "orders", time.Second)
		var wg sync.WaitGroup
		var want []string
		for w := range 4 {
			for i := 0; i < 20; i += 2 {
				want = append(want, fmt.Sprintf("w%d-%02d", w, i))
			}
			wg.Go(func() {
				for i := range 20 {
					s := template
					s.ID = fmt.Sprintf("w%d-%02d", w, i)
					assert.NoError(t, r.Register(ctx, s))
					_, err := r.Discover(ctx, "orders")
					assert.NoError(t, err)
					if i%2 == 1 {
						assert.NoError(t, r.Deregister(ctx, s.ID))
					}
				}
			})
		}
		wg.Go(func() {
			for range 10 {
				clock.Advance(time.Second)
				r.Tick(ctx)
			}
		})
		wg.Wait()
		r.CheckNow(ctx)
		got, err := r.Discover(ctx, "orders")
		require.NoError(t, err)
		slices.Sort(want)
		assert.Equal(t, want, ids(got), "4 workers registered 20 instances each and deregistered the odd ones")
	})
}

// assertDuration checks that s, a duration as Consul's API carries it ("5s"), is want.
func assertDuration(t *testing.T, want time.Duration, s string, what string) {
	t.Helper()
	got, err := time.ParseDuration(s)
	if assert.NoError(t, err, "%s = %q must be a duration such as \"5s\"", what, s) {
		assert.Equal(t, want, got, "%s = %q", what, s)
	}
}

func TestHealthChecks(t *testing.T) {
	ctx := context.Background()
	const interval = 10 * time.Second

	t.Run("a failing instance drops out at its next check and comes back when it recovers", func(t *testing.T) {
		r, clock := newMemoryRegistry(t)
		flaky, steady := newBackend(t), newBackend(t)
		require.NoError(t, r.Register(ctx, flaky.instance(t, "api-a", "api", interval)))
		require.NoError(t, r.Register(ctx, steady.instance(t, "api-b", "api", interval)))
		discover := func() []string {
			got, err := r.Discover(ctx, "api")
			require.NoError(t, err)
			return ids(got)
		}

		assert.Empty(t, discover(), "an instance with a check must not be discovered before its first check passes")
		r.Tick(ctx)
		require.Equal(t, []string{"api-a", "api-b"}, discover(), "after the first checks both instances are healthy")

		flaky.setHealthy(false)
		checks := flaky.checks.Load()
		clock.Advance(interval - time.Second)
		r.Tick(ctx)
		assert.Equal(t, checks, flaky.checks.Load(), "Tick must not check an instance before its interval has passed (by the injected clock)")
		assert.Equal(t, []string{"api-a", "api-b"}, discover(), "until the next check, the last result stands")

		clock.Advance(time.Second)
		r.Tick(ctx)
		assert.Equal(t, []string{"api-b"}, discover(), "once its check fails, api-a must drop out of discovery")

		flaky.setHealthy(true)
		clock.Advance(interval)
		r.Tick(ctx)
		assert.Equal(t, []string{"api-a", "api-b"}, discover(), "once its check passes again, api-a must be back")
	})

	t.Run("what counts as a failed check", func(t *testing.T) {
		tests := []struct {
			name    string
			handler http.HandlerFunc
			healthy bool
		}{
			{"200", func(w http.ResponseWriter, _ *http.Request) {}, true},
			{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, true},
			{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }, false},
			{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, false},
			{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, false},
			{"304", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotModified) }, false},
			{"200 to a GET only", func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					w.WriteHeader(http.StatusMethodNotAllowed)
				}
			}, true},
			{"slower than the timeout", func(w http.ResponseWriter, r *http.Request) {
				// Answers 200, but only after the check's 100ms timeout (or 5s without one).
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv := httptest.NewServer(tt.handler)
				t.Cleanup(srv.Close)
				r, _ := newMemoryRegistry(t)
				s := ServiceInfo{ID: "api-1", Name: "api", Address: "127.0.0.1", Port: 8080,
					Health: HealthCheck{HTTP: srv.URL + "/health", Interval: interval, Timeout: 100 * time.Millisecond}}
				require.NoError(t, r.Register(ctx, s))
				r.CheckNow(ctx)
				got, err := r.Discover(ctx, "api")
				require.NoError(t, err)
				if tt.healthy {
					assert.Equal(t, []string{"api-1"}, ids(got), "a check answered %s passes", tt.name)
				} else {
					assert.Empty(t, got, "a check answered %s fails: the instance must not be discovered", tt.name)
				}
			})
		}
	})

	t.Run("an unreachable instance is not discovered", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		gone := newBackend(t)
		s := gone.instance(t, "api-1", "api", interval)
		gone.srv.Close()
		require.NoError(t, r.Register(ctx, s))
		r.CheckNow(ctx)
		got, err := r.Discover(ctx, "api")
		require.NoError(t, err)
		assert.Empty(t, got, "an instance whose health endpoint refuses connections must not be discovered")
	})

	// Removal times are chosen well away from DeregisterCriticalServiceAfter, so that every
	// reading of "critical for longer than" agrees on them.
	t.Run("an instance critical for longer than DeregisterCriticalServiceAfter is removed", func(t *testing.T) {
		r, clock := newMemoryRegistry(t)
		b := newBackend(t)
		s := b.instance(t, "api-1", "api", interval)
		s.Health.DeregisterCriticalServiceAfter = time.Minute
		require.NoError(t, r.Register(ctx, s))
		r.Tick(ctx)
		discover := func() []string {
			got, err := r.Discover(ctx, "api")
			require.NoError(t, err)
			return ids(got)
		}
		require.Equal(t, []string{"api-1"}, discover(), "precondition: the instance passes its first check")

		b.setHealthy(false)
		clock.Advance(interval)
		r.Tick(ctx) // critical from now
		for range 3 {
			clock.Advance(interval)
			r.Tick(ctx)
		}
		b.setHealthy(true)
		clock.Advance(interval)
		r.Tick(ctx) // passes after 40s critical
		require.Equal(t, []string{"api-1"}, discover(),
			"an instance whose check passes again after 40s critical (DeregisterCriticalServiceAfter 1m) must come back")

		b.setHealthy(false)
		clock.Advance(interval)
		r.Tick(ctx) // critical again, from now
		for range 7 {
			clock.Advance(interval)
			r.Tick(ctx) // the last of these fails after 70s critical
		}
		b.setHealthy(true)
		clock.Advance(interval)
		r.Tick(ctx)
		assert.Empty(t, discover(),
			"an instance that failed its checks for 70s (DeregisterCriticalServiceAfter 1m) must have been removed: a later passing check must not bring it back")
	})

	t.Run("zero check durations take their defaults", func(t *testing.T) {
		r, clock := newMemoryRegistry(t)
		b := newBackend(t)
		host, port := b.hostPort(t)
		require.NoError(t, r.Register(ctx, ServiceInfo{ID: "api-1", Name: "api", Address: host, Port: port, Health: HealthCheck{HTTP: b.srv.URL + "/health"}}))
		discover := func() []string {
			got, err := r.Discover(ctx, "api")
			require.NoError(t, err)
			return ids(got)
		}
		r.Tick(ctx)
		require.Equal(t, []string{"api-1"}, discover(), "a check with a zero Timeout (default 2s) must be able to pass")
		checks := b.checks.Load()
		clock.Advance(DefaultCheckInterval - time.Second)
		r.Tick(ctx)
		assert.Equal(t, checks, b.checks.Load(), "with a zero Interval (default 10s) the next check is not due 9s later")
		clock.Advance(time.Second)
		r.Tick(ctx)
		assert.Equal(t, checks+1, b.checks.Load(), "with a zero Interval (default 10s) the next check is due 10s later")

		b.setHealthy(false)
		for range 3 {
			clock.Advance(DefaultCheckInterval)
			r.Tick(ctx) // critical for 20s by the last one
		}
		b.setHealthy(true)
		clock.Advance(DefaultCheckInterval)
		r.Tick(ctx)
		assert.Equal(t, []string{"api-1"}, discover(),
			"with a zero DeregisterCriticalServiceAfter (default 1m) an instance critical for 30s must still be registered")
	})

	t.Run("checks are sent with the client of WithHTTPClient", func(t *testing.T) {
		var sent atomic.Int32
		client := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			sent.Add(1)
			return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{}, Body: http.NoBody, Request: req}, nil
		})}
		r := NewMemoryRegistry(WithClock(newFakeClock()), WithHTTPClient(client), WithLogger(quietLogger()))
		// Nothing listens at this address: only the injected client can make the check pass.
		require.NoError(t, r.Register(ctx, ServiceInfo{ID: "api-1", Name: "api", Address: "127.0.0.1", Port: 9,
			Health: HealthCheck{HTTP: "http://127.0.0.1:9/health", Interval: interval, Timeout: time.Second}}))
		r.Tick(ctx)
		got, err := r.Discover(ctx, "api")
		require.NoError(t, err)
		assert.Equal(t, []string{"api-1"}, ids(got), "the check must go through the client given with WithHTTPClient")
		assert.EqualValues(t, 1, sent.Load(), "one check, sent with the injected client")
	})

	t.Run("the registry answers while a check runs", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		slow := newSlowCheck(t)
		require.NoError(t, r.Register(ctx, slow.instance("api-1", "api")))
		ticked := slow.tick(t, r)
		done := make(chan error, 1)
		go func() {
			_, err := r.Discover(ctx, "api")
			if err == nil {
				err = r.Register(ctx, ServiceInfo{ID: "api-2", Name: "api", Address: "127.0.0.1", Port: 8082})
			}
			done <- err
		}()
		select {
		case err := <-done:
			assert.NoError(t, err, "Discover and Register while a check runs")
		case <-time.After(5 * time.Second):
			t.Error("Discover or Register blocked while a health check was running: do not hold the registry's mutex during a check")
		}
		slow.release()
		waitFor(t, ticked, "Tick to return once the check answered")
	})

	t.Run("a check's result counts only for the registration it was run for", func(t *testing.T) {
		for _, change := range []string{"registered again", "deregistered"} {
			t.Run(change, func(t *testing.T) {
				r, _ := newMemoryRegistry(t)
				slow := newSlowCheck(t)
				first := slow.instance("api-1", "api")
				require.NoError(t, r.Register(ctx, first))
				ticked := slow.tick(t, r)
				changed := make(chan error, 1)
				go func() {
					if change == "deregistered" {
						changed <- r.Deregister(ctx, first.ID)
						return
					}
					again := first
					again.Port++ // the instance restarted elsewhere
					changed <- r.Register(ctx, again)
				}()
				select {
				case err := <-changed:
					require.NoError(t, err)
				case <-time.After(5 * time.Second):
					t.Fatal("Register or Deregister blocked while a health check was running: do not hold the registry's mutex during a check")
				}
				slow.release() // the check started before the change now passes
				waitFor(t, ticked, "Tick to return once the check answered")
				got, err := r.Discover(ctx, "api")
				require.NoError(t, err)
				assert.Empty(t, got,
					"a check that started before the instance was %s must not count for it: an instance registered again waits for its own first check, a deregistered one stays gone", change)
			})
		}
	})

	t.Run("Run checks in the background until its context is done", func(t *testing.T) {
		checked := make(chan struct{}, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			select {
			case checked <- struct{}{}:
			default:
			}
		}))
		t.Cleanup(srv.Close)
		r := NewMemoryRegistry(WithLogger(quietLogger())) // the system clock: Run is the production path
		require.NoError(t, r.Register(ctx, ServiceInfo{ID: "api-1", Name: "api", Address: "127.0.0.1", Port: 8080,
			Health: HealthCheck{HTTP: srv.URL, Interval: time.Millisecond, Timeout: time.Second}}))

		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			r.Run(runCtx, time.Millisecond)
		}()
		for i := range 2 {
			select {
			case <-checked:
			case <-time.After(10 * time.Second):
				t.Fatalf("Run(ctx, 1ms) made %d checks in 10s; want it to keep checking the instance", i)
			}
		}
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of its context being cancelled")
		}
	})

	t.Run("Run with a zero interval looks for due checks every second", func(t *testing.T) {
		checked := make(chan struct{}, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			select {
			case checked <- struct{}{}:
			default:
			}
		}))
		t.Cleanup(srv.Close)
		r := NewMemoryRegistry(WithLogger(quietLogger()))
		require.NoError(t, r.Register(ctx, ServiceInfo{ID: "api-1", Name: "api", Address: "127.0.0.1", Port: 8080,
			Health: HealthCheck{HTTP: srv.URL, Interval: time.Millisecond, Timeout: time.Second}}))

		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		stopped := make(chan any, 1)
		go func() {
			defer func() { stopped <- recover() }()
			r.Run(runCtx, 0)
		}()
		select {
		case <-checked:
		case p := <-stopped:
			t.Fatalf("Run(ctx, 0) returned (panic: %v) before it checked anything; a zero interval means one second", p)
		case <-time.After(10 * time.Second):
			t.Fatal("Run(ctx, 0) made no check in 10s; a zero interval means one second")
		}
		cancel()
		select {
		case p := <-stopped:
			assert.Nil(t, p, "Run must return when its context is done, without panicking")
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of its context being cancelled")
		}
	})

	t.Run("the consul adapter discovers passing instances only", func(t *testing.T) {
		passing := consul.HealthChecks{{CheckID: "service:api", Status: consul.HealthPassing}}
		critical := consul.HealthChecks{{CheckID: "service:api", Status: consul.HealthCritical}}
		agent := newFakeAgent(t,
			&consul.ServiceEntry{Node: &consul.Node{Address: "10.0.0.1"}, Service: &consul.AgentService{ID: "api-1", Service: "api", Address: "10.0.0.11", Port: 8081, Tags: []string{"v1"}}, Checks: passing},
			&consul.ServiceEntry{Node: &consul.Node{Address: "10.0.0.2"}, Service: &consul.AgentService{ID: "api-2", Service: "api", Port: 8082}, Checks: passing},
			&consul.ServiceEntry{Node: &consul.Node{Address: "10.0.0.3"}, Service: &consul.AgentService{ID: "api-3", Service: "api", Address: "10.0.0.13", Port: 8083}, Checks: critical},
		)
		got, err := agent.registry(t).Discover(ctx, "api")
		require.NoError(t, err, "Discover against the fake agent")
		assert.Equal(t, []string{
			endpoint(ServiceInfo{ID: "api-1", Name: "api", Address: "10.0.0.11", Port: 8081, Tags: []string{"v1"}}),
			endpoint(ServiceInfo{ID: "api-2", Name: "api", Address: "10.0.0.2", Port: 8082}),
		}, endpoints(got), "the passing instances only (not api-3, whose check is critical); one without an address gets its node's")
	})

	t.Run("the consul adapter returns the agent's errors", func(t *testing.T) {
		agent := newFakeAgent(t)
		agent.setHealthDown(true)
		got, err := agent.registry(t).Discover(ctx, "api")
		var status consul.StatusError
		if assert.ErrorAs(t, err, &status, "Discover when the agent answers 500: want its error, wrapped with %%w (a consul.StatusError); got %v", err) {
			assert.Equal(t, http.StatusInternalServerError, status.Code, "the agent's status")
		}
		assert.Empty(t, got, "no instances with the error")

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		agent.setHealthDown(false)
		_, err = agent.registry(t).Discover(cancelled, "api")
		assert.ErrorIs(t, err, context.Canceled, "Discover with a cancelled context")
	})
}

// roundTripFunc turns a function into an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// slowCheck is a health endpoint that holds each check until the test releases it.
type slowCheck struct {
	srv     *httptest.Server
	entered chan struct{}
	release func()
}

func newSlowCheck(t *testing.T) *slowCheck {
	t.Helper()
	c := &slowCheck{entered: make(chan struct{}, 1)}
	released := make(chan struct{})
	c.release = sync.OnceFunc(func() { close(released) })
	c.srv = httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		select {
		case c.entered <- struct{}{}:
		default:
		}
		<-released
	}))
	t.Cleanup(c.srv.Close)
	t.Cleanup(c.release) // runs first: never leave a check blocked
	return c
}

// instance returns a registration checked by the slow endpoint.
func (c *slowCheck) instance(id, name string) ServiceInfo {
	return ServiceInfo{ID: id, Name: name, Address: "127.0.0.1", Port: 8080,
		Health: HealthCheck{HTTP: c.srv.URL + "/health", Interval: 10 * time.Second, Timeout: 10 * time.Second}}
}

// tick starts r.Tick and returns once the check has reached the endpoint, with a channel closed
// when Tick returns.
func (c *slowCheck) tick(t *testing.T, r *MemoryRegistry) <-chan struct{} {
	t.Helper()
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		r.Tick(context.Background())
	}()
	select {
	case <-c.entered:
	case <-ticked:
		t.Fatal("Tick returned without checking the instance")
	case <-time.After(5 * time.Second):
		t.Fatal("Tick did not check the instance within 5s")
	}
	return ticked
}

func TestDiscoveryLoadBalancing(t *testing.T) {
	ctx := context.Background()

	t.Run("round robin by default", func(t *testing.T) {
		instances := staticInstances("orders", 3)
		client := NewServiceDiscoveryClient(&shufflingRegistry{instances: instances}, nil)
		require.NotNil(t, client, "NewServiceDiscoveryClient must not return nil")
		var got []string
		for range 9 {
			url, err := client.GetServiceURL(ctx, "orders")
			require.NoError(t, err, "GetServiceURL")
			got = append(got, url)
		}
		var urls []string
		for _, s := range instances {
			urls = append(urls, s.URL())
		}
		assert.Subset(t, urls, got, "every call must return the URL of one of the instances")
		assert.Len(t, map[string]bool{got[0]: true, got[1]: true, got[2]: true}, 3,
			"three calls over three instances must reach each of them once (the registry returns them in any order); got %v", got[:3])
		cycle := got[:3:3]
		assert.Equal(t, slices.Concat(cycle, cycle, cycle), got, "round robin repeats the same cycle over the instances")
	})

	t.Run("round robin turns per service", func(t *testing.T) {
		reg := &shufflingRegistry{instances: staticInstances("svc", 2)}
		client := NewServiceDiscoveryClient(reg, NewRoundRobin())
		picks := map[string][]string{}
		for range 4 {
			for _, name := range []string{"alpha", "beta"} {
				url, err := client.GetServiceURL(ctx, name)
				require.NoError(t, err)
				picks[name] = append(picks[name], url)
			}
		}
		for _, name := range []string{"alpha", "beta"} {
			got := picks[name]
			assert.True(t, got[0] != got[1] && got[2] == got[0] && got[3] == got[1],
				"calls to %s, interleaved with calls to another service, must alternate between its two instances; got %v", name, got)
		}
	})

	t.Run("only healthy instances get calls", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		sick := newBackend(t)
		sick.setHealthy(false)
		var healthy []ServiceInfo
		for i := range 2 {
			s := newBackend(t).instance(t, fmt.Sprintf("orders-%d", i+1), "orders", time.Second)
			healthy = append(healthy, s)
			require.NoError(t, r.Register(ctx, s))
		}
		bad := sick.instance(t, "orders-0", "orders", time.Second)
		require.NoError(t, r.Register(ctx, bad))
		r.Tick(ctx)
		client := NewServiceDiscoveryClient(r, nil)
		counts := map[string]int{}
		for range 10 {
			url, err := client.GetServiceURL(ctx, "orders")
			require.NoError(t, err)
			counts[url]++
		}
		assert.Equal(t, map[string]int{healthy[0].URL(): 5, healthy[1].URL(): 5}, counts,
			"ten calls must be spread evenly over the two healthy instances, none to the failing one (%s)", bad.URL())
	})

	t.Run("no healthy instance is an error", func(t *testing.T) {
		r, _ := newMemoryRegistry(t)
		sick := newBackend(t)
		sick.setHealthy(false)
		require.NoError(t, r.Register(ctx, sick.instance(t, "orders-1", "orders", time.Second)))
		r.Tick(ctx)
		client := NewServiceDiscoveryClient(r, nil)
		for _, name := range []string{"orders", "unknown"} {
			url, err := client.GetServiceURL(ctx, name)
			assert.ErrorIs(t, err, ErrNoHealthyInstances, "GetServiceURL(%s) with no healthy instance", name)
			assert.Empty(t, url, "GetServiceURL(%s) returns no URL with its error", name)
		}
	})

	t.Run("registry errors are wrapped, not replaced", func(t *testing.T) {
		_, err := NewServiceDiscoveryClient(failingRegistry{}, nil).GetServiceURL(ctx, "orders")
		assert.ErrorIs(t, err, errRegistryDown, "GetServiceURL must wrap the registry's error")
		assert.NotErrorIs(t, err, ErrNoHealthyInstances, "a failing registry is not the same as no healthy instance")
	})

	t.Run("the strategy is pluggable", func(t *testing.T) {
		instances := staticInstances("orders", 3)
		last := &lastBalancer{}
		client := NewServiceDiscoveryClient(&shufflingRegistry{instances: instances}, last)
		for range 2 {
			url, err := client.GetServiceURL(ctx, "orders")
			require.NoError(t, err)
			assert.Equal(t, instances[2].URL(), url, "the client must return the instance its balancer picks (the last by ID)")
		}
		assert.Equal(t, 2, last.calls, "the balancer must be asked once per call")
		assert.Equal(t, ids(instances), last.seen, "the balancer must be offered every healthy instance")
	})

	t.Run("the random strategy spreads calls", func(t *testing.T) {
		instances := staticInstances("orders", 3)
		client := NewServiceDiscoveryClient(&shufflingRegistry{instances: instances}, NewRandom(rand.NewPCG(1, 2)))
		counts := map[string]int{}
		for range 300 {
			url, err := client.GetServiceURL(ctx, "orders")
			require.NoError(t, err)
			counts[url]++
		}
		for _, s := range instances {
			assert.Greater(t, counts[s.URL()], 50, "300 random picks over 3 instances: %s got %d; counts %v", s.ID, counts[s.URL()], counts)
		}
	})

	t.Run("the discovery client on the memory registry", func(t *testing.T) {
		r, clock := newMemoryRegistry(t)
		a := newBackend(t).instance(t, "orders-a", "orders", time.Second)
		b := newBackend(t).instance(t, "orders-b", "orders", time.Second)
		sick := newBackend(t)
		sick.setHealthy(false)
		c := sick.instance(t, "orders-c", "orders", time.Second)
		for _, s := range []ServiceInfo{a, b, c} {
			require.NoError(t, r.Register(ctx, s))
		}
		r.Tick(ctx)
		client := NewServiceDiscoveryClient(r, nil)
		var got []string
		for range 4 {
			url, err := client.GetServiceURL(ctx, "orders")
			require.NoError(t, err)
			got = append(got, url)
		}
		assert.Equal(t, []string{a.URL(), b.URL(), a.URL(), b.URL()}, got, "round robin over the two healthy instances, by ID")

		require.NoError(t, r.Deregister(ctx, a.ID))
		clock.Advance(time.Second)
		r.Tick(ctx)
		url, err := client.GetServiceURL(ctx, "orders")
		require.NoError(t, err)
		assert.Equal(t, b.URL(), url, "after deregistering orders-a only orders-b is left")

		require.NoError(t, r.Deregister(ctx, b.ID))
		_, err = client.GetServiceURL(ctx, "orders")
		assert.ErrorIs(t, err, ErrNoHealthyInstances, "with orders-c failing and the others gone")
	})

	t.Run("the balancers refuse an empty list", func(t *testing.T) {
		for name, b := range map[string]LoadBalancer{
			"RoundRobin": NewRoundRobin(), "Random": NewRandom(nil), "seeded Random": NewRandom(rand.NewPCG(1, 2)),
		} {
			var err error
			require.NotPanics(t, func() { _, err = b.Pick("orders", nil) }, "%s.Pick with no instances must return an error, not panic", name)
			assert.ErrorIs(t, err, ErrNoHealthyInstances, "%s.Pick with no instances", name)
		}
	})

	t.Run("a seeded Random repeats its picks", func(t *testing.T) {
		instances := staticInstances("orders", 5)
		picks := func(b *Random) []string {
			var out []string
			for range 30 {
				s, err := b.Pick("orders", instances)
				require.NoError(t, err)
				out = append(out, s.ID)
			}
			return out
		}
		assert.Equal(t, picks(NewRandom(rand.NewPCG(7, 9))), picks(NewRandom(rand.NewPCG(7, 9))),
			"two Random balancers drawing from the same seeded source must pick the same instances in the same order")

		shared := NewRandom(rand.NewPCG(7, 9)) // safe for concurrent use: the race detector watches
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 50 {
					_, err := shared.Pick("orders", instances)
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
	})

	t.Run("the registry's answer is left as it was", func(t *testing.T) {
		reversed := slices.Clone(staticInstances("orders", 4))
		slices.Reverse(reversed)
		reg := &fixedRegistry{instances: reversed}
		client := NewServiceDiscoveryClient(reg, nil)
		for range 4 {
			_, err := client.GetServiceURL(ctx, "orders")
			require.NoError(t, err)
		}
		var order []string
		for _, s := range reversed {
			order = append(order, s.ID)
		}
		assert.Equal(t, []string{"orders-4", "orders-3", "orders-2", "orders-1"}, order,
			"GetServiceURL must sort a copy: the slice the registry returned (which may be the registry's own) must not be reordered")
	})

	t.Run("round robin under concurrent calls", func(t *testing.T) {
		instances := staticInstances("orders", 3)
		client := NewServiceDiscoveryClient(&shufflingRegistry{instances: instances}, nil)
		var mu sync.Mutex
		counts := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 30 {
					url, err := client.GetServiceURL(ctx, "orders")
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					counts[url]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, s := range instances {
			assert.Equal(t, 80, counts[s.URL()], "240 concurrent calls over 3 instances: each gets 80; counts %v", counts)
		}
	})
}

// fixedRegistry returns the same slice on every call, as a registry that hands out its own
// storage would.
type fixedRegistry struct{ instances []ServiceInfo }

func (r *fixedRegistry) Register(context.Context, ServiceInfo) error { return nil }
func (r *fixedRegistry) Deregister(context.Context, string) error    { return nil }
func (r *fixedRegistry) Discover(context.Context, string) ([]ServiceInfo, error) {
	return r.instances, nil
}

// lastBalancer picks the last instance and records what it was offered.
type lastBalancer struct {
	mu    sync.Mutex
	calls int
	seen  []string
}

func (b *lastBalancer) Pick(_ string, instances []ServiceInfo) (ServiceInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	b.seen = ids(instances)
	return instances[len(instances)-1], nil
}

func TestGracefulDeregistration(t *testing.T) {
	ctx := context.Background()

	t.Run("deregisters before it stops serving", func(t *testing.T) {
		mem, _ := newMemoryRegistry(t)
		rec := &recordingRegistry{ServiceRegistry: mem}
		var info ServiceInfo // set before Shutdown, read during it
		var atDeregister []string
		rec.onDeregister = func(_ context.Context, id string) {
			// What a caller that discovered the instance a moment ago would see now: an answer,
			// whatever its status (a draining service may already report itself unhealthy).
			_, err := get(ctx, info.Health.HTTP)
			atDeregister = append(atDeregister, fmt.Sprintf("deregister %s: the service answered: %t (err %v)", id, err == nil, err))
		}
		svc := NewService(rec, ServiceConfig{Name: "orders", ID: "orders-1"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		info = svc.Info()
		require.NotEmpty(t, info.Health.HTTP, "precondition: Info returns the registration, with its health check URL")
		mem.Tick(ctx)
		url, err := NewServiceDiscoveryClient(mem, nil).GetServiceURL(ctx, "orders")
		require.NoError(t, err, "precondition: the started service is discovered")
		require.Equal(t, info.URL(), url)

		require.NoError(t, svc.Shutdown(ctx), "Shutdown")

		_, deregistered := rec.calls()
		assert.Equal(t, []string{"orders-1"}, deregistered, "Shutdown must deregister the instance, once")
		assert.Equal(t, []string{"deregister orders-1: the service answered: true (err <nil>)"}, atDeregister,
			"when Deregister is called the service must still be serving: deregister first, then stop")
		_, err = NewServiceDiscoveryClient(mem, nil).GetServiceURL(ctx, "orders")
		assert.ErrorIs(t, err, ErrNoHealthyInstances, "after Shutdown no caller may be sent to the instance")
		_, err = get(ctx, info.URL()+"/health")
		assert.Error(t, err, "after Shutdown returns the service must no longer accept connections")
	})

	t.Run("requests in flight finish", func(t *testing.T) {
		mem, _ := newMemoryRegistry(t)
		deregistered := make(chan struct{})
		deregisteredOnce := sync.OnceFunc(func() { close(deregistered) })
		rec := &recordingRegistry{ServiceRegistry: mem, onDeregister: func(context.Context, string) { deregisteredOnce() }}
		started, release := make(chan struct{}), make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "done")
		})
		svc := NewService(rec, ServiceConfig{Name: "orders", ID: "orders-1"}, slow, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		t.Cleanup(releaseOnce) // runs first: never leave the handler blocked, even when the test fails early
		url := svc.Info().URL() + "/slow"

		type result struct {
			status int
			err    error
		}
		inFlight := make(chan result, 1)
		go func() {
			status, err := get(ctx, url)
			inFlight <- result{status, err}
		}()
		waitFor(t, started, "the slow request to reach the handler")

		shutdown := make(chan error, 1)
		go func() { shutdown <- svc.Shutdown(ctx) }()
		waitFor(t, deregistered, "Shutdown to deregister the instance")
		select {
		case err := <-shutdown:
			t.Errorf("Shutdown returned (%v) while a request was still in flight; it must wait for it", err)
		default:
		}
		releaseOnce()

		select {
		case res := <-inFlight:
			require.NoError(t, res.err, "the request in flight during Shutdown must complete")
			assert.Equal(t, http.StatusOK, res.status, "the request in flight during Shutdown")
		case <-time.After(10 * time.Second):
			t.Fatal("the request in flight did not complete within 10s")
		}
		select {
		case err := <-shutdown:
			assert.NoError(t, err, "Shutdown")
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown did not return within 10s of the last request finishing")
		}
	})

	t.Run("a failed deregistration is reported and serving still stops", func(t *testing.T) {
		svc := NewService(&deregisterFails{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))},
			ServiceConfig{Name: "orders"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		info := svc.Info()
		err := svc.Shutdown(ctx)
		assert.ErrorIs(t, err, errRegistryDown, "Shutdown must return (wrap) the deregistration error")
		_, err = get(ctx, info.URL()+"/health")
		assert.Error(t, err, "the service must stop serving even when deregistration failed")
	})

	t.Run("both errors come back", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(started)
			<-release
		})
		svc := NewService(&deregisterFails{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))},
			ServiceConfig{Name: "orders"}, slow, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		t.Cleanup(releaseOnce) // runs first: never leave the handler blocked
		go func() { _, _ = get(context.Background(), svc.Info().URL()+"/slow") }()
		waitFor(t, started, "the slow request to reach the handler")

		cancelled, cancel := context.WithCancel(ctx)
		cancel() // no time to wait for the request in flight
		err := svc.Shutdown(cancelled)
		releaseOnce()
		assert.ErrorIs(t, err, errRegistryDown, "Shutdown must return the deregistration error")
		assert.ErrorIs(t, err, context.Canceled,
			"Shutdown must also return the error of stopping the server (http.Server.Shutdown gave up on the request in flight: ctx's error), joined with the first")
	})

	t.Run("Shutdown passes its context to Deregister", func(t *testing.T) {
		type key struct{}
		var seen []any
		rec := &recordingRegistry{ServiceRegistry: NewMemoryRegistry(WithLogger(quietLogger()))}
		rec.onDeregister = func(ctx context.Context, _ string) { seen = append(seen, ctx.Value(key{})) }
		svc := NewService(rec, ServiceConfig{Name: "orders"}, nil, quietLogger())
		require.NoError(t, svc.Start(ctx), "Start")
		t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
		require.NoError(t, svc.Shutdown(context.WithValue(ctx, key{}, "caller's context")), "Shutdown")
		assert.Equal(t, []any{"caller's context"}, seen, "Deregister must get the context given to Shutdown (or one derived from it)")
	})

	t.Run("the consul adapter deregisters the instance", func(t *testing.T) {
		agent := newFakeAgent(t)
		agent.add(consul.AgentServiceRegistration{ID: "orders-1", Name: "orders", Address: "10.1.2.3", Port: 8080})
		agent.add(consul.AgentServiceRegistration{ID: "orders-2", Name: "orders", Address: "10.1.2.4", Port: 8080})
		require.NoError(t, agent.registry(t).Deregister(ctx, "orders-1"), "Deregister against the fake agent")
		_, ok := agent.service("orders-1")
		assert.False(t, ok, "after Deregister(orders-1) the agent must no longer hold orders-1; it got %v", agent.all())
		_, ok = agent.service("orders-2")
		assert.True(t, ok, "Deregister(orders-1) must leave orders-2 registered; the agent got %v", agent.all())
	})

	t.Run("the consul adapter: an ID the agent does not know is not an error", func(t *testing.T) {
		agent := newFakeAgent(t)
		assert.NoError(t, agent.registry(t).Deregister(ctx, "never-registered"),
			"the agent answers 404 for an unknown ID (it may have reaped the instance already): Deregister must not fail")
	})

	t.Run("the consul adapter passes the context to the agent", func(t *testing.T) {
		agent := newFakeAgent(t)
		agent.add(consul.AgentServiceRegistration{ID: "orders-1", Name: "orders", Address: "10.1.2.3", Port: 8080})
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		assert.ErrorIs(t, agent.registry(t).Deregister(cancelled, "orders-1"), context.Canceled, "Deregister with a cancelled context")
		_, ok := agent.service("orders-1")
		assert.True(t, ok, "Deregister with a cancelled context must not deregister anything")
	})
}

// deregisterFails is a registry whose Deregister fails with errRegistryDown.
type deregisterFails struct{ ServiceRegistry }

func (deregisterFails) Deregister(context.Context, string) error { return errRegistryDown }

// waitFor waits, for at most 10 seconds, until ch is closed.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out after 10s waiting for %s", what)
	}
}
