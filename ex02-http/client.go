package httpcomm

import (
	"context"
	"net/http"
	"strings"
)

// idempotencyKeyHeader names the header that lets a service recognise a retried POST: it
// stores the response of the first request with a key and answers later ones with the same.
const idempotencyKeyHeader = "Idempotency-Key"

// maxDrain bounds how much of a body is read before closing it, so that its connection can go
// back to the pool; a longer rest is cut off and its connection closed.
const maxDrain = 64 << 10

// api is what the three service clients share: the service's address, the HTTP client with its
// pooled transport, and the retry policy.
type api struct {
	baseURL string
	client  *http.Client
	cfg     Config
}

func newAPI(baseURL string, opts []Option) api {
	cfg := newConfig(opts)
	return api{baseURL: strings.TrimRight(baseURL, "/"), client: newHTTPClient(cfg), cfg: cfg}
}

// do sends a request to path, with in (when not nil) as its JSON body, and decodes the JSON
// body of a successful response into out (when not nil). It retries as a.cfg.Retry says.
func (a *api) do(ctx context.Context, method, path string, in, out any) error {
	// TODO(ex02.http-errors): send in, when not nil, as a JSON body with the header
	// Content-Type: application/json.
	// TODO(ex02.retry-backoff): encode in with json.Marshal once, before the first attempt. For
	// a POST (unless a.cfg.NoIdempotencyKeys), make one Idempotency-Key (crypto/rand.Text) and
	// send it on every attempt of this call. Loop over the attempts: stop on success, on an
	// error that is not worth retrying (a status that retryableStatus refuses; a transport error
	// or a timed-out attempt is worth retrying), on a request that is not safe to send twice
	// (safeToRetry), or after a.cfg.Retry.MaxAttempts. Before
	// each retry wait a.cfg.Retry.backoff(n, a.cfg.Rand), or what Retry-After asks (capped at
	// MaxDelay), with a.cfg.Sleeper; log the retry with a.cfg.Logger.
	// TODO(ex02.cancellation): build each request with http.NewRequestWithContext(ctx, …); do not
	// retry once ctx is done, and return the sleeper's error when it was cut short.
	// TODO(ex02.timeout): an attempt that took longer than the timeout fails with an error
	// wrapping ErrTimeout (errors.As a net.Error whose Timeout() is true); a call past ctx's
	// deadline with an error wrapping both ErrTimeout and context.DeadlineExceeded.
	// TODO(ex02.http-errors): a status of 400 or more becomes errorFromResponse(resp); read a
	// successful body through io.LimitReader(resp.Body, MaxResponseBytes+1): more than
	// MaxResponseBytes, or JSON that does not decode into out, is an error wrapping ErrBadResponse.
	// TODO(ex02.pooling): whatever happens, read what is left of the body (at most maxDrain
	// bytes) and close it, so that the connection goes back to the pool.
	return ErrNotImplemented
}

// CloseIdleConnections closes the connections of the client's pool that are not in use. Call
// it when you are done with a client; connections in use are closed when their calls end.
func (a *api) CloseIdleConnections() { a.client.CloseIdleConnections() }
