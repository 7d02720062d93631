package httpcomm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The services that the clients call, provided complete: a user, a product and an order
// service over in-memory stores, the domain of exercise 01 behind HTTP. Read them to see what
// your clients talk to; the tests start them with httptest.
//
//	POST /users           201 Created with the user; 400 malformed JSON; 415 not JSON;
//	                      422 invalid user; 409 the id exists already
//	GET  /users/{id}      200 OK with the user; 404 no such user
//	POST /products        the same for products (name required, price above zero)
//	GET  /products/{id}
//	POST /orders          the order service checks the user and each product by calling the
//	                      user and product services over HTTP, with the clients you write;
//	                      422 when one is unknown, 502 when a service fails
//	GET  /orders/{id}
//
// Error responses have a JSON body: {"error": "email is required"}. A POST with an
// Idempotency-Key header is done once: a second POST with the same key gets the first one's
// response again (with an Idempotent-Replayed: true header), and a key reused for a different
// request gets 422.

// errorBody is the JSON body of an error response.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, errorBody{Error: fmt.Sprintf(format, args...)})
}

// decodeBody reads a JSON request body into v, answering 415 or 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "the body must be application/json, not %q", r.Header.Get("Content-Type"))
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON body: %v", err)
		return false
	}
	return true
}

// memStore is one service's own store: a map guarded by a mutex.
type memStore[T any] struct {
	mu    sync.Mutex
	items map[string]T
}

func newMemStore[T any]() *memStore[T] { return &memStore[T]{items: map[string]T{}} }

// add stores v under id unless the id is taken.
func (s *memStore[T]) add(id string, v T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[id]; ok {
		return false
	}
	s.items[id] = v
	return true
}

func (s *memStore[T]) get(id string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.items[id]
	return v, ok
}

func (s *memStore[T]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// idempotency makes a POST with an Idempotency-Key header take effect once: the first response
// for a key is kept and sent again for every later request with that key.
type idempotency struct {
	mu   sync.Mutex // held while a keyed request runs, so that a duplicate waits for the first
	seen map[string]replay
}

// replay is a kept response and the request that produced it.
type replay struct {
	fingerprint [32]byte
	status      int
	header      http.Header
	body        []byte
}

func newIdempotency() *idempotency { return &idempotency{seen: map[string]replay{}} }

func (m *idempotency) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		var body bytes.Buffer
		if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
			writeError(w, http.StatusBadRequest, "reading the body: %v", err)
			return
		}
		fingerprint := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + body.String()))

		m.mu.Lock()
		defer m.mu.Unlock()
		if prev, ok := m.seen[key]; ok {
			if prev.fingerprint != fingerprint {
				writeError(w, http.StatusUnprocessableEntity, "Idempotency-Key %q was used for a different request", key)
				return
			}
			for k, v := range prev.header {
				w.Header()[k] = v
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return
		}
		replayable := r.Clone(r.Context())
		replayable.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, replayable)
		if rec.Code < http.StatusInternalServerError { // a failure of the service may pass: let it be retried
			m.seen[key] = replay{fingerprint: fingerprint, status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// resource serves one kind of entity: POST /{kind}s creates one, GET /{kind}s/{id} reads it.
type resource[T any] struct {
	kind  string // "user": the paths are /users and /users/{id}, and messages name a user
	store *memStore[T]
	id    func(T) string
	// prepare validates a decoded entity and completes it. When it refuses the entity it has
	// answered the request itself, and returns false.
	prepare func(w http.ResponseWriter, r *http.Request, v *T) bool
}

// handler returns the resource's routes, behind the Idempotency-Key deduplication.
func (res resource[T]) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+res.kind+"s", func(w http.ResponseWriter, r *http.Request) {
		var v T
		if !decodeBody(w, r, &v) {
			return
		}
		if strings.TrimSpace(res.id(v)) == "" {
			writeError(w, http.StatusUnprocessableEntity, "id is required")
			return
		}
		if !res.prepare(w, r, &v) {
			return
		}
		if !res.store.add(res.id(v), v) {
			writeError(w, http.StatusConflict, "%s %q already exists", res.kind, res.id(v))
			return
		}
		writeJSON(w, http.StatusCreated, v)
	})
	mux.HandleFunc("GET /"+res.kind+"s/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := res.store.get(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "%s %q not found", res.kind, r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	return newIdempotency().wrap(mux)
}

// newUserHandler returns the user service.
func newUserHandler() (http.Handler, *memStore[User]) {
	users := resource[User]{kind: "user", store: newMemStore[User](), id: func(u User) string { return u.ID }}
	users.prepare = func(w http.ResponseWriter, _ *http.Request, u *User) bool {
		if u.Email == "" {
			writeError(w, http.StatusUnprocessableEntity, "email is required")
			return false
		}
		if addr, err := mail.ParseAddress(u.Email); err != nil || addr.Address != u.Email {
			writeError(w, http.StatusUnprocessableEntity, "email %q is not a valid address", u.Email)
			return false
		}
		return true
	}
	return users.handler(), users.store
}

// newProductHandler returns the product service.
func newProductHandler() (http.Handler, *memStore[Product]) {
	products := resource[Product]{kind: "product", store: newMemStore[Product](), id: func(p Product) string { return p.ID }}
	products.prepare = func(w http.ResponseWriter, _ *http.Request, p *Product) bool {
		switch {
		case strings.TrimSpace(p.Name) == "":
			writeError(w, http.StatusUnprocessableEntity, "name is required")
			return false
		case !(p.Price > 0) || math.IsInf(p.Price, 0):
			writeError(w, http.StatusUnprocessableEntity, "price must be above zero, not %v", p.Price)
			return false
		}
		return true
	}
	return products.handler(), products.store
}

// userGetter and productGetter are what the order service needs from the other two services:
// your UserServiceClient and ProductServiceClient.
type (
	userGetter interface {
		GetUser(ctx context.Context, id string) (*User, error)
	}
	productGetter interface {
		GetProduct(ctx context.Context, id string) (*Product, error)
	}
)

// newOrderHandler returns the order service, which reaches the user and product services
// through users and products.
func newOrderHandler(users userGetter, products productGetter, now func() time.Time) (http.Handler, *memStore[Order]) {
	orders := resource[Order]{kind: "order", store: newMemStore[Order](), id: func(o Order) string { return o.ID }}
	orders.prepare = func(w http.ResponseWriter, r *http.Request, o *Order) bool {
		switch {
		case strings.TrimSpace(o.UserID) == "":
			writeError(w, http.StatusUnprocessableEntity, "user_id is required")
			return false
		case len(o.Items) == 0:
			writeError(w, http.StatusUnprocessableEntity, "an order needs at least one item")
			return false
		}
		for i, it := range o.Items {
			if it.Quantity < 1 {
				writeError(w, http.StatusUnprocessableEntity, "item %d: quantity must be at least 1, not %d", i, it.Quantity)
				return false
			}
		}
		if _, ok := orders.store.get(o.ID); ok {
			// Answer a duplicate before calling the other services on its behalf.
			writeError(w, http.StatusConflict, "order %q already exists", o.ID)
			return false
		}

		ctx := r.Context()
		if _, err := users.GetUser(ctx, o.UserID); err != nil {
			dependencyError(w, "user", o.UserID, err)
			return false
		}
		o.Items = slices.Clone(o.Items)
		var total float64
		for i, it := range o.Items {
			p, err := products.GetProduct(ctx, it.ProductID)
			if err != nil {
				dependencyError(w, "product", it.ProductID, err)
				return false
			}
			o.Items[i].Price = p.Price // the catalog's price, never the caller's
			total += p.Price * float64(it.Quantity)
		}
		o.Total = math.Round(total*100) / 100
		o.Status = "placed"
		o.CreatedAt = now().UTC()
		return true
	}
	return orders.handler(), orders.store
}

// dependencyError answers for a failed call to the user or product service: an unknown id is
// the caller's mistake (422), anything else is the other service failing (502).
func dependencyError(w http.ResponseWriter, what, id string, err error) {
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusUnprocessableEntity, "unknown %s %q", what, id)
		return
	}
	writeError(w, http.StatusBadGateway, "%s service: %v", what, err)
}

// requestLog records the requests that reach a server.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

// loggedRequest is one request as the server saw it.
type loggedRequest struct {
	Method, Path, IdempotencyKey, ContentType string
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{
			Method: r.Method, Path: r.URL.Path,
			IdempotencyKey: r.Header.Get("Idempotency-Key"), ContentType: r.Header.Get("Content-Type"),
		})
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *requestLog) all() []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// lines returns the requests as "METHOD path".
func (l *requestLog) lines() []string {
	var lines []string
	for _, r := range l.all() {
		lines = append(lines, r.Method+" "+r.Path)
	}
	return lines
}

// fixedNow is the order service's clock.
func fixedNow() time.Time { return time.Date(2026, time.March, 4, 5, 6, 7, 0, time.UTC) }

// system is the three services running on httptest servers, each with a client of yours.
type system struct {
	usersSrv, productsSrv, ordersSrv *httptest.Server
	usersLog, productsLog, ordersLog *requestLog
	users                            *memStore[User]
	products                         *memStore[Product]
	orders                           *memStore[Order]
	userClient                       *UserServiceClient
	productClient                    *ProductServiceClient
	orderClient                      *OrderServiceClient
}

// newSystem starts the user, product and order services. The order service calls the other two
// with a UserServiceClient and a ProductServiceClient of its own; opts apply to every client.
func newSystem(t *testing.T, opts ...Option) *system {
	t.Helper()
	s := &system{usersLog: &requestLog{}, productsLog: &requestLog{}, ordersLog: &requestLog{}}

	var usersHandler, productsHandler http.Handler
	usersHandler, s.users = newUserHandler()
	productsHandler, s.products = newProductHandler()
	s.usersSrv = httptest.NewServer(s.usersLog.wrap(usersHandler))
	t.Cleanup(s.usersSrv.Close)
	s.productsSrv = httptest.NewServer(s.productsLog.wrap(productsHandler))
	t.Cleanup(s.productsSrv.Close)

	// The order service's own clients of the user and product services.
	orderUsers := NewUserServiceClient(s.usersSrv.URL, opts...)
	orderProducts := NewProductServiceClient(s.productsSrv.URL, opts...)
	var ordersHandler http.Handler
	ordersHandler, s.orders = newOrderHandler(orderUsers, orderProducts, fixedNow)
	s.ordersSrv = httptest.NewServer(s.ordersLog.wrap(ordersHandler))
	t.Cleanup(s.ordersSrv.Close)

	s.userClient = NewUserServiceClient(s.usersSrv.URL, opts...)
	s.productClient = NewProductServiceClient(s.productsSrv.URL, opts...)
	s.orderClient = NewOrderServiceClient(s.ordersSrv.URL, opts...)
	return s
}
