package gateway

import (
	"net/http"
	"time"
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

// RateLimiter decides whether a client may make one more request now.
type RateLimiter interface {
	Allow(clientID string) bool
}

// RateLimitMiddleware refuses, with 429 and a Retry-After header, the requests of a client
// that limiter does not allow. The client is the subject of the request's token when
// AuthMiddleware has verified one, else the client's IP address. Retry-After is the whole
// seconds, rounded up, until the client's bucket has a token again when limiter can tell
// (ClientRateLimiter can), else 1. A nil limiter limits nothing.
func RateLimitMiddleware(limiter RateLimiter) Middleware {
	// TODO(ex06.rate-limiting): find the client (see above; the client's IP address comes from
	// X-Forwarded-For only behind Config.TrustedProxies), ask the limiter, and answer 429 with
	// Retry-After and a JSON error when it says no. Count it in gateway_rate_limited_total.
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotImplemented, ErrNotImplemented.Error())
		})
	}
}

// ClientRateLimiter is a RateLimiter with a token bucket (golang.org/x/time/rate) for each
// client. It forgets a bucket once it has been left alone long enough to be full again
// (Burst ÷ RequestsPerSecond): a full bucket acts exactly like a new one, so forgetting it
// changes no answer, and memory holds only the clients seen recently. It is safe for
// concurrent use.
type ClientRateLimiter struct {
	// TODO(ex06.rate-limiting): the limit, the clock, and a map of buckets under a mutex.
}

// NewClientRateLimiter returns a limiter that gives each client the bucket that limit
// describes, on clock (nil: the system clock). An invalid limit is an error wrapping
// ErrInvalidConfig.
func NewClientRateLimiter(limit RateLimit, clock Clock) (*ClientRateLimiter, error) {
	// TODO(ex06.rate-limiting): refuse a RequestsPerSecond that is not positive (or is
	// infinite) and a negative Burst; default Burst to RequestsPerSecond rounded up.
	return nil, ErrNotImplemented
}

// Allow takes a token from the client's bucket, and reports whether there was one.
func (l *ClientRateLimiter) Allow(clientID string) bool {
	ok, _ := l.Take(clientID)
	return ok
}

// Take takes a token from the client's bucket if there is one; if there is none, it returns
// how long until there is.
func (l *ClientRateLimiter) Take(clientID string) (ok bool, wait time.Duration) {
	// TODO(ex06.rate-limiting): one *rate.Limiter per client, used with AllowN(now, 1) where now
	// comes from the clock; when it refuses, the wait is the missing part of a token
	// (1 - TokensAt(now)) divided by the rate. Forget the buckets that are full again (idle for
	// Burst ÷ RequestsPerSecond), sweeping at most once per such period.
	return false, 0
}

// Len returns the number of buckets the limiter holds.
func (l *ClientRateLimiter) Len() int {
	// TODO(ex06.rate-limiting): the size of the map of buckets.
	return 0
}
