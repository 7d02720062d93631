package httpcomm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
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

// outcome is the result of one attempt.
type outcome struct {
	err error
	// retryable is set when the failure may pass if the request is sent again.
	retryable bool
	// retryAfter is the wait the response asked for, when hasRetryAfter is set.
	retryAfter    time.Duration
	hasRetryAfter bool
}

// do sends a request to path, with in (when not nil) as its JSON body, and decodes the JSON
// body of a successful response into out (when not nil). It retries as a.cfg.Retry says.
func (a *api) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	header := http.Header{"Accept": {"application/json"}}
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", method, path, err)
		}
		header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost && !a.cfg.NoIdempotencyKeys {
		// One key per logical call, the same on every attempt: that is what lets the service
		// answer a retry with the response of the first attempt instead of acting twice.
		header.Set(idempotencyKeyHeader, rand.Text())
	}

	policy := a.cfg.Retry
	for attempt := 1; ; attempt++ {
		o := a.attempt(ctx, method, a.baseURL+path, header, body, out)
		if o.err == nil {
			return nil
		}
		if !o.retryable || !safeToRetry(method, header) || attempt >= policy.MaxAttempts || ctx.Err() != nil {
			if attempt > 1 {
				return fmt.Errorf("%s %s: attempt %d of %d: %w", method, path, attempt, policy.MaxAttempts, o.err)
			}
			return fmt.Errorf("%s %s: %w", method, path, o.err)
		}

		wait := policy.backoff(attempt, a.cfg.Rand)
		if o.hasRetryAfter {
			wait = min(o.retryAfter, policy.MaxDelay)
		}
		a.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "retrying request",
			slog.String("method", method), slog.String("path", path),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("error", o.err))
		if err := a.cfg.Sleeper(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: waiting to retry: %w", method, path, err)
		}
	}
}

// attempt sends the request once and reads its response.
func (a *api) attempt(ctx context.Context, method, url string, header http.Header, body []byte, out any) outcome {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body) // a fresh reader per attempt: the last one was consumed
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		return outcome{err: err}
	}
	req.Header = header.Clone()

	resp, err := a.client.Do(req)
	if err != nil {
		return outcome{err: transportError(ctx, err), retryable: true}
	}
	// Whatever happens below, read the rest of the body and close it, so that the connection
	// goes back to the pool instead of being torn down.
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()

	if resp.StatusCode >= http.StatusBadRequest {
		o := outcome{err: errorFromResponse(resp), retryable: retryableStatus(resp.StatusCode)}
		o.retryAfter, o.hasRetryAfter = retryAfter(resp)
		return o
	}

	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		// The body was cut short: by the timeout, the context or the network.
		return outcome{err: transportError(ctx, err), retryable: true}
	}
	if len(data) > MaxResponseBytes {
		return outcome{err: fmt.Errorf("%w: the body is larger than %d bytes", ErrBadResponse, MaxResponseBytes)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return outcome{err: fmt.Errorf("%w: decoding the body: %w", ErrBadResponse, err)}
		}
	}
	return outcome{}
}

// transportError explains why a request got no (complete) response: the caller's context is
// done, an attempt timed out, or the network failed.
func transportError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrTimeout, ctxErr)
		}
		return ctxErr
	}
	if netErr, ok := errors.AsType[net.Error](err); ok && netErr.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// CloseIdleConnections closes the connections of the client's pool that are not in use. Call
// it when you are done with a client; connections in use are closed when their calls end.
func (a *api) CloseIdleConnections() { a.client.CloseIdleConnections() }
