package httpcomm

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The criteria tests of exercise 02, one per criterion of criteria.json. The services they call
// are in services_test.go.

// promptly bounds every wait of these tests for something that should happen at once, such as
// a call returning after its timeout or its cancellation. It is generous on purpose: a loaded
// machine must not fail a correct solution.
const promptly = 3 * time.Second

// sleepRecorder is a Sleeper that records the waits it is asked for and returns at once.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleepRecorder) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// noJitter is a Rand that makes every wait exactly the computed backoff.
func noJitter() float64 { return 0 }

// step is how a scriptedServer answers one request.
type step struct {
	status int               // 200 when zero
	header map[string]string // extra response headers
	body   string            // for a status of 400 or more, a JSON error body when empty
	// block waits, without answering, until the client gives up or the test ends.
	block bool
	// stallBody sends the headers and part of a body, then blocks like block.
	stallBody bool
	// hangUp closes the connection without answering.
	hangUp bool
}

// scriptedServer answers the n-th request with the n-th step of its script; the last step
// repeats. It counts the requests and logs them.
type scriptedServer struct {
	*httptest.Server
	hits    atomic.Int32
	log     requestLog
	arrived chan struct{} // one value per request, sent when the request arrives
}

func newScriptedServer(t *testing.T, script ...step) *scriptedServer {
	t.Helper()
	require.NotEmpty(t, script)
	s := &scriptedServer{arrived: make(chan struct{}, 1000)}
	released := make(chan struct{})
	s.Server = httptest.NewServer(s.log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.hits.Add(1))
		st := script[min(n, len(script))-1]
		select {
		case s.arrived <- struct{}{}:
		default:
		}
		switch {
		case st.hangUp:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		case st.block:
			select {
			case <-r.Context().Done():
			case <-released:
			}
			return
		case st.stallBody:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"id":"u1","email":`))
			_ = http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-released:
			}
			return
		}
		status, body := st.status, st.body
		if status == 0 {
			status = http.StatusOK
		}
		if body == "" && status >= http.StatusBadRequest {
			body = fmt.Sprintf(`{"error":%q}`, http.StatusText(status))
		}
		w.Header().Set("Content-Type", "application/json")
		for k, v := range st.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(released) }) // runs first: Close waits for blocked handlers
	return s
}

// inBackground runs call in a goroutine and returns where its error arrives.
func inBackground(call func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	return done
}

// await waits for a value from ch, at most promptly; what says what the test waits for.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(promptly):
		require.FailNowf(t, "timed out", "waited %v for %s", promptly, what)
		panic("unreachable")
	}
}

// awaitBefore waits for a value from ch, at most promptly, and fails at once when the call
// running in the background returns first; what says what the test waits for.
func awaitBefore[T any](t *testing.T, ch <-chan T, done <-chan error, what string) {
	t.Helper()
	select {
	case <-ch:
	case err := <-done:
		require.FailNowf(t, "returned too early", "the call returned (%v) before %s", err, what)
	case <-time.After(promptly):
		require.FailNowf(t, "timed out", "waited %v for %s", promptly, what)
	}
}

const userJSON = `{"id":"u1","email":"ada@example.com","name":"Ada"}`

func TestTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const timeout = 100 * time.Millisecond
	noRetries := WithRetryPolicy(RetryPolicy{MaxAttempts: 1})

	stalls := []struct {
		name string
		step step
	}{
		{"a server that never answers", step{block: true}},
		{"a body that never ends", step{stallBody: true}},
	}
	for _, tc := range stalls {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptedServer(t, tc.step)
			client := NewUserServiceClient(srv.URL, WithTimeout(timeout), noRetries)
			t.Cleanup(client.CloseIdleConnections)

			start := time.Now()
			err := await(t, inBackground(func() error {
				_, err := client.GetUser(context.Background(), "u1")
				return err
			}), fmt.Sprintf("GetUser against %s to return, with WithTimeout(%v)", tc.name, timeout))
			elapsed := time.Since(start)

			require.Error(t, err, "GetUser against %s must fail", tc.name)
			assert.ErrorIs(t, err, ErrTimeout,
				"against %s, the attempt outlived WithTimeout(%v): want an error wrapping ErrTimeout (wrap a net.Error whose Timeout() is true), got %v", tc.name, timeout, err)
			assert.NotErrorIs(t, err, context.Canceled, "nobody cancelled the call: it timed out")
			assert.GreaterOrEqual(t, elapsed, timeout*9/10, "the call returned after %v, before the configured timeout of %v", elapsed, timeout)
			assert.EqualValues(t, 1, srv.hits.Load(), "with MaxAttempts 1 the server must see one request")
		})
	}

	t.Run("the caller's deadline", func(t *testing.T) {
		srv := newScriptedServer(t, step{block: true})
		client := NewUserServiceClient(srv.URL, WithTimeout(time.Minute), noRetries)
		t.Cleanup(client.CloseIdleConnections)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()

		err := await(t, inBackground(func() error {
			_, err := client.GetUser(ctx, "u1")
			return err
		}), fmt.Sprintf("GetUser with a context deadline of %v to return", timeout))
		require.Error(t, err, "a call past its context deadline must fail")
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a call past its context deadline: want context.DeadlineExceeded, got %v", err)
		assert.ErrorIs(t, err, ErrTimeout, "a call past its context deadline timed out: ErrTimeout's doc promises an error wrapping both ErrTimeout and context.DeadlineExceeded, got %v", err)
	})

	t.Run("a prompt answer is not a timeout", func(t *testing.T) {
		srv := newScriptedServer(t, step{body: userJSON})
		client := NewUserServiceClient(srv.URL, WithTimeout(timeout), noRetries)
		t.Cleanup(client.CloseIdleConnections)
		for i := range 5 {
			user, err := client.GetUser(t.Context(), "u1")
			if assert.NoError(t, err, "call %d: the server answers at once", i+1) {
				assert.Equal(t, "ada@example.com", user.Email)
			}
		}
	})
}

func TestRetryWithBackoff(t *testing.T) {
	const ms = time.Millisecond
	unavailable := step{status: http.StatusServiceUnavailable}

	t.Run("503s are retried until success", func(t *testing.T) {
		srv := newScriptedServer(t, unavailable, unavailable, step{body: userJSON})
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithRand(noJitter),
			WithRetryPolicy(RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * ms, MaxDelay: time.Second, Multiplier: 2}))

		user, err := client.GetUser(t.Context(), "u1")
		require.NoError(t, err, "two 503s and then a 200, with MaxAttempts 5: the call must succeed")
		assert.Equal(t, "ada@example.com", user.Email)
		assert.EqualValues(t, 3, srv.hits.Load(), "two failed attempts and one successful: want 3 requests")
		assert.Equal(t, []time.Duration{100 * ms, 200 * ms}, sleeper.get(), "waits before the two retries (BaseDelay 100ms, Multiplier 2)")
	})

	backoffs := []struct {
		name   string
		policy RetryPolicy
		want   []time.Duration
	}{
		{
			"doubling up to MaxDelay",
			RetryPolicy{MaxAttempts: 7, BaseDelay: 100 * ms, MaxDelay: time.Second, Multiplier: 2},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second},
		},
		{
			"tripling up to MaxDelay",
			RetryPolicy{MaxAttempts: 6, BaseDelay: 10 * ms, MaxDelay: 500 * ms, Multiplier: 3},
			[]time.Duration{10 * ms, 30 * ms, 90 * ms, 270 * ms, 500 * ms},
		},
	}
	for _, tc := range backoffs {
		t.Run("waits grow exponentially: "+tc.name, func(t *testing.T) {
			srv := newScriptedServer(t, unavailable)
			sleeper := &sleepRecorder{}
			client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithRand(noJitter), WithRetryPolicy(tc.policy))

			user, err := client.GetUser(t.Context(), "u1")
			assert.Nil(t, user, "every attempt failed: want no user")
			var statusErr *StatusError
			if assert.ErrorAs(t, err, &statusErr, "every attempt answered 503: want a *StatusError, got %v", err) {
				assert.Equal(t, http.StatusServiceUnavailable, statusErr.StatusCode)
			}
			assert.EqualValues(t, tc.policy.MaxAttempts, srv.hits.Load(), "MaxAttempts is %d: want that many requests", tc.policy.MaxAttempts)
			assert.Equal(t, tc.want, sleeper.get(), "waits between the attempts of %+v (jitter off)", tc.policy)
		})
	}

	t.Run("jitter shortens each wait by at most Jitter of it", func(t *testing.T) {
		srv := newScriptedServer(t, unavailable)
		sleeper := &sleepRecorder{}
		var mu sync.Mutex
		draws := []float64{0.999, 0.5, 0.25, 0.75, 0}
		rnd := func() float64 {
			mu.Lock()
			defer mu.Unlock()
			r := draws[0]
			draws = append(draws[1:], r)
			return r
		}
		policy := RetryPolicy{MaxAttempts: 6, BaseDelay: 100 * ms, MaxDelay: time.Second, Multiplier: 2, Jitter: 0.5}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithRand(rnd), WithRetryPolicy(policy))

		_, err := client.GetUser(t.Context(), "u1")
		require.Error(t, err, "every attempt answered 503")
		waits := sleeper.get()
		base := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second}
		require.Len(t, waits, len(base), "MaxAttempts 6: want 5 waits")
		jittered := 0
		for i, w := range waits {
			lowest := time.Duration(float64(base[i]) * (1 - policy.Jitter))
			assert.True(t, w >= lowest-time.Microsecond && w <= base[i],
				"wait %d is %v; with Jitter 0.5 it must be between %v and %v", i+1, w, lowest, base[i])
			if w < base[i]-time.Microsecond {
				jittered++
			}
		}
		assert.GreaterOrEqual(t, jittered, 3, "the waits %v look unjittered: Rand returned 0.999, 0.5, 0.25 and 0.75 for four of them", waits)
	})

	t.Run("the defaults: three attempts, 100ms doubling, 20% jitter", func(t *testing.T) {
		srv := newScriptedServer(t, unavailable)
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep))

		_, err := client.GetUser(t.Context(), "u1")
		require.Error(t, err, "every attempt answered 503")
		assert.EqualValues(t, 3, srv.hits.Load(), "MaxAttempts defaults to 3")
		waits := sleeper.get()
		if assert.Len(t, waits, 2, "three attempts: want two waits") {
			assert.True(t, waits[0] >= 80*ms && waits[0] <= 100*ms, "first wait %v: want 100ms less up to 20%% jitter", waits[0])
			assert.True(t, waits[1] >= 160*ms && waits[1] <= 200*ms, "second wait %v: want 200ms less up to 20%% jitter", waits[1])
		}
	})

	t.Run("MaxAttempts 1 never retries", func(t *testing.T) {
		srv := newScriptedServer(t, unavailable, step{body: userJSON})
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		_, err := client.GetUser(t.Context(), "u1")
		assert.Error(t, err, "the only attempt answered 503")
		assert.EqualValues(t, 1, srv.hits.Load(), "MaxAttempts 1: want one request")
		assert.Empty(t, sleeper.get(), "MaxAttempts 1: want no wait")
	})

	retryAfters := []struct {
		name     string
		status   int
		header   string
		maxDelay time.Duration
		want     time.Duration
	}{
		{"503 with Retry-After: 3", http.StatusServiceUnavailable, "3", 10 * time.Second, 3 * time.Second},
		{"429 with Retry-After: 1", http.StatusTooManyRequests, "1", 10 * time.Second, time.Second},
		{"Retry-After above MaxDelay is capped", http.StatusServiceUnavailable, "120", 2 * time.Second, 2 * time.Second},
	}
	for _, tc := range retryAfters {
		t.Run("Retry-After is honoured: "+tc.name, func(t *testing.T) {
			srv := newScriptedServer(t, step{status: tc.status, header: map[string]string{"Retry-After": tc.header}}, step{body: userJSON})
			sleeper := &sleepRecorder{}
			client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithRand(noJitter),
				WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * ms, MaxDelay: tc.maxDelay}))

			_, err := client.GetUser(t.Context(), "u1")
			require.NoError(t, err, "a %d with Retry-After and then a 200: the retry must succeed", tc.status)
			assert.Equal(t, []time.Duration{tc.want}, sleeper.get(), "Retry-After: %s with MaxDelay %v", tc.header, tc.maxDelay)
		})
	}

	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		t.Run(fmt.Sprintf("%d is not retried", status), func(t *testing.T) {
			srv := newScriptedServer(t, step{status: status}, step{body: userJSON})
			sleeper := &sleepRecorder{}
			client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep))

			_, err := client.GetUser(t.Context(), "u1")
			assert.Error(t, err, "the server answered %d", status)
			assert.EqualValues(t, 1, srv.hits.Load(), "a %d would fail the same way again: want one request", status)
			assert.Empty(t, sleeper.get(), "a %d is not retried: want no wait", status)
		})
	}

	t.Run("a dropped connection is retried", func(t *testing.T) {
		srv := newScriptedServer(t, step{hangUp: true}, step{body: userJSON})
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep))

		user, err := client.GetUser(t.Context(), "u1")
		require.NoError(t, err, "the first connection was dropped, the second attempt answered 200")
		assert.Equal(t, "ada@example.com", user.Email)
		assert.EqualValues(t, 2, srv.hits.Load(), "want the dropped attempt and one retry")
		assert.Len(t, sleeper.get(), 1, "want one wait before the retry")
	})

	t.Run("a timed-out attempt is retried", func(t *testing.T) {
		srv := newScriptedServer(t, step{block: true}, step{body: userJSON})
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithTimeout(100*ms), WithSleeper(sleeper.sleep))
		t.Cleanup(client.CloseIdleConnections)

		var user *User
		err := await(t, inBackground(func() (err error) {
			user, err = client.GetUser(t.Context(), "u1")
			return err
		}), "GetUser to return after a first attempt that timed out and a second that answered")
		require.NoError(t, err, "the first attempt outlived WithTimeout(100ms), the second answered 200: a timed-out attempt may pass when tried again")
		assert.Equal(t, "ada@example.com", user.Email)
		assert.EqualValues(t, 2, srv.hits.Load(), "want the timed-out attempt and one retry")
		assert.Len(t, sleeper.get(), 1, "want one wait before the retry")
	})

	t.Run("a POST keeps one Idempotency-Key across its retries", func(t *testing.T) {
		srv := newScriptedServer(t, unavailable, unavailable, step{status: http.StatusCreated, body: userJSON})
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep))

		require.NoError(t, client.CreateUser(t.Context(), User{ID: "u1", Email: "ada@example.com"}),
			"two 503s and then a 201: a POST with an Idempotency-Key must be retried until it succeeds")
		require.NoError(t, client.CreateUser(t.Context(), User{ID: "u2", Email: "bob@example.com"}), "the server now answers 201")
		reqs := srv.log.all()
		require.Len(t, reqs, 4, "want three attempts of the first POST and one of the second, got %v", srv.log.lines())
		first := reqs[0].IdempotencyKey
		assert.NotEmpty(t, first, "a POST must carry an Idempotency-Key header")
		for i, r := range reqs[1:3] {
			assert.Equal(t, first, r.IdempotencyKey, "retry %d of the same CreateUser must carry the same Idempotency-Key", i+1)
		}
		assert.NotEqual(t, first, reqs[3].IdempotencyKey, "another CreateUser call is another operation: it needs a new Idempotency-Key")
	})

	t.Run("a POST without an Idempotency-Key is not retried", func(t *testing.T) {
		srv := newScriptedServer(t, unavailable, step{status: http.StatusCreated, body: userJSON})
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithoutIdempotencyKeys())

		err := client.CreateUser(t.Context(), User{ID: "u1", Email: "ada@example.com"})
		var statusErr *StatusError
		if assert.ErrorAs(t, err, &statusErr, "the only attempt answered 503: want a *StatusError, got %v", err) {
			assert.Equal(t, http.StatusServiceUnavailable, statusErr.StatusCode)
		}
		reqs := srv.log.all()
		require.Len(t, reqs, 1, "a POST the service cannot dedupe must not be sent twice, got %v", srv.log.lines())
		assert.Empty(t, reqs[0].IdempotencyKey, "WithoutIdempotencyKeys: the POST must carry no Idempotency-Key")
		assert.Empty(t, sleeper.get(), "a POST without an Idempotency-Key is not retried: want no wait")
	})

	t.Run("a retried POST takes effect once", func(t *testing.T) {
		users, store := newUserHandler()
		var dropped atomic.Bool
		var log requestLog
		srv := httptest.NewServer(log.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && dropped.CompareAndSwap(false, true) {
				users.ServeHTTP(httptest.NewRecorder(), r) // the user is created...
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = conn.Close() // ...but the answer is lost on the way back
				}
				return
			}
			users.ServeHTTP(w, r)
		})))
		t.Cleanup(srv.Close)
		sleeper := &sleepRecorder{}
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep))

		err := client.CreateUser(t.Context(), User{ID: "u1", Email: "ada@example.com"})
		assert.NoError(t, err, "the first answer was lost and the retry was answered from the service's idempotency record: want success, not a conflict")
		assert.Len(t, log.all(), 2, "want the lost attempt and one retry, got %v", log.lines())
		assert.Equal(t, 1, store.len(), "the user service must hold exactly one user")
	})
}

// call is one operation of a client, against the service at baseURL. A get returns an error
// when it succeeds with a nil result, and notes a non-nil result next to an error.
type call struct {
	name string
	do   func(ctx context.Context, baseURL string, opts ...Option) (result any, err error)
}

// nilIfNil makes a nil pointer a nil interface, so that assert.Nil sees it.
func nilIfNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}

var (
	getUser = call{"GetUser", func(ctx context.Context, baseURL string, opts ...Option) (any, error) {
		u, err := NewUserServiceClient(baseURL, opts...).GetUser(ctx, "u1")
		return nilIfNil(u), err
	}}
	createUser = call{"CreateUser", func(ctx context.Context, baseURL string, opts ...Option) (any, error) {
		return nil, NewUserServiceClient(baseURL, opts...).CreateUser(ctx, User{ID: "u1", Email: "ada@example.com"})
	}}
	getProduct = call{"GetProduct", func(ctx context.Context, baseURL string, opts ...Option) (any, error) {
		p, err := NewProductServiceClient(baseURL, opts...).GetProduct(ctx, "p1")
		return nilIfNil(p), err
	}}
	createProduct = call{"CreateProduct", func(ctx context.Context, baseURL string, opts ...Option) (any, error) {
		return nil, NewProductServiceClient(baseURL, opts...).CreateProduct(ctx, Product{ID: "p1", Name: "Mug", Price: 8.5})
	}}
	getOrder = call{"GetOrder", func(ctx context.Context, baseURL string, opts ...Option) (any, error) {
		o, err := NewOrderServiceClient(baseURL, opts...).GetOrder(ctx, "o1")
		return nilIfNil(o), err
	}}
	createOrder = call{"CreateOrder", func(ctx context.Context, baseURL string, opts ...Option) (any, error) {
		return nil, NewOrderServiceClient(baseURL, opts...).CreateOrder(ctx, Order{ID: "o1", UserID: "u1", Items: []OrderItem{{ProductID: "p1", Quantity: 1}}})
	}}
	allCalls = []call{getUser, createUser, getProduct, createProduct, getOrder, createOrder}
	getCalls = []call{getUser, getProduct, getOrder}
)

func TestHTTPErrors(t *testing.T) {
	noRetries := WithRetryPolicy(RetryPolicy{MaxAttempts: 1})
	sentinels := []error{ErrNotFound, ErrConflict, ErrValidation}

	statuses := []struct {
		name        string
		step        step
		sentinel    error  // the error it must match with errors.Is
		validation  string // the message of the *ValidationError it must be
		status      int    // the code of the *StatusError it must be
		wantMessage string
	}{
		{name: "404 with a JSON body", step: step{status: 404, body: `{"error":"no such thing"}`}, sentinel: ErrNotFound},
		{name: "404 from http.NotFound", step: step{status: 404, body: "404 page not found\n", header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}, sentinel: ErrNotFound},
		{name: "409", step: step{status: 409, body: `{"error":"it exists already"}`}, sentinel: ErrConflict},
		{name: "400", step: step{status: 400, body: `{"error":"malformed JSON body: unexpected EOF"}`}, validation: "malformed JSON body: unexpected EOF"},
		{name: "422", step: step{status: 422, body: `{"error":"email is required"}`}, validation: "email is required"},
		{name: "500", step: step{status: 500}, status: 500},
		{name: "502", step: step{status: 502}, status: 502},
		{name: "503", step: step{status: 503}, status: 503},
		{name: "504", step: step{status: 504}, status: 504},
	}
	for _, tc := range statuses {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptedServer(t, tc.step)
			for _, c := range allCalls {
				result, err := c.do(t.Context(), srv.URL, noRetries)
				require.Error(t, err, "%s: the service answered %s", c.name, tc.name)
				assert.Nil(t, result, "%s: a failed call must return no result", c.name)
				switch {
				case tc.sentinel != nil:
					assert.ErrorIs(t, err, tc.sentinel, "%s: %s", c.name, tc.name)
				case tc.validation != "":
					assert.ErrorIs(t, err, ErrValidation, "%s: a %s must match ErrValidation", c.name, tc.name)
					var verr *ValidationError
					if assert.ErrorAs(t, err, &verr, "%s: a %s must be a *ValidationError, got %v", c.name, tc.name, err) {
						assert.Equal(t, tc.validation, verr.Message, "%s: the ValidationError must carry the service's message", c.name)
						assert.Equal(t, tc.step.status, verr.StatusCode, "%s: ValidationError.StatusCode", c.name)
					}
				default:
					var statusErr *StatusError
					if assert.ErrorAs(t, err, &statusErr, "%s: a %s must be a *StatusError, got %v", c.name, tc.name, err) {
						assert.Equal(t, tc.status, statusErr.StatusCode, "%s: StatusError.StatusCode", c.name)
					}
				}
				for _, other := range sentinels {
					if other != tc.sentinel && (tc.validation == "" || other != ErrValidation) {
						assert.NotErrorIs(t, err, other, "%s: a %s must not match %v", c.name, tc.name, other)
					}
				}
			}
		})
	}

	huge := func(field string) string {
		return fmt.Sprintf(`{"id":"x1","%s":"%s"}`, field, strings.Repeat("a", MaxResponseBytes))
	}
	badBodies := []struct {
		name string
		body func(field string) string
	}{
		{"truncated JSON", func(string) string { return `{"id":"u1","email":` }},
		{"HTML", func(string) string { return "<html><body>Service Temporarily Unavailable</body></html>" }},
		{"the wrong shape", func(string) string { return `{"id":42}` }},
		{"an empty body", func(string) string { return "" }},
		{"a body larger than MaxResponseBytes", huge},
	}
	fields := map[string]string{"GetUser": "name", "GetProduct": "name", "GetOrder": "user_id"}
	for _, tc := range badBodies {
		t.Run("200 with "+tc.name, func(t *testing.T) {
			for _, c := range getCalls {
				srv := newScriptedServer(t, step{body: tc.body(fields[c.name])})
				result, err := c.do(t.Context(), srv.URL, noRetries)
				assert.ErrorIs(t, err, ErrBadResponse, "%s: a 200 with %s: want an error wrapping ErrBadResponse", c.name, tc.name)
				assert.Nil(t, result, "%s: a 200 with %s must return no result", c.name, tc.name)
			}
		})
	}

	t.Run("the clients against the provided services", clientsAgainstServices)

	t.Run("a large body within MaxResponseBytes is fine", func(t *testing.T) {
		const n = MaxResponseBytes - 1024
		srv := newScriptedServer(t, step{body: fmt.Sprintf(`{"id":"u1","email":"ada@example.com","name":"%s"}`, strings.Repeat("a", n))})
		user, err := NewUserServiceClient(srv.URL, noRetries).GetUser(t.Context(), "u1")
		if assert.NoError(t, err, "a body of %d bytes is within MaxResponseBytes (%d)", n+50, MaxResponseBytes) {
			assert.Len(t, user.Name, n)
		}
	})
}

// connCounter counts the connections a server accepts.
type connCounter struct{ opened atomic.Int32 }

func (c *connCounter) track(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		c.opened.Add(1)
	}
}

func TestConnectionPooling(t *testing.T) {
	const maxConns = 4
	limits := WithConnectionLimits(maxConns, maxConns)

	// newServer starts the user service with user u1, and a /users/down that answers 503 with
	// a 20 KB page.
	newServer := func(t *testing.T) (*httptest.Server, *connCounter) {
		users, store := newUserHandler()
		store.add("u1", User{ID: "u1", Email: "ada@example.com"})
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/users/down" {
				// Like the error page of a proxy: longer than a client reads for a message.
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("<html><body><h1>503 Service Unavailable</h1>" + strings.Repeat("<p>The user database is down for maintenance.</p>", 400) + "</body></html>"))
				return
			}
			users.ServeHTTP(w, r)
		}))
		counter := &connCounter{}
		srv.Config.ConnState = counter.track
		srv.Start()
		t.Cleanup(srv.Close)
		return srv, counter
	}

	t.Run("sequential calls share one connection", func(t *testing.T) {
		srv, conns := newServer(t)
		client := NewUserServiceClient(srv.URL, limits, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		t.Cleanup(client.CloseIdleConnections)
		ctx := t.Context()
		const rounds = 10
		for range rounds {
			_, err := client.GetUser(ctx, "u1")
			require.NoError(t, err, "GET of an existing user")
			_, err = client.GetUser(ctx, "nobody")
			require.ErrorIs(t, err, ErrNotFound, "GET of an unknown user")
			err = client.CreateUser(ctx, User{ID: "u1", Email: "ada@example.com"})
			require.ErrorIs(t, err, ErrConflict, "POST of an existing user")
			err = client.CreateUser(ctx, User{ID: "u2", Email: "not an address"})
			require.ErrorIs(t, err, ErrValidation, "POST of an invalid user")
			_, err = client.GetUser(ctx, "down")
			require.Error(t, err, "GET of a 503")
		}
		assert.EqualValues(t, 1, conns.opened.Load(),
			"%d calls one after the other, errors included, must reuse one keep-alive connection; the server saw %d (read every body to the end and close it)",
			rounds*5, conns.opened.Load())
	})

	t.Run("concurrent calls stay within MaxConnsPerHost", func(t *testing.T) {
		srv, conns := newServer(t)
		client := NewUserServiceClient(srv.URL, limits, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		t.Cleanup(client.CloseIdleConnections)
		const workers, calls = 16, 20
		var failed atomic.Int32
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range calls {
					if u, err := client.GetUser(t.Context(), "u1"); err != nil || u.ID != "u1" {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		assert.Zero(t, failed.Load(), "every concurrent GET must succeed")
		assert.LessOrEqual(t, conns.opened.Load(), int32(maxConns),
			"%d workers made %d calls with WithConnectionLimits(%d, %d): want at most %d connections, the server saw %d",
			workers, workers*calls, maxConns, maxConns, maxConns, conns.opened.Load())
	})
}

func TestContextCancellation(t *testing.T) {
	for _, c := range []call{getUser, createProduct, getOrder} {
		t.Run("during a request: "+c.name, func(t *testing.T) {
			srv := newScriptedServer(t, step{block: true})
			sleeper := &sleepRecorder{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			done := inBackground(func() error {
				_, err := c.do(ctx, srv.URL, WithTimeout(time.Minute), WithSleeper(sleeper.sleep))
				return err
			})
			awaitBefore(t, srv.arrived, done, c.name+"'s request reached the server")
			cancel()
			err := await(t, done, c.name+" to return after its context was cancelled")
			assert.ErrorIs(t, err, context.Canceled, "%s cancelled during the request: want context.Canceled, got %v", c.name, err)
			assert.NotErrorIs(t, err, ErrTimeout, "%s was cancelled, it did not time out", c.name)
			assert.EqualValues(t, 1, srv.hits.Load(), "%s: no attempt may follow the cancellation", c.name)
		})
	}

	t.Run("during the backoff wait, with the default sleeper", func(t *testing.T) {
		srv := newScriptedServer(t, step{status: http.StatusServiceUnavailable})
		waiting := make(chan struct{}, 10)
		rnd := func() float64 { // the client draws its jitter just before it waits
			select {
			case waiting <- struct{}{}:
			default:
			}
			return 0
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		client := NewUserServiceClient(srv.URL, WithRand(rnd),
			WithRetryPolicy(RetryPolicy{MaxAttempts: 5, BaseDelay: time.Minute, MaxDelay: time.Minute}))

		done := inBackground(func() error {
			_, err := client.GetUser(ctx, "u1")
			return err
		})
		awaitBefore(t, srv.arrived, done, "the first attempt reached the server")
		select {
		case <-waiting:
		case <-time.After(time.Second): // a client that does not use Rand: cancel anyway
		}
		cancel()
		err := await(t, done, "GetUser to return when cancelled during a one-minute backoff wait")
		assert.ErrorIs(t, err, context.Canceled, "cancelled during the backoff wait: want context.Canceled, got %v", err)
		assert.EqualValues(t, 1, srv.hits.Load(), "no attempt may follow the cancellation")
	})

	t.Run("during the backoff wait, with an injected sleeper", func(t *testing.T) {
		srv := newScriptedServer(t, step{status: http.StatusServiceUnavailable})
		sleeping := make(chan struct{}, 10)
		var sleeps atomic.Int32
		sleeper := func(ctx context.Context, _ time.Duration) error {
			sleeps.Add(1)
			sleeping <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		client := NewUserServiceClient(srv.URL, WithSleeper(sleeper), WithRetryPolicy(RetryPolicy{MaxAttempts: 5}))

		done := inBackground(func() error {
			_, err := client.GetUser(ctx, "u1")
			return err
		})
		awaitBefore(t, sleeping, done, "the injected sleeper was called for the first retry")
		cancel()
		err := await(t, done, "GetUser to return when cancelled during the backoff wait")
		assert.ErrorIs(t, err, context.Canceled, "cancelled during the backoff wait: want context.Canceled, got %v", err)
		assert.EqualValues(t, 1, srv.hits.Load(), "no attempt may follow the cancellation")
		assert.EqualValues(t, 1, sleeps.Load(), "the client must stop after the sleeper returned the context's error")
	})

	t.Run("an already cancelled context sends nothing", func(t *testing.T) {
		srv := newScriptedServer(t, step{body: userJSON})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, c := range allCalls {
			_, err := c.do(ctx, srv.URL)
			assert.ErrorIs(t, err, context.Canceled, "%s with a cancelled context: want context.Canceled, got %v", c.name, err)
		}
		assert.Zero(t, srv.hits.Load(), "a call with a cancelled context must not reach the server")
	})
}

// clientsAgainstServices checks each client against the provided services (services_test.go):
// create and read back, with ids that need escaping and whole orders; the errors of the real
// services; and the order service calling the other two through your clients. It is a part of
// TestHTTPErrors.
func clientsAgainstServices(t *testing.T) {
	ctx := context.Background()

	t.Run("users", func(t *testing.T) {
		sys := newSystem(t)
		ada := User{ID: "ada/lovelace 1", Email: "ada@example.com", Name: "Ada Lovelace"}
		require.NoError(t, sys.userClient.CreateUser(ctx, ada), "CreateUser of a valid user")
		got, err := sys.userClient.GetUser(ctx, ada.ID)
		require.NoError(t, err, "GetUser of the user just created (its id needs escaping in the path)")
		assert.Equal(t, ada, *got, "GetUser must return what CreateUser sent")

		assert.ErrorIs(t, sys.userClient.CreateUser(ctx, ada), ErrConflict, "CreateUser of a taken id")
		_, err = sys.userClient.GetUser(ctx, "nobody")
		assert.ErrorIs(t, err, ErrNotFound, "GetUser of an unknown id")
		var verr *ValidationError
		err = sys.userClient.CreateUser(ctx, User{ID: "bad", Email: "not an address"})
		if assert.ErrorAs(t, err, &verr, "CreateUser with a bad email: want a *ValidationError, got %v", err) {
			assert.Contains(t, verr.Message, "not a valid address", "the service's message")
		}
		for _, r := range sys.usersLog.all() {
			if r.Method == http.MethodPost {
				mediaType, _, err := mime.ParseMediaType(r.ContentType)
				assert.NoError(t, err, "the Content-Type of a POST, %q, does not parse", r.ContentType)
				assert.Equal(t, "application/json", mediaType, "a POST must say its body is JSON (Content-Type: application/json, parameters allowed), got Content-Type %q", r.ContentType)
			}
		}
	})

	t.Run("products", func(t *testing.T) {
		sys := newSystem(t)
		mug := Product{ID: "mug", Name: "Mug", Description: "Holds coffee", Price: 8.5, Category: "kitchen"}
		require.NoError(t, sys.productClient.CreateProduct(ctx, mug), "CreateProduct of a valid product")
		got, err := sys.productClient.GetProduct(ctx, "mug")
		require.NoError(t, err, "GetProduct of the product just created")
		assert.Equal(t, mug, *got, "GetProduct must return what CreateProduct sent")

		assert.ErrorIs(t, sys.productClient.CreateProduct(ctx, mug), ErrConflict, "CreateProduct of a taken id")
		_, err = sys.productClient.GetProduct(ctx, "nothing")
		assert.ErrorIs(t, err, ErrNotFound, "GetProduct of an unknown id")
		assert.ErrorIs(t, sys.productClient.CreateProduct(ctx, Product{ID: "free", Name: "Free"}), ErrValidation, "CreateProduct without a price")
	})

	t.Run("orders reach the user and product services", func(t *testing.T) {
		sys := newSystem(t)
		require.NoError(t, sys.userClient.CreateUser(ctx, User{ID: "grace", Email: "grace@example.com"}))
		require.NoError(t, sys.productClient.CreateProduct(ctx, Product{ID: "kbd", Name: "Keyboard", Price: 45}))
		require.NoError(t, sys.productClient.CreateProduct(ctx, Product{ID: "mouse", Name: "Mouse", Price: 19.99}))
		usersBefore, productsBefore := len(sys.usersLog.all()), len(sys.productsLog.all())

		order := Order{ID: "order-1", UserID: "grace", Items: []OrderItem{
			{ProductID: "kbd", Quantity: 2, Price: 0.01}, // the caller's price is ignored
			{ProductID: "mouse", Quantity: 1},
		}}
		require.NoError(t, sys.orderClient.CreateOrder(ctx, order), "CreateOrder of a valid order")
		assert.Equal(t, []string{"GET /users/grace"}, sys.usersLog.lines()[usersBefore:],
			"the order service must have checked the user through the user service")
		assert.Equal(t, []string{"GET /products/kbd", "GET /products/mouse"}, sys.productsLog.lines()[productsBefore:],
			"the order service must have priced each item through the product service")

		got, err := sys.orderClient.GetOrder(ctx, "order-1")
		require.NoError(t, err, "GetOrder of the order just created")
		assert.Equal(t, "grace", got.UserID)
		assert.Equal(t, "placed", got.Status)
		assert.Equal(t, []OrderItem{{ProductID: "kbd", Quantity: 2, Price: 45}, {ProductID: "mouse", Quantity: 1, Price: 19.99}}, got.Items,
			"the items, priced from the catalog")
		assert.InDelta(t, 109.99, got.Total, 0.001, "2 × 45.00 + 19.99")
		assert.True(t, got.CreatedAt.Equal(fixedNow()), "CreatedAt %v: want the order service's time %v", got.CreatedAt, fixedNow())

		assert.ErrorIs(t, sys.orderClient.CreateOrder(ctx, order), ErrConflict, "CreateOrder of a taken id")
		_, err = sys.orderClient.GetOrder(ctx, "order-2")
		assert.ErrorIs(t, err, ErrNotFound, "GetOrder of an unknown id")

		var verr *ValidationError
		err = sys.orderClient.CreateOrder(ctx, Order{ID: "order-2", UserID: "nobody", Items: order.Items})
		if assert.ErrorAs(t, err, &verr, "CreateOrder for an unknown user: want a *ValidationError, got %v", err) {
			assert.Contains(t, verr.Message, `unknown user "nobody"`, "the order service learned from the user service that the user does not exist")
		}
		err = sys.orderClient.CreateOrder(ctx, Order{ID: "order-3", UserID: "grace", Items: []OrderItem{{ProductID: "lamp", Quantity: 1}}})
		if assert.ErrorAs(t, err, &verr, "CreateOrder of an unknown product: want a *ValidationError, got %v", err) {
			assert.Contains(t, verr.Message, `unknown product "lamp"`, "the order service learned from the product service that the product does not exist")
		}
		assert.Equal(t, 1, sys.orders.len(), "only the valid order is stored")
	})

	t.Run("the user service is down", func(t *testing.T) {
		sys := newSystem(t, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
		require.NoError(t, sys.productClient.CreateProduct(ctx, Product{ID: "kbd", Name: "Keyboard", Price: 45}))
		sys.usersSrv.Close()

		err := sys.orderClient.CreateOrder(ctx, Order{ID: "order-1", UserID: "grace", Items: []OrderItem{{ProductID: "kbd", Quantity: 1}}})
		var statusErr *StatusError
		if assert.ErrorAs(t, err, &statusErr, "the order service cannot reach the user service: want a *StatusError, got %v", err) {
			assert.Equal(t, http.StatusBadGateway, statusErr.StatusCode, "the order service answers 502 when a service it depends on fails")
		}
		assert.NotErrorIs(t, err, ErrValidation, "an outage of the user service is not an unknown user")
	})
}
