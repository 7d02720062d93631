package httpcomm

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A model suite for criterion ex02.httptest-integration: the clients against httptest servers
// written here, so that it needs nothing but the package itself.

// TestMyGetUserAgainstAFakeService shows the style: an httptest server plays the user service,
// a client is pointed at it, and the test checks both what the client returns and what the
// server received.
func TestMyGetUserAgainstAFakeService(t *testing.T) {
	paths := make(chan string, 10) // the handler runs on the server's goroutines: report through a channel
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.EscapedPath()
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != "u1" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "no such user"})
			return
		}
		_ = json.NewEncoder(w).Encode(User{ID: "u1", Email: "ada@example.com", Name: "Ada"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := NewUserServiceClient(srv.URL, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	t.Cleanup(client.CloseIdleConnections)

	user, err := client.GetUser(t.Context(), "u1")
	require.NoError(t, err, "GetUser of a user the server knows")
	assert.Equal(t, &User{ID: "u1", Email: "ada@example.com", Name: "Ada"}, user)
	select {
	case path := <-paths: // sent before the server answered, so it is there already
		assert.Equal(t, "/users/u1", path, "the path GetUser asked for")
	default:
		t.Error("GetUser returned a user, but the server received no request")
	}

	user, err = client.GetUser(t.Context(), "nobody")
	assert.ErrorIs(t, err, ErrNotFound, "the server answered 404")
	assert.Nil(t, user, "a failed GetUser returns no user")
}

// myStore is a fake of the three services: POST /{kind}s stores the JSON body under its "id"
// (409 when taken, 415 when the body is not said to be JSON), GET /{kind}s/{id} answers it.
type myStore struct {
	mu       sync.Mutex
	entities map[string]json.RawMessage // by "/users/" + id, …
	requests []string                   // "METHOD escaped-path Content-Type"
}

func newMyStore(t *testing.T) (*myStore, string) {
	t.Helper()
	s := &myStore{entities: map[string]json.RawMessage{}}
	mux := http.NewServeMux()
	for _, kind := range []string{"users", "products", "orders"} {
		mux.HandleFunc("POST /"+kind, func(w http.ResponseWriter, r *http.Request) {
			s.log(r)
			if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/json" {
				myError(w, http.StatusUnsupportedMediaType, "the body must be JSON")
				return
			}
			var body json.RawMessage
			var head struct {
				ID string `json:"id"`
			}
			if json.NewDecoder(r.Body).Decode(&body) != nil || json.Unmarshal(body, &head) != nil {
				myError(w, http.StatusBadRequest, "malformed JSON")
				return
			}
			if !s.add("/"+kind+"/"+head.ID, body) {
				myError(w, http.StatusConflict, head.ID+" exists already")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(body)
		})
		mux.HandleFunc("GET /"+kind+"/{id}", func(w http.ResponseWriter, r *http.Request) {
			s.log(r)
			body, ok := s.get("/" + kind + "/" + r.PathValue("id"))
			if !ok {
				myError(w, http.StatusNotFound, r.PathValue("id")+" not found")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *myStore) log(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.EscapedPath())
}

func (s *myStore) add(key string, body json.RawMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entities[key]; ok {
		return false
	}
	s.entities[key] = body
	return true
}

func (s *myStore) get(key string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, ok := s.entities[key]
	return body, ok
}

func (s *myStore) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// myError answers status with a JSON error body, as the workbook's services do.
func myError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func TestMyClientsRoundTrip(t *testing.T) {
	ctx := t.Context()
	store, url := newMyStore(t)
	opts := []Option{WithRetryPolicy(RetryPolicy{MaxAttempts: 1})}

	users := NewUserServiceClient(url, opts...)
	ada := User{ID: "ada/lovelace 1", Email: "ada@example.com", Name: "Ada"}
	require.NoError(t, users.CreateUser(ctx, ada), "CreateUser")
	gotUser, err := users.GetUser(ctx, ada.ID)
	require.NoError(t, err, "GetUser of an id with a slash and a space")
	assert.Equal(t, ada, *gotUser)
	assert.ErrorIs(t, users.CreateUser(ctx, ada), ErrConflict, "CreateUser of a taken id")

	products := NewProductServiceClient(url, opts...)
	mug := Product{ID: "mug", Name: "Mug", Price: 8.5, Category: "kitchen"}
	require.NoError(t, products.CreateProduct(ctx, mug), "CreateProduct")
	gotProduct, err := products.GetProduct(ctx, "mug")
	require.NoError(t, err, "GetProduct")
	assert.Equal(t, mug, *gotProduct)

	orders := NewOrderServiceClient(url, opts...)
	order := Order{ID: "o1", UserID: ada.ID, Items: []OrderItem{{ProductID: "mug", Quantity: 2}, {ProductID: "tea", Quantity: 1}}}
	require.NoError(t, orders.CreateOrder(ctx, order), "CreateOrder")
	gotOrder, err := orders.GetOrder(ctx, "o1")
	require.NoError(t, err, "GetOrder")
	assert.Equal(t, order, *gotOrder, "the order as the server stored it: CreateOrder must send the whole order, items included")

	assert.Contains(t, store.seen(), "GET /users/ada%2Flovelace%201", "the id must be escaped in the path")
}

func TestMyErrorStatuses(t *testing.T) {
	tests := []struct {
		status   int
		is       error // nil: not a sentinel
		notIs    []error
		validMsg string // for 400 and 422: the ValidationError's message
	}{
		{status: http.StatusNotFound, is: ErrNotFound, notIs: []error{ErrConflict, ErrValidation}},
		{status: http.StatusConflict, is: ErrConflict, notIs: []error{ErrNotFound, ErrValidation}},
		{status: http.StatusBadRequest, is: ErrValidation, notIs: []error{ErrNotFound, ErrConflict}, validMsg: "the fake says 400"},
		{status: http.StatusUnprocessableEntity, is: ErrValidation, notIs: []error{ErrNotFound, ErrConflict}, validMsg: "the fake says 422"},
		{status: http.StatusInternalServerError, notIs: []error{ErrNotFound, ErrConflict, ErrValidation}},
		{status: http.StatusServiceUnavailable, notIs: []error{ErrNotFound, ErrConflict, ErrValidation}},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				myError(w, tt.status, fmt.Sprintf("the fake says %d", tt.status))
			}))
			t.Cleanup(srv.Close)
			client := NewUserServiceClient(srv.URL, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))

			user, err := client.GetUser(t.Context(), "u1")
			require.Error(t, err)
			assert.Nil(t, user, "a failed call returns no user")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			for _, other := range tt.notIs {
				assert.NotErrorIs(t, err, other)
			}
			if tt.validMsg != "" {
				var verr *ValidationError
				if assert.ErrorAs(t, err, &verr) {
					assert.Equal(t, tt.validMsg, verr.Message, "the service's message")
					assert.Equal(t, tt.status, verr.StatusCode)
				}
			}
			if tt.status >= 500 {
				var serr *StatusError
				if assert.ErrorAs(t, err, &serr) {
					assert.Equal(t, tt.status, serr.StatusCode)
				}
			}
			if tt.is != nil {
				assert.ErrorIs(t, client.CreateUser(t.Context(), User{ID: "u1", Email: "a@example.com"}), tt.is, "CreateUser maps the status as GetUser does")
			}
		})
	}
}

func TestMyBadBodies(t *testing.T) {
	for name, body := range map[string]string{
		"truncated JSON": `{"id":"u1","email":`,
		"HTML":           "<html>Service Temporarily Unavailable</html>",
		"the wrong type": `{"id":42}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(srv.Close)
			user, err := NewUserServiceClient(srv.URL).GetUser(t.Context(), "u1")
			assert.ErrorIs(t, err, ErrBadResponse)
			assert.Nil(t, user)
		})
	}
}

func TestMyRetries(t *testing.T) {
	// scripted answers the n-th request with statuses[n] (the last one repeats).
	scripted := func(t *testing.T, statuses ...int) (*atomic.Int32, string) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n := int(hits.Add(1))
			status := statuses[min(n, len(statuses))-1]
			if status != http.StatusOK {
				myError(w, status, "try again")
				return
			}
			_ = json.NewEncoder(w).Encode(User{ID: "u1", Email: "ada@example.com"})
		}))
		t.Cleanup(srv.Close)
		return &hits, srv.URL
	}
	sleeper := func(ctx context.Context, _ time.Duration) error { return ctx.Err() } // no test sleeps

	t.Run("503 is retried", func(t *testing.T) {
		hits, url := scripted(t, http.StatusServiceUnavailable, http.StatusOK)
		user, err := NewUserServiceClient(url, WithSleeper(sleeper)).GetUser(t.Context(), "u1")
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", user.Email)
		assert.EqualValues(t, 2, hits.Load())
	})
	for _, status := range []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		t.Run(fmt.Sprintf("%d is not retried", status), func(t *testing.T) {
			hits, url := scripted(t, status, http.StatusOK)
			_, err := NewUserServiceClient(url, WithSleeper(sleeper)).GetUser(t.Context(), "u1")
			assert.Error(t, err)
			assert.EqualValues(t, 1, hits.Load())
		})
	}
}
