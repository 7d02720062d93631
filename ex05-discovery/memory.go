package discovery

import (
	"context"
	"log/slog"
	"net/http"
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
	// TODO(ex05.auto-registration): check ctx, validate service, store a copy (clone Tags) with the
	// check's defaults applied. Passing at once when it has no check; else critical, check due now.
	return ErrNotImplemented
}

// Deregister removes the instance with this ID; an unknown ID is not an error.
func (r *MemoryRegistry) Deregister(ctx context.Context, serviceID string) error {
	// TODO(ex05.auto-registration): check ctx, then delete the instance.
	return ErrNotImplemented
}

// Discover returns copies of the passing instances of serviceName, ordered by ID.
func (r *MemoryRegistry) Discover(ctx context.Context, serviceName string) ([]ServiceInfo, error) {
	// TODO(ex05.health-checks): check ctx, return copies of the passing instances of serviceName
	// (an empty slice when there is none), ordered by ID.
	return nil, ErrNotImplemented
}

// Tick runs the checks that are due by the clock, waits for them, and then removes the instances
// that have been critical for longer than their DeregisterCriticalServiceAfter.
func (r *MemoryRegistry) Tick(ctx context.Context) {
	// TODO(ex05.health-checks): under the lock, pick the instances whose nextCheck has come (by
	// r.clock) and move their nextCheck one Interval on; run their checks without the lock
	// (GET Health.HTTP with r.httpClient and a Health.Timeout deadline; a 2xx passes); then, under
	// the lock again, record the results (note when an instance turns critical; skip a result for
	// an instance deregistered or registered again meanwhile) and remove the instances that have
	// been critical for longer than DeregisterCriticalServiceAfter.
}

// CheckNow runs every instance's check at once, due or not, like Tick does.
func (r *MemoryRegistry) CheckNow(ctx context.Context) {
	// TODO(ex05.health-checks): as Tick, but check every instance that has a check.
}

// Run calls Tick every interval until ctx is done. Each check still runs on its own Interval:
// interval is only how often Run looks for due checks; zero or less means one second.
func (r *MemoryRegistry) Run(ctx context.Context, interval time.Duration) {
	// TODO(ex05.health-checks): a time.Ticker loop that calls r.Tick until ctx is done.
}
