package httpcomm

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoff returns the wait before retry n (1 for the first retry): BaseDelay·Multiplierⁿ⁻¹,
// capped at MaxDelay, shortened by at most Jitter of it.
func (p RetryPolicy) backoff(n int, rnd func() float64) time.Duration {
	d := float64(p.BaseDelay) * math.Pow(p.Multiplier, float64(n-1))
	d = math.Min(d, float64(p.MaxDelay)) // also keeps a huge power from overflowing the Duration
	return time.Duration(d * (1 - p.Jitter*rnd()))
}

// retryAfter returns the wait that a 429 or 503 response asks for in its Retry-After header,
// in seconds. The HTTP-date form is rare between services and is ignored.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// retryableStatus reports whether a response with this status may succeed when tried again:
// the service is overloaded (429, 503) or a gateway could not reach it (502, 504). Other
// statuses, 4xx above all, would only fail the same way again.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// safeToRetry reports whether a request may be sent again: GET, HEAD, PUT and DELETE are idempotent,
// and a POST is when it carries an Idempotency-Key that the service dedupes on.
func safeToRetry(method string, header http.Header) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return method == http.MethodPost && header.Get(idempotencyKeyHeader) != ""
}

// sleep is the default Sleeper: it waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
