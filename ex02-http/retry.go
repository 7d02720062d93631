package httpcomm

import (
	"context"
	"net/http"
	"time"
)

// backoff returns the wait before retry n (1 for the first retry): BaseDelay·Multiplierⁿ⁻¹,
// capped at MaxDelay, shortened by at most Jitter of it.
func (p RetryPolicy) backoff(n int, rnd func() float64) time.Duration {
	// TODO(ex02.retry-backoff): compute d = BaseDelay·Multiplierⁿ⁻¹ (math.Pow), cap it at
	// MaxDelay, and return d·(1 − Jitter·rnd()).
	return 0
}

// retryAfter returns the wait that a 429 or 503 response asks for in its Retry-After header,
// in seconds. The HTTP-date form is rare between services and is ignored.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	// TODO(ex02.retry-backoff): parse resp.Header.Get("Retry-After") as a whole number of
	// seconds (strconv.Atoi); report false when there is none or it does not parse.
	return 0, false
}

// retryableStatus reports whether a response with this status may succeed when tried again:
// the service is overloaded (429, 503) or a gateway could not reach it (502, 504). Other
// statuses, 4xx above all, would only fail the same way again.
func retryableStatus(code int) bool {
	// TODO(ex02.retry-backoff): true for 429, 502, 503 and 504 only.
	return false
}

// safeToRetry reports whether a request may be sent again: GET, HEAD, PUT and DELETE are
// idempotent, and a POST is when it carries an Idempotency-Key that the service dedupes on.
func safeToRetry(method string, header http.Header) bool {
	// TODO(ex02.retry-backoff): true for the idempotent methods, and for a POST whose header
	// has an Idempotency-Key (idempotencyKeyHeader).
	return false
}

// sleep is the default Sleeper: it waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	// TODO(ex02.cancellation): wait on a time.NewTimer(d) and on ctx.Done() in one select; stop
	// the timer, and return ctx.Err() when the context ended the wait. Never time.Sleep: a
	// cancelled call would sit out the whole wait.
	return ErrNotImplemented
}
