package gateway

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket for each client: a bucket holds up to Burst tokens, refills at
// RequestsPerSecond, and each request takes one token or is refused.
type RateLimit struct {
	// RequestsPerSecond is the rate at which a bucket refills. Required: positive.
	RequestsPerSecond float64
	// Burst is the size of a bucket: how many requests a client that has been quiet may make
	// at once. Default: RequestsPerSecond rounded up.
	Burst int
}

// validate reports why l cannot be used, wrapping ErrInvalidConfig.
func (l RateLimit) validate() error {
	if !(l.RequestsPerSecond > 0) || math.IsInf(l.RequestsPerSecond, 0) || l.Burst < 0 {
		return fmt.Errorf("%w: rate limit %v/s with burst %d", ErrInvalidConfig, l.RequestsPerSecond, l.Burst)
	}
	return nil
}

// burst returns Burst, or its default.
func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return int(max(1, math.Ceil(l.RequestsPerSecond)))
}

// RateLimiter decides whether a client may make one more request now.
type RateLimiter interface {
	Allow(clientID string) bool
}

// tokenTaker is a RateLimiter that can also tell a refused client how long to wait, as
// ClientRateLimiter does.
type tokenTaker interface {
	Take(clientID string) (ok bool, wait time.Duration)
}

// RateLimitMiddleware refuses, with 429 and a Retry-After header, the requests of a client
// that limiter does not allow. The client is the subject of the request's token when
// AuthMiddleware has verified one, else the client's IP address. Retry-After is the whole
// seconds, rounded up, until the client's bucket has a token again when limiter can tell
// (ClientRateLimiter can), else 1. A nil limiter limits nothing.
func RateLimitMiddleware(limiter RateLimiter) Middleware {
	return func(next http.Handler) http.Handler {
		if limiter == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := stateOf(r.Context())
			var id string
			if st != nil {
				id = st.clientID()
			} else {
				id = peerIP(r).String()
			}
			ok, wait := false, time.Second
			if t, isTaker := limiter.(tokenTaker); isTaker {
				ok, wait = t.Take(id)
			} else {
				ok = limiter.Allow(id)
			}
			if !ok {
				if st != nil {
					st.gw.metrics.rateLimited(st.route.Path)
				}
				w.Header().Set("Retry-After", strconv.FormatInt(int64(max(1, math.Ceil(wait.Seconds()))), 10))
				writeError(w, http.StatusTooManyRequests, "rate limit exceeded")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClientRateLimiter is a RateLimiter with a token bucket (golang.org/x/time/rate) for each
// client. It forgets a bucket once it has been left alone long enough to be full again
// (Burst ÷ RequestsPerSecond): a full bucket acts exactly like a new one, so forgetting it
// changes no answer, and memory holds only the clients seen recently. It is safe for
// concurrent use.
type ClientRateLimiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration // how long an untouched bucket takes to fill up
	clock Clock

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// NewClientRateLimiter returns a limiter that gives each client the bucket that limit
// describes, on clock (nil: the system clock). An invalid limit is an error wrapping
// ErrInvalidConfig.
func NewClientRateLimiter(limit RateLimit, clock Clock) (*ClientRateLimiter, error) {
	if err := limit.validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = systemClock{}
	}
	burst := limit.burst()
	return &ClientRateLimiter{
		limit:   rate.Limit(limit.RequestsPerSecond),
		burst:   burst,
		idle:    time.Duration(float64(burst) / limit.RequestsPerSecond * float64(time.Second)),
		clock:   clock,
		buckets: map[string]*bucket{},
	}, nil
}

// Allow takes a token from the client's bucket, and reports whether there was one.
func (l *ClientRateLimiter) Allow(clientID string) bool {
	ok, _ := l.Take(clientID)
	return ok
}

// Take takes a token from the client's bucket if there is one; if there is none, it returns
// how long until there is.
func (l *ClientRateLimiter) Take(clientID string) (ok bool, wait time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[clientID]
	if b == nil {
		b = &bucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[clientID] = b
	}
	b.lastSeen = now
	if b.limiter.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.limiter.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// Len returns the number of buckets the limiter holds.
func (l *ClientRateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweep forgets the buckets that are full again, at most once per idle period, so that its
// cost spreads over the requests of that period. The caller holds l.mu.
func (l *ClientRateLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	for id, b := range l.buckets {
		if now.Sub(b.lastSeen) >= l.idle {
			delete(l.buckets, id)
		}
	}
	l.nextSweep = now.Add(l.idle)
}
