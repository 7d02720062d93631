package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"
)

// Test doubles shared by the tests of this package.

// errRegistryDown is what a failing registry returns in these tests.
var errRegistryDown = errors.New("registry unavailable")

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock returns a clock set far from the real time, so that code reading time.Now instead
// of its Clock is caught.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// quietLogger discards what the code under test logs.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newMemoryRegistry returns a registry on a fake clock, with a discarded log.
func newMemoryRegistry(t *testing.T) (*MemoryRegistry, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	r := NewMemoryRegistry(WithClock(clock), WithLogger(quietLogger()))
	require.NotNil(t, r, "NewMemoryRegistry must not return nil")
	return r, clock
}

// backend is a service instance's health endpoint whose answer the test flips.
type backend struct {
	srv     *httptest.Server
	healthy atomic.Bool
	checks  atomic.Int64
}

// newBackend starts a healthy backend; its /health answers 200 while healthy and 503 otherwise.
func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.healthy.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		b.checks.Add(1)
		if !b.healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) setHealthy(ok bool) { b.healthy.Store(ok) }

// hostPort returns the backend's address and port.
func (b *backend) hostPort(t *testing.T) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(b.srv.Listener.Addr().String())
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return host, p
}

// instance returns a registration of the backend as id of service name, checked every interval.
func (b *backend) instance(t *testing.T, id, name string, interval time.Duration, tags ...string) ServiceInfo {
	t.Helper()
	host, port := b.hostPort(t)
	return ServiceInfo{
		ID: id, Name: name, Address: host, Port: port, Tags: tags,
		Health: HealthCheck{
			HTTP:                           b.srv.URL + "/health",
			Interval:                       interval,
			Timeout:                        time.Second,
			DeregisterCriticalServiceAfter: time.Minute,
		},
	}
}

// endpoint summarises what a registry must give back of an instance.
func endpoint(s ServiceInfo) string {
	tags := slices.Clone(s.Tags)
	slices.Sort(tags)
	return fmt.Sprintf("%s name=%s at=%s:%d tags=%v", s.ID, s.Name, s.Address, s.Port, tags)
}

// endpoints summarises instances, ordered by ID.
func endpoints(infos []ServiceInfo) []string {
	out := []string{}
	for _, s := range infos {
		out = append(out, endpoint(s))
	}
	slices.Sort(out)
	return out
}

// ids returns the IDs of instances, sorted.
func ids(infos []ServiceInfo) []string {
	out := []string{}
	for _, s := range infos {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

// recordingRegistry wraps a registry and records the calls made to it. onRegister and
// onDeregister, when set, run at the start of Register and Deregister, before the call reaches
// the wrapped registry.
type recordingRegistry struct {
	ServiceRegistry
	onRegister   func(ctx context.Context, s ServiceInfo)
	onDeregister func(ctx context.Context, id string)

	mu           sync.Mutex
	registered   []ServiceInfo
	deregistered []string
}

func (r *recordingRegistry) Register(ctx context.Context, s ServiceInfo) error {
	if r.onRegister != nil {
		r.onRegister(ctx, s)
	}
	r.mu.Lock()
	s.Tags = slices.Clone(s.Tags)
	r.registered = append(r.registered, s)
	r.mu.Unlock()
	return r.ServiceRegistry.Register(ctx, s)
}

func (r *recordingRegistry) Deregister(ctx context.Context, id string) error {
	if r.onDeregister != nil {
		r.onDeregister(ctx, id)
	}
	r.mu.Lock()
	r.deregistered = append(r.deregistered, id)
	r.mu.Unlock()
	return r.ServiceRegistry.Deregister(ctx, id)
}

func (r *recordingRegistry) calls() (registered []ServiceInfo, deregistered []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.registered), slices.Clone(r.deregistered)
}

// failingRegistry fails every call with errRegistryDown.
type failingRegistry struct{}

func (failingRegistry) Register(context.Context, ServiceInfo) error { return errRegistryDown }
func (failingRegistry) Deregister(context.Context, string) error    { return errRegistryDown }
func (failingRegistry) Discover(context.Context, string) ([]ServiceInfo, error) {
	return nil, errRegistryDown
}

// shufflingRegistry returns a fixed list of instances, in a different order on every call, as a
// registry is free to.
type shufflingRegistry struct {
	instances []ServiceInfo
	calls     atomic.Int64
}

func (r *shufflingRegistry) Register(context.Context, ServiceInfo) error { return nil }
func (r *shufflingRegistry) Deregister(context.Context, string) error    { return nil }
func (r *shufflingRegistry) Discover(context.Context, string) ([]ServiceInfo, error) {
	out := slices.Clone(r.instances)
	if r.calls.Add(1)%2 == 0 {
		slices.Reverse(out)
	}
	return out, nil
}

// staticInstances returns n instances of name, at distinct ports, with IDs name-1 … name-n.
func staticInstances(name string, n int) []ServiceInfo {
	var out []ServiceInfo
	for i := 1; i <= n; i++ {
		out = append(out, ServiceInfo{ID: fmt.Sprintf("%s-%d", name, i), Name: name, Address: "10.0.0." + strconv.Itoa(i), Port: 8000 + i})
	}
	return out
}

// fakeAgent stands in for a Consul agent's HTTP API. It keeps the services registered with it,
// answers the agent's service endpoints from them, answers health queries with the canned
// entries it was given (only those whose checks all pass when the query asks for passing ones),
// and records every request.
type fakeAgent struct {
	srv    *httptest.Server
	health []*consul.ServiceEntry

	mu         sync.Mutex
	requests   []agentRequest
	services   map[string]consul.AgentServiceRegistration
	healthDown bool // health queries answer 500
}

// agentRequest is one request received by the fake agent.
type agentRequest struct {
	method, path string
	query        map[string][]string
	body         []byte
}

func newFakeAgent(t *testing.T, health ...*consul.ServiceEntry) *fakeAgent {
	t.Helper()
	a := &fakeAgent{health: health, services: map[string]consul.AgentServiceRegistration{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, agentRequest{method: r.Method, path: r.URL.Path, query: r.URL.Query(), body: body})
	writeJSON := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Consul-Index", "1")
		_ = json.NewEncoder(w).Encode(v)
	}
	serviceID, isService := strings.CutPrefix(r.URL.Path, "/v1/agent/service/")
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/v1/agent/service/register":
		var reg consul.AgentServiceRegistration
		if err := json.Unmarshal(body, &reg); err != nil || reg.ID == "" {
			http.Error(w, "bad registration", http.StatusBadRequest)
			return
		}
		a.services[reg.ID] = reg
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/"):
		id := strings.TrimPrefix(serviceID, "deregister/")
		if _, ok := a.services[id]; !ok {
			http.Error(w, "Unknown service ID "+strconv.Quote(id), http.StatusNotFound)
			return
		}
		delete(a.services, id)
	case r.Method == http.MethodGet && isService:
		reg, ok := a.services[serviceID]
		if !ok {
			http.Error(w, "Unknown service ID "+strconv.Quote(serviceID), http.StatusNotFound)
			return
		}
		writeJSON(consul.AgentService{ID: reg.ID, Service: reg.Name, Address: reg.Address, Port: reg.Port, Tags: reg.Tags})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/agent/services":
		out := map[string]consul.AgentService{}
		for id, reg := range a.services {
			out[id] = consul.AgentService{ID: reg.ID, Service: reg.Name, Address: reg.Address, Port: reg.Port, Tags: reg.Tags}
		}
		writeJSON(out)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
		if a.healthDown {
			http.Error(w, "agent unavailable", http.StatusInternalServerError)
			return
		}
		passing, onlyPassing := r.URL.Query()["passing"]
		onlyPassing = onlyPassing && (len(passing) == 0 || (passing[0] != "0" && passing[0] != "false"))
		out := []*consul.ServiceEntry{}
		for _, e := range a.health {
			if !onlyPassing || e.Checks.AggregatedStatus() == consul.HealthPassing {
				out = append(out, e)
			}
		}
		writeJSON(out)
	default:
		http.Error(w, "unexpected request", http.StatusNotFound)
	}
}

// registry returns a ConsulServiceRegistry that talks to the fake agent.
func (a *fakeAgent) registry(t *testing.T) *ConsulServiceRegistry {
	t.Helper()
	r, err := NewConsulServiceRegistry(&consul.Config{Address: a.srv.URL})
	require.NoError(t, err, "NewConsulServiceRegistry")
	require.NotNil(t, r, "NewConsulServiceRegistry must not return nil")
	return r
}

// add registers a service with the agent directly, as if another client had.
func (a *fakeAgent) add(reg consul.AgentServiceRegistration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.services[reg.ID] = reg
}

// service returns the registration the agent holds for id.
func (a *fakeAgent) service(id string) (consul.AgentServiceRegistration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reg, ok := a.services[id]
	return reg, ok
}

// setHealthDown makes health queries fail with 500 (or work again).
func (a *fakeAgent) setHealthDown(down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.healthDown = down
}

// received returns the requests the fake agent got for method and path (a prefix when it ends
// with "/").
func (a *fakeAgent) received(method, path string) []agentRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []agentRequest
	for _, r := range a.requests {
		if r.method == method && (r.path == path || strings.HasSuffix(path, "/") && strings.HasPrefix(r.path, path)) {
			out = append(out, r)
		}
	}
	return out
}

// all returns every request the fake agent got, as "METHOD path".
func (a *fakeAgent) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.requests {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

// get sends a GET to url with a bounded wait and returns the status, or the error.
func get(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	// A fresh transport: no kept-alive connection hides a closed listener.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
