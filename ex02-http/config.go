package httpcomm

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// Config configures a client. The zero value of each field means its default, written in the
// field's doc comment. Set it through the Option functions.
type Config struct {
	// Timeout bounds one attempt, from sending the request to reading the whole response body.
	// Default: 5s. The caller's context can cut a call shorter, never longer.
	Timeout time.Duration
	// Retry says when and how long to wait before trying a request again.
	Retry RetryPolicy
	// Sleeper waits between attempts. Default: a timer that stops early, with ctx.Err(), when
	// the context is done.
	Sleeper Sleeper
	// Rand returns a number in [0, 1) that spreads the waits (see RetryPolicy.Jitter). It must be
	// safe for concurrent use. Default: math/rand/v2.Float64.
	Rand func() float64
	// MaxIdleConnsPerHost is how many idle connections to one host the transport keeps for reuse.
	// Default: 16.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost caps the connections to one host, idle or in use; more requests wait for a
	// free one. Default: 64.
	MaxConnsPerHost int
	// HTTPClient, when set, is used as it is: Timeout, MaxIdleConnsPerHost and MaxConnsPerHost
	// are then ignored. Default: a client built from those fields, with its own transport.
	HTTPClient *http.Client
	// NoIdempotencyKeys sends POST requests without an Idempotency-Key header. They are then
	// never retried: the service could not tell a retry from a second request. Default: false.
	NoIdempotencyKeys bool
	// Logger receives a line for each retry. Default: a logger that discards everything.
	Logger *slog.Logger
}

// RetryPolicy says when and how long to wait before trying a request again. A request is
// retried when it is safe to send twice (a GET, or a POST with an Idempotency-Key header) and
// it failed in a way that may pass: a transport error or timeout, or a 429, 502, 503 or 504.
//
// The wait before retry n (1 for the first retry) is BaseDelay·Multiplierⁿ⁻¹, capped at
// MaxDelay, then shortened by a random part of at most Jitter of it: with d the capped delay
// and r from Config.Rand, the wait is d·(1 − Jitter·r). A Retry-After header of the response
// (in seconds) replaces the computed wait, capped at MaxDelay, without jitter.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first one included; 1 turns retries off.
	// Default: 3.
	MaxAttempts int
	// BaseDelay is the wait before the first retry. Default: 100ms.
	BaseDelay time.Duration
	// MaxDelay caps every wait. Default: 2s.
	MaxDelay time.Duration
	// Multiplier is how much each wait grows over the one before; values below 1 mean the
	// default. Default: 2.
	Multiplier float64
	// Jitter is the largest fraction of a wait that is random, from 0 to 1; a negative value
	// turns jitter off. Default: 0.2.
	Jitter float64
}

// Sleeper waits for d, or until ctx is done, whichever comes first; it then returns ctx.Err().
// Tests inject one to see the waits without sleeping.
type Sleeper func(ctx context.Context, d time.Duration) error

// Option configures a client.
type Option func(*Config)

// WithTimeout sets Config.Timeout, the bound on each attempt.
func WithTimeout(d time.Duration) Option { return func(c *Config) { c.Timeout = d } }

// WithRetryPolicy sets Config.Retry.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Config) { c.Retry = p } }

// WithSleeper sets Config.Sleeper, what waits between attempts.
func WithSleeper(s Sleeper) Option { return func(c *Config) { c.Sleeper = s } }

// WithRand sets Config.Rand, the source of jitter.
func WithRand(rnd func() float64) Option { return func(c *Config) { c.Rand = rnd } }

// WithConnectionLimits sets Config.MaxIdleConnsPerHost and Config.MaxConnsPerHost.
func WithConnectionLimits(maxIdlePerHost, maxPerHost int) Option {
	return func(c *Config) {
		c.MaxIdleConnsPerHost = maxIdlePerHost
		c.MaxConnsPerHost = maxPerHost
	}
}

// WithHTTPClient sets Config.HTTPClient, a client used as it is.
func WithHTTPClient(client *http.Client) Option { return func(c *Config) { c.HTTPClient = client } }

// WithoutIdempotencyKeys sets Config.NoIdempotencyKeys: POSTs carry no Idempotency-Key and are
// never retried.
func WithoutIdempotencyKeys() Option { return func(c *Config) { c.NoIdempotencyKeys = true } }

// WithLogger sets Config.Logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// newConfig applies opts to a zero Config and fills in the defaults.
func newConfig(opts []Option) Config {
	var c Config
	for _, opt := range opts {
		opt(&c)
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Retry.MaxAttempts <= 0 {
		c.Retry.MaxAttempts = 3
	}
	if c.Retry.BaseDelay <= 0 {
		c.Retry.BaseDelay = 100 * time.Millisecond
	}
	if c.Retry.MaxDelay <= 0 {
		c.Retry.MaxDelay = 2 * time.Second
	}
	if c.Retry.Multiplier < 1 {
		c.Retry.Multiplier = 2
	}
	switch {
	case c.Retry.Jitter == 0:
		c.Retry.Jitter = 0.2
	case c.Retry.Jitter < 0:
		c.Retry.Jitter = 0
	case c.Retry.Jitter > 1:
		c.Retry.Jitter = 1
	}
	if c.Sleeper == nil {
		c.Sleeper = sleep
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = 16
	}
	if c.MaxConnsPerHost <= 0 {
		c.MaxConnsPerHost = 64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// newHTTPClient returns the client that sends c's requests: one transport per client, so that
// every call to the same service shares one pool of keep-alive connections.
func newHTTPClient(c Config) *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	// TODO(ex02.timeout): give the client c.Timeout, so that no attempt waits forever for an
	// answer, or for the end of its body.
	// TODO(ex02.pooling): give the client a transport of its own (clone http.DefaultTransport)
	// with c.MaxIdleConnsPerHost and c.MaxConnsPerHost.
	return &http.Client{}
}
