package breaker

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// maxDrain bounds how much of an error response's body is read so that its connection can be
// reused; a longer body is cut off and its connection closed.
const maxDrain = 64 << 10

// StatusError reports a response with a 5xx status. Its body has already been read and closed.
type StatusError struct {
	StatusCode int
}

// Error returns the status code and text, such as "server error: 503 Service Unavailable".
func (e *StatusError) Error() string {
	return fmt.Sprintf("server error: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// ResilientHTTPClient sends HTTP requests through a circuit breaker. Transport errors and 5xx
// responses count as failures of the server; any other response, 4xx included, is the server
// working as it should and counts as a success.
type ResilientHTTPClient struct {
	client  *http.Client
	breaker *CircuitBreaker
}

// NewResilientHTTPClient returns a client that sends its requests with client through breaker.
// A nil client means http.DefaultClient; a nil breaker means one with the default configuration.
func NewResilientHTTPClient(client *http.Client, breaker *CircuitBreaker) *ResilientHTTPClient {
	if client == nil {
		client = http.DefaultClient
	}
	if breaker == nil {
		breaker = NewCircuitBreaker(CircuitBreakerConfig{})
	}
	return &ResilientHTTPClient{client: client, breaker: breaker}
}

// Get sends a GET request for url. It returns the response for any status below 500; the caller
// closes its body. A 5xx response comes back as a *StatusError, its body drained and closed.
// While the breaker is open or has too many trial requests, Get sends nothing and returns an
// error wrapping ErrOpenState or ErrTooManyRequests.
func (c *ResilientHTTPClient) Get(ctx context.Context, url string) (*http.Response, error) {
	// A malformed request is the caller's mistake, not the server's: build it outside the breaker.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}

	var resp *http.Response
	err = c.breaker.Execute(func() error {
		r, err := c.client.Do(req)
		if err != nil {
			return err
		}
		if r.StatusCode >= http.StatusInternalServerError {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
			_ = r.Body.Close()
			return &StatusError{StatusCode: r.StatusCode}
		}
		resp = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return resp, nil
}
