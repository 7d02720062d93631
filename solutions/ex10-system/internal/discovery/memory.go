package discovery

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Clock tells the time. Inject a fake one in tests to move time forward without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// MemoryOption configures a MemoryRegistry.
type MemoryOption func(*MemoryRegistry)

// WithClock sets the clock that decides when checks are due and when a critical instance is
// removed. Default: the system clock.
func WithClock(c Clock) MemoryOption {
	return func(r *MemoryRegistry) { r.clock = c }
}

// WithHTTPClient sets the client that sends the health checks. Default: a new http.Client.
func WithHTTPClient(c *http.Client) MemoryOption {
	return func(r *MemoryRegistry) { r.httpClient = c }
}

// WithLogger sets the logger that records health changes. Default: slog.Default().
func WithLogger(l *slog.Logger) MemoryOption {
	return func(r *MemoryRegistry) { r.logger = l }
}

// MemoryRegistry is a ServiceRegistry that keeps its catalogue in memory and runs the instances'
// HTTP health checks itself, like a Consul agent would. Checks run when Tick or CheckNow is
// called, or every so often while Run is running; time comes from the injected Clock.
//
// An instance with a check starts critical and joins Discover after its first passing check; it
// leaves Discover when a check fails and comes back when one passes again. After failing for
// longer than DeregisterCriticalServiceAfter it is removed. An instance without a check is always
// healthy.
type MemoryRegistry struct {
	clock      Clock
	httpClient *http.Client
	logger     *slog.Logger

	mu        sync.Mutex
	instances map[string]*instance
}

// instance is the registry's record of one registered ServiceInfo.
type instance struct {
	info          ServiceInfo
	passing       bool
	criticalSince time.Time // when the instance last turned critical
	nextCheck     time.Time
}

// NewMemoryRegistry returns an empty registry.
func NewMemoryRegistry(opts ...MemoryOption) *MemoryRegistry {
	r := &MemoryRegistry{
		clock:      systemClock{},
		httpClient: &http.Client{},
		logger:     slog.Default(),
		instances:  map[string]*instance{},
	}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// Register adds the instance, or replaces the one with the same ID. An instance with a health
// check is critical until its first check passes; that check is due at once.
func (r *MemoryRegistry) Register(ctx context.Context, service ServiceInfo) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("register %s: %w", service.ID, err)
	}
	if err := service.validate(); err != nil {
		return err
	}
	service.Tags = slices.Clone(service.Tags)
	if service.Health.HTTP != "" {
		service.Health = service.Health.withDefaults()
	}
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[service.ID] = &instance{
		info:          service,
		passing:       service.Health.HTTP == "",
		criticalSince: now,
		nextCheck:     now,
	}
	return nil
}

// Deregister removes the instance with this ID; an unknown ID is not an error.
func (r *MemoryRegistry) Deregister(ctx context.Context, serviceID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deregister %s: %w", serviceID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.instances, serviceID)
	return nil
}

// Discover returns copies of the passing instances of serviceName, ordered by ID.
func (r *MemoryRegistry) Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover %s: %w", serviceName, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []ServiceInfo{}
	for _, in := range r.instances {
		if in.info.Name == serviceName && in.passing {
			info := in.info
			info.Tags = slices.Clone(info.Tags)
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b ServiceInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Tick runs the checks that are due by the clock, waits for them, and then removes the instances
// that have been critical for longer than their DeregisterCriticalServiceAfter.
func (r *MemoryRegistry) Tick(ctx context.Context) {
	r.runChecks(ctx, false)
}

// CheckNow runs every instance's check at once, due or not, like Tick does.
func (r *MemoryRegistry) CheckNow(ctx context.Context) {
	r.runChecks(ctx, true)
}

// Run calls Tick every interval until ctx is done. Each check still runs on its own Interval:
// interval is only how often Run looks for due checks; zero or less means one second.
func (r *MemoryRegistry) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			r.Tick(ctx)
		}
	}
}

// runChecks runs the due checks (all of them when all is set) without holding the lock, then
// records their results and reaps the instances that stayed critical too long.
func (r *MemoryRegistry) runChecks(ctx context.Context, all bool) {
	type probe struct {
		inst   *instance
		check  HealthCheck
		passed bool
	}
	now := r.clock.Now()
	var probes []*probe
	r.mu.Lock()
	for _, in := range r.instances {
		if in.info.Health.HTTP == "" || (!all && now.Before(in.nextCheck)) {
			continue
		}
		in.nextCheck = now.Add(in.info.Health.Interval)
		probes = append(probes, &probe{inst: in, check: in.info.Health})
	}
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Go(func() { p.passed = r.check(ctx, p.check) })
	}
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range probes {
		in := p.inst
		if r.instances[in.info.ID] != in {
			continue // deregistered or replaced while the check ran
		}
		if p.passed != in.passing {
			r.logger.InfoContext(ctx, "health changed", "service", in.info.Name, "id", in.info.ID, "passing", p.passed)
		}
		if !p.passed && in.passing {
			in.criticalSince = now
		}
		in.passing = p.passed
	}
	for id, in := range r.instances {
		limit := in.info.Health.DeregisterCriticalServiceAfter
		if !in.passing && in.info.Health.HTTP != "" && now.Sub(in.criticalSince) > limit {
			r.logger.InfoContext(ctx, "deregistered critical instance", "service", in.info.Name, "id", id, "critical_for", now.Sub(in.criticalSince))
			delete(r.instances, id)
		}
	}
}

// check sends one health check and reports whether it passed: a 2xx within the timeout.
func (r *MemoryRegistry) check(ctx context.Context, h HealthCheck) bool {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.HTTP, nil)
	if err != nil {
		return false
	}
	resp, err := r.httpClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
