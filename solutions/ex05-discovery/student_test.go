package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The package's own tests, on the in-memory registry with a step clock.

// stepClock is a Clock that moves only when the test advances it.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

// newStepClock returns a clock set far from the real time, so that a registry that reads
// time.Now instead of its Clock shows up.
func newStepClock() *stepClock {
	return &stepClock{now: time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// myHealth is a health endpoint whose answer the test flips, and which counts its checks.
type myHealth struct {
	srv     *httptest.Server
	healthy atomic.Bool
	checks  atomic.Int32
}

func newMyHealth(t *testing.T) *myHealth {
	t.Helper()
	h := &myHealth{}
	h.healthy.Store(true)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.checks.Add(1)
		if !h.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// instance registers the endpoint as id of orders, at port, checked every 10s and removed after
// a minute critical.
func (h *myHealth) instance(id string, port int) ServiceInfo {
	return ServiceInfo{ID: id, Name: "orders", Address: "127.0.0.1", Port: port,
		Health: HealthCheck{HTTP: h.srv.URL + "/health", Interval: 10 * time.Second, Timeout: time.Second, DeregisterCriticalServiceAfter: time.Minute}}
}

func newMyRegistry() (*MemoryRegistry, *stepClock) {
	clock := newStepClock()
	return NewMemoryRegistry(WithClock(clock), WithLogger(slog.New(slog.DiscardHandler))), clock
}

// myIDs returns the IDs Discover(name) gives, in its order.
func myIDs(t *testing.T, r ServiceRegistry, name string) []string {
	t.Helper()
	got, err := r.Discover(context.Background(), name)
	require.NoError(t, err)
	ids := []string{}
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestMyRegistryFollowsTheHealthCheck(t *testing.T) {
	ctx := context.Background()
	r, clock := newMyRegistry()
	h := newMyHealth(t)
	require.NoError(t, r.Register(ctx, h.instance("orders-1", 8080)))
	assert.Empty(t, myIDs(t, r, "orders"), "not discovered before its first check")

	r.Tick(ctx)
	assert.Equal(t, []string{"orders-1"}, myIDs(t, r, "orders"), "discovered once its first check passed")

	h.healthy.Store(false)
	clock.Advance(10 * time.Second)
	r.Tick(ctx)
	assert.Empty(t, myIDs(t, r, "orders"), "a failed check takes the instance out of discovery")

	h.healthy.Store(true)
	clock.Advance(10 * time.Second)
	r.Tick(ctx)
	assert.Equal(t, []string{"orders-1"}, myIDs(t, r, "orders"), "a passing check brings it back")
}

func TestMyTickWaitsForTheInterval(t *testing.T) {
	ctx := context.Background()
	r, clock := newMyRegistry()
	h := newMyHealth(t)
	require.NoError(t, r.Register(ctx, h.instance("orders-1", 8080)))
	r.Tick(ctx)
	require.EqualValues(t, 1, h.checks.Load())

	clock.Advance(9 * time.Second)
	r.Tick(ctx)
	assert.EqualValues(t, 1, h.checks.Load(), "no check before the interval has passed")
	clock.Advance(time.Second)
	r.Tick(ctx)
	assert.EqualValues(t, 2, h.checks.Load(), "a check once it has")
}

func TestMyLongCriticalInstanceIsRemoved(t *testing.T) {
	ctx := context.Background()
	r, clock := newMyRegistry()
	h := newMyHealth(t)
	require.NoError(t, r.Register(ctx, h.instance("orders-1", 8080)))
	r.Tick(ctx)
	h.healthy.Store(false)
	for range 9 { // critical from the first of these, for 80s by the last
		clock.Advance(10 * time.Second)
		r.Tick(ctx)
	}
	h.healthy.Store(true)
	clock.Advance(10 * time.Second)
	r.Tick(ctx)
	assert.Empty(t, myIDs(t, r, "orders"), "removed after more than a minute critical: recovering later does not bring it back")
}

func TestMyRegisteringAgainReplaces(t *testing.T) {
	ctx := context.Background()
	r, _ := newMyRegistry()
	require.NoError(t, r.Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "127.0.0.1", Port: 8080}))
	require.NoError(t, r.Register(ctx, ServiceInfo{ID: "orders-1", Name: "orders", Address: "127.0.0.1", Port: 9090}))
	got, err := r.Discover(ctx, "orders")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 9090, got[0].Port, "the second registration replaces the first")

	err = r.Register(ctx, ServiceInfo{ID: "orders-2", Name: "orders", Address: "127.0.0.1"})
	assert.ErrorIs(t, err, ErrInvalidService, "port 0")
}

func TestMyClientSpreadsCallsOverHealthyInstances(t *testing.T) {
	ctx := context.Background()
	r, _ := newMyRegistry()
	up, down := newMyHealth(t), newMyHealth(t)
	down.healthy.Store(false)
	for i, h := range []*myHealth{up, up, down} {
		require.NoError(t, r.Register(ctx, h.instance(fmt.Sprintf("orders-%d", i+1), 8081+i)))
	}
	r.Tick(ctx)
	client := NewServiceDiscoveryClient(r, nil)
	var got []string
	for range 4 {
		u, err := client.GetServiceURL(ctx, "orders")
		require.NoError(t, err)
		got = append(got, u)
	}
	assert.Equal(t, []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8081", "http://127.0.0.1:8082"}, got,
		"round robin over the two healthy instances")

	_, err := client.GetServiceURL(ctx, "payments")
	assert.ErrorIs(t, err, ErrNoHealthyInstances)
}

func TestMyServiceIsDiscoveredWhereItListens(t *testing.T) {
	ctx := context.Background()
	r, _ := newMyRegistry()
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })
	svc := NewService(r, ServiceConfig{Name: "greeter"}, hello, slog.New(slog.DiscardHandler))
	require.NoError(t, svc.Start(ctx))
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })

	r.Tick(ctx)
	base, err := NewServiceDiscoveryClient(r, nil).GetServiceURL(ctx, "greeter")
	require.NoError(t, err)
	u, err := url.Parse(base)
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	assert.NotZero(t, port, "the registered port is the one the service listens on")
	resp, err := http.Get(base + "/hello")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "hello", string(body))

	require.NoError(t, svc.Shutdown(ctx))
	_, err = NewServiceDiscoveryClient(r, nil).GetServiceURL(ctx, "greeter")
	assert.True(t, errors.Is(err, ErrNoHealthyInstances), "deregistered on shutdown: %v", err)
}
