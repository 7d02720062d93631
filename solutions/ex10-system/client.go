package system

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/breaker"
	"github.com/microservices-workbook/workbook/solutions/ex10-system/internal/discovery"
)

// ErrUnavailable is wrapped by every error of a call that got no usable answer from the called
// service: no healthy instance, a connection refused, a timeout, a 5xx, or a breaker that is
// open. The calling service answers 503 for it.
var ErrUnavailable = errors.New("service unavailable")

// callTransport returns the transport for calls between services: enough idle connections for
// the few hosts a service calls, and no proxy from the environment.
func callTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
}

// caller calls one service: for each call it asks the registry for the healthy instances, lets
// the round robin pick one, and goes through the service's breaker with a timeout. A refused
// connection (nothing was sent) is tried on the next instance.
type caller struct {
	service  string
	registry ServiceRegistry
	balancer *discovery.RoundRobin
	breaker  *breaker.CircuitBreaker
	client   *http.Client
	timeout  time.Duration
}

// newCaller returns the caller of service for one instance, with its own breaker named after
// service, which records its state in metrics.
func newCaller(cfg Config, service string, registry ServiceRegistry, client *http.Client, metrics *breaker.Metrics) *caller {
	return &caller{
		service:  service,
		registry: registry,
		balancer: discovery.NewRoundRobin(),
		client:   client,
		timeout:  cfg.CallTimeout,
		breaker: breaker.NewCircuitBreaker(breaker.CircuitBreakerConfig{
			Name:                   service,
			MaxConsecutiveFailures: cfg.BreakerThreshold,
			OpenTimeout:            cfg.BreakerOpenTimeout,
			Metrics:                metrics,
		}),
	}
}

// call sends method path with in as its JSON body (nil: none) to an instance of the service and
// decodes a 2xx answer into out (nil: dropped). It returns the status of an answer below 500.
// Errors wrap ErrUnavailable; a 4xx is an answer, not an error, and not a failure to the
// breaker.
func (c *caller) call(ctx context.Context, method, path string, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("encode the request to %s: %w", c.service, err)
		}
	}
	var status int
	err := c.breaker.Execute(func() error {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		var err error
		status, err = c.send(ctx, method, path, body, out)
		return err
	})
	if errors.Is(err, breaker.ErrOpenState) || errors.Is(err, breaker.ErrTooManyRequests) {
		return 0, fmt.Errorf("%w: %s: %w", ErrUnavailable, c.service, err)
	}
	return status, err
}

// send makes one call, trying the next instance after a refused connection.
func (c *caller) send(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	var tried []string
	for {
		instances, err := c.registry.Discover(ctx, c.service)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: registry: %w", ErrUnavailable, c.service, err)
		}
		instances = slices.DeleteFunc(instances, func(s ServiceInfo) bool { return slices.Contains(tried, s.ID) })
		if len(instances) == 0 {
			return 0, fmt.Errorf("%w: %s: no healthy instance", ErrUnavailable, c.service)
		}
		slices.SortFunc(instances, func(a, b ServiceInfo) int { return cmp.Compare(a.ID, b.ID) })
		inst, err := c.balancer.Pick(c.service, instances)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", ErrUnavailable, c.service, err)
		}
		status, err := c.sendTo(ctx, inst, method, path, body, out)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			tried = append(tried, inst.ID)
			continue
		}
		return status, err
	}
}

// sendTo makes one call to one instance.
func (c *caller) sendTo(ctx context.Context, inst ServiceInfo, method, path string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, inst.URL()+path, rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrUnavailable, c.service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return 0, fmt.Errorf("%w: %s %s on %s: %s", ErrUnavailable, method, path, inst.ID, resp.Status)
	}
	if resp.StatusCode >= 300 || out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return 0, fmt.Errorf("%w: %s %s on %s: decode the answer: %w", ErrUnavailable, method, path, inst.ID, err)
	}
	return resp.StatusCode, nil
}
