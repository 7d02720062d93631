package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick checks to run while you work. The graded criteria are in criteria_test.go.

func TestSeedShapes(t *testing.T) {
	// The seed's declarations, as the exercise keeps them.
	var (
		_ http.Handler = (*APIGateway)(nil)
		_ Middleware   = AuthMiddleware
		_ RateLimiter  = (*ClientRateLimiter)(nil)
	)
	route := RouteConfig{
		ServiceName: "users",
		Path:        "/api/users",
		Methods:     []string{"GET", "POST"},
		Auth:        false,
		RateLimit:   &RateLimit{RequestsPerSecond: 10, Burst: 20},
	}
	gw, err := NewAPIGateway(Config{Routes: []RouteConfig{route}, Registry: NewMemoryRegistry()})
	require.NoError(t, err)
	require.NotNil(t, gw)
}

// denyList is the smallest RateLimiter: it refuses the clients it lists.
type denyList map[string]bool

func (d denyList) Allow(clientID string) bool { return !d[clientID] }

func TestRateLimitMiddlewareOnItsOwn(t *testing.T) {
	// The seed's RateLimitMiddleware(limiter) wraps any handler, in a gateway or not. Outside a
	// gateway the client is the connection's IP address.
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := RateLimitMiddleware(denyList{"192.0.2.66": true})(ok)

	for _, tt := range []struct {
		remote string
		want   int
	}{
		{"192.0.2.1:40000", http.StatusNoContent},
		{"192.0.2.66:40000", http.StatusTooManyRequests},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/anything", nil)
		req.RemoteAddr = tt.remote
		h.ServeHTTP(rec, req)
		assert.Equal(t, tt.want, rec.Code, "request from %s", tt.remote)
		if tt.want == http.StatusTooManyRequests {
			assert.NotEmpty(t, rec.Header().Get("Retry-After"), "a 429 says when to come back")
		}
	}
}

func TestClientRateLimiterBurst(t *testing.T) {
	clock := newFakeClock()
	l, err := NewClientRateLimiter(RateLimit{RequestsPerSecond: 1, Burst: 3}, clock)
	require.NoError(t, err)
	for i := range 3 {
		assert.True(t, l.Allow("alice"), "request %d of a burst of 3", i+1)
	}
	assert.False(t, l.Allow("alice"), "the fourth request")
	assert.True(t, l.Allow("bob"), "another client has its own bucket")
	clock.Advance(time.Second)
	assert.True(t, l.Allow("alice"), "one token back after a second")
}

func TestProxyOneRoute(t *testing.T) {
	users := startUpstream(t, "users-1", nil)
	g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/api/users", Methods: []string{"GET"}}}})
	register(t, g.registry, users.info(t, "users"))

	r := g.get(t, "/api/users/42")
	require.Equal(t, http.StatusOK, r.status, "body %s", r.body)
	assert.JSONEq(t, `{"instance":"users-1"}`, string(r.body))
	assert.Equal(t, "/api/users/42", users.last(t).Path)

	assert.Equal(t, http.StatusNotFound, g.get(t, "/api/orders").status, "no route")
	assert.Equal(t, http.StatusOK, g.get(t, "/health").status, "liveness")
}
