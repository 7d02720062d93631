package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The criteria tests of exercise 06, one per criterion of criteria.json.

func TestRequestRouting(t *testing.T) {
	t.Run("the longest matching prefix wins", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		users := startUpstream(t, "users-1", nil)
		slash := startUpstream(t, "trailing-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{
			{ServiceName: "api", Path: "/api"},
			{ServiceName: "users", Path: "/api/users"},
			{ServiceName: "trailing", Path: "/static/"},
		}})
		register(t, g.registry, api.info(t, "api"), users.info(t, "users"), slash.info(t, "trailing"))

		tests := []struct {
			path string
			want *upstream
		}{
			{"/api", api},
			{"/api/orders", api},
			{"/api/users", users},
			{"/api/users/", users},
			{"/api/users/42", users},
			{"/api/usersx", api}, // "/api/users" matches only at a "/" of the path
			{"/static/app.js", slash},
			{"/static/", slash},
		}
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				before := tt.want.count()
				r := g.get(t, tt.path)
				require.Equal(t, http.StatusOK, r.status, "GET %s: body %s", tt.path, r.body)
				assert.Equal(t, before+1, tt.want.count(), "GET %s must reach %s", tt.path, tt.want.id)
				assert.Equal(t, tt.path, tt.want.last(t).Path, "the upstream must get the path unchanged")
			})
		}
	})

	t.Run("an unknown path is 404", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}, {ServiceName: "api", Path: "/static/"}}})
		register(t, g.registry, api.info(t, "api"))
		for _, p := range []string{"/", "/nowhere", "/apix", "/ap", "/static"} {
			assertJSONError(t, g.get(t, p), http.StatusNotFound, "GET "+p)
		}
		assert.Zero(t, api.count(), "no upstream may get a request that matches no route")
	})

	t.Run("a method the route does not list is 405 with Allow", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api", Methods: []string{"GET", "POST"}}}})
		register(t, g.registry, api.info(t, "api"))
		r := g.do(t, newRequest(t, http.MethodDelete, "/api/x", nil))
		assertJSONError(t, r, http.StatusMethodNotAllowed, "DELETE on a GET, POST route")
		var allow []string
		for m := range strings.SplitSeq(r.header.Get("Allow"), ",") {
			allow = append(allow, strings.TrimSpace(m))
		}
		assert.ElementsMatch(t, []string{"GET", "POST"}, allow, "the Allow header lists the route's methods, got %q", r.header.Get("Allow"))
		assert.Zero(t, api.count(), "a 405 must not reach the upstream")
		assert.Equal(t, http.StatusOK, g.get(t, "/api/x").status, "GET is listed")
	})

	t.Run("method, path, query, body and response pass through", func(t *testing.T) {
		api := startUpstream(t, "api-1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Upstream", "yes")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "created by the upstream")
		})
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}})
		register(t, g.registry, api.info(t, "api"))
		r := g.do(t, newRequest(t, http.MethodPost, "/api/orders/7?x=1&y=two%20words", strings.NewReader(`{"qty":3}`), "Content-Type: application/json"))
		assert.Equal(t, http.StatusCreated, r.status, "the upstream's status")
		assert.Equal(t, "yes", r.header.Get("X-Upstream"), "the upstream's headers")
		assert.Equal(t, "created by the upstream", string(r.body), "the upstream's body")
		got := api.last(t)
		assert.Equal(t, http.MethodPost, got.Method)
		assert.Equal(t, "/api/orders/7", got.Path)
		assert.Equal(t, "x=1&y=two%20words", got.RawQuery, "the query string, unchanged")
		assert.Equal(t, `{"qty":3}`, string(got.Body), "the request body")
		assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	})

	t.Run("a streamed response is not buffered", func(t *testing.T) {
		proceed := make(chan struct{})
		release := sync.OnceFunc(func() { close(proceed) })
		api := startUpstream(t, "stream-1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "first\n")
			_ = http.NewResponseController(w).Flush()
			select { // the second line waits until the client has read the first
			case <-proceed:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "second\n")
		})
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "stream", Path: "/events"}}})
		register(t, g.registry, api.info(t, "stream"))
		t.Cleanup(release) // registered last, so it runs first: the servers' Close waits for the request

		lines := make(chan string, 2)
		go func() {
			defer close(lines)
			resp, err := g.srv.Client().Get(g.srv.URL + "/events")
			if err != nil {
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		select {
		case line := <-lines:
			assert.Equal(t, "first", line)
		case <-time.After(5 * time.Second):
			t.Fatal("the first line, flushed by the upstream, did not reach the client within 5s: the gateway buffers streamed responses (a ResponseWriter wrapper needs Unwrap or Flush)")
		}
		release()
		select {
		case line := <-lines:
			assert.Equal(t, "second", line)
		case <-time.After(5 * time.Second):
			t.Fatal("the second line did not arrive")
		}
	})

	t.Run("hop-by-hop headers are dropped", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}})
		register(t, g.registry, api.info(t, "api"))
		r := g.get(t, "/api/x", "Connection: X-Hop-Secret", "X-Hop-Secret: for the gateway only",
			"Keep-Alive: timeout=5", "Proxy-Authorization: Basic dXNlcjpwYXNz", "X-End-To-End: kept")
		require.Equal(t, http.StatusOK, r.status)
		got := api.last(t).Header
		for _, h := range []string{"X-Hop-Secret", "Keep-Alive", "Proxy-Authorization"} {
			assert.Empty(t, got.Values(h), "hop-by-hop header %s must not reach the upstream", h)
		}
		assert.NotContains(t, got.Get("Connection"), "X-Hop-Secret", "the client's Connection header must not reach the upstream")
		assert.Equal(t, "kept", got.Get("X-End-To-End"), "an end-to-end header passes through")
	})

	t.Run("X-Forwarded headers are set", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		t.Run("from an untrusted client", func(t *testing.T) {
			g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}})
			register(t, g.registry, api.info(t, "api"))
			require.Equal(t, http.StatusOK, g.get(t, "/api/x", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Host: evil.example").status)
			got := api.last(t).Header
			assert.Equal(t, "127.0.0.1", got.Get("X-Forwarded-For"), "an untrusted client's X-Forwarded-For is replaced by its own address")
			assert.Equal(t, g.srv.Listener.Addr().String(), got.Get("X-Forwarded-Host"), "X-Forwarded-Host is the host the client asked for")
			assert.Equal(t, "http", got.Get("X-Forwarded-Proto"))
		})
		t.Run("from a trusted proxy", func(t *testing.T) {
			g := newTestGateway(t, Config{
				Routes:         []RouteConfig{{ServiceName: "api", Path: "/api"}},
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			})
			register(t, g.registry, api.info(t, "api"))
			require.Equal(t, http.StatusOK, g.get(t, "/api/x", "X-Forwarded-For: 203.0.113.9").status)
			assert.Equal(t, "203.0.113.9, 127.0.0.1", api.last(t).Header.Get("X-Forwarded-For"),
				"a trusted proxy's X-Forwarded-For is kept and the proxy's address appended")
		})
	})

	t.Run("a request ID is generated when absent and passed on", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}})
		register(t, g.registry, api.info(t, "api"))

		var ids []string
		for range 2 {
			r := g.get(t, "/api/x")
			require.Equal(t, http.StatusOK, r.status)
			sent := api.last(t).Header.Get(RequestIDHeader)
			require.NotEmpty(t, sent, "the upstream must get an %s", RequestIDHeader)
			assert.Equal(t, sent, r.header.Get(RequestIDHeader), "the client gets back the ID the upstream got")
			ids = append(ids, sent)
		}
		assert.NotEqual(t, ids[0], ids[1], "two requests get two IDs")

		r := g.get(t, "/api/x", RequestIDHeader+": req-abc-123")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "req-abc-123", api.last(t).Header.Get(RequestIDHeader), "the client's own ID is passed on")
		assert.Equal(t, "req-abc-123", r.header.Get(RequestIDHeader), "and sent back")
	})

	t.Run("a refused connection is 502", func(t *testing.T) {
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}})
		register(t, g.registry, instanceAt(t, "api-dead", "api", refusingAddr(t)))
		assertJSONError(t, g.get(t, "/api/x"), http.StatusBadGateway, "the only instance refuses connections")
	})

	t.Run("a slow upstream is 504", func(t *testing.T) {
		done := make(chan struct{})
		api := startUpstream(t, "slow-1", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-done:
			case <-r.Context().Done():
			}
		})
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}, UpstreamTimeout: 100 * time.Millisecond})
		register(t, g.registry, api.info(t, "api"))
		t.Cleanup(func() { close(done) }) // runs before the servers' Close, which waits for the request
		start := time.Now()
		assertJSONError(t, g.get(t, "/api/x"), http.StatusGatewayTimeout, "the upstream sends no headers within UpstreamTimeout")
		assert.Less(t, time.Since(start), 5*time.Second, "the gateway must give up after UpstreamTimeout (100ms)")
	})

	t.Run("a body over the limit is 413 and never sent upstream", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}, MaxBodyBytes: 1024})
		register(t, g.registry, api.info(t, "api"))

		big := strings.Repeat("x", 2048)
		assertJSONError(t, g.do(t, newRequest(t, http.MethodPost, "/api/x", strings.NewReader(big))), http.StatusRequestEntityTooLarge,
			"a 2048-byte body with Content-Length, limit 1024")
		// A reader of unknown length is sent chunked: the gateway learns the size only by reading.
		assertJSONError(t, g.do(t, newRequest(t, http.MethodPost, "/api/x", io.MultiReader(strings.NewReader(big)))), http.StatusRequestEntityTooLarge,
			"a 2048-byte chunked body, limit 1024")
		assert.Zero(t, api.count(), "nothing of a body over the limit may reach the upstream")

		exact := strings.Repeat("y", 1024)
		r := g.do(t, newRequest(t, http.MethodPost, "/api/x", strings.NewReader(exact)))
		require.Equal(t, http.StatusOK, r.status, "a body of exactly MaxBodyBytes passes")
		assert.Equal(t, exact, string(api.last(t).Body))
		r = g.do(t, newRequest(t, http.MethodPost, "/api/x", io.MultiReader(strings.NewReader(exact))))
		require.Equal(t, http.StatusOK, r.status, "a chunked body of exactly MaxBodyBytes passes")
		assert.Equal(t, exact, string(api.last(t).Body), "the whole chunked body reaches the upstream")
	})

	t.Run("dot segments cannot leave a route", func(t *testing.T) {
		public := startUpstream(t, "public-1", nil)
		admin := startUpstream(t, "admin-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{
			{ServiceName: "public", Path: "/public"},
			{ServiceName: "admin", Path: "/admin"},
		}})
		register(t, g.registry, public.info(t, "public"), admin.info(t, "admin"))
		require.Equal(t, http.StatusOK, g.get(t, "/public/../admin/users").status)
		assert.Zero(t, public.count(), "/public/../admin/users is /admin/users: it must not reach the public route's service")
		if assert.Equal(t, 1, admin.count(), "/public/../admin/users must be routed as /admin/users") {
			assert.Equal(t, "/admin/users", admin.last(t).Path, "the upstream gets the cleaned path")
		}
	})

	t.Run("invalid configurations are refused", func(t *testing.T) {
		reg := NewMemoryRegistry()
		tests := []struct {
			name string
			cfg  Config
		}{
			{"a path without a leading slash", Config{Registry: reg, Routes: []RouteConfig{{ServiceName: "api", Path: "api"}}}},
			{"an empty path", Config{Registry: reg, Routes: []RouteConfig{{ServiceName: "api"}}}},
			{"no service name", Config{Registry: reg, Routes: []RouteConfig{{Path: "/api"}}}},
			{"the same path twice", Config{Registry: reg, Routes: []RouteConfig{{ServiceName: "a", Path: "/api"}, {ServiceName: "b", Path: "/api"}}}},
			{"routes without a registry", Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := NewAPIGateway(tt.cfg)
				assert.ErrorIs(t, err, ErrInvalidConfig)
			})
		}
	})
}

func TestJWTAuthentication(t *testing.T) {
	keys := testKeys()
	api := startUpstream(t, "orders-1", nil)
	public := startUpstream(t, "public-1", nil)
	g := newTestGateway(t, Config{
		Routes: []RouteConfig{
			{ServiceName: "orders", Path: "/api/orders", Auth: true},
			{ServiceName: "public", Path: "/public"},
		},
		JWT: jwtConfig(),
	})
	register(t, g.registry, api.info(t, "orders"), public.info(t, "public"))

	t.Run("a valid token reaches the upstream with its subject", func(t *testing.T) {
		r := g.getWithToken(t, "/api/orders/1", validToken(t, "alice", g.clock))
		require.Equal(t, http.StatusOK, r.status, "a valid token: body %s", r.body)
		assert.Equal(t, []string{"alice"}, api.last(t).Header.Values(SubjectHeader), "the upstream learns the subject from %s", SubjectHeader)
	})

	t.Run("keys are looked up by kid", func(t *testing.T) {
		tok := sign(t, keys.next, claimsFor("bob", g.clock.Now()))
		r := g.getWithToken(t, "/api/orders/1", tok)
		require.Equal(t, http.StatusOK, r.status, "a token signed with the second trusted key (kid %s): body %s", keys.next.kid, r.body)
		assert.Equal(t, []string{"bob"}, api.last(t).Header.Values(SubjectHeader))
	})

	t.Run("a client's own subject header is removed", func(t *testing.T) {
		r := g.get(t, "/api/orders/1", "Authorization: Bearer "+validToken(t, "alice", g.clock), SubjectHeader+": mallory")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, []string{"alice"}, api.last(t).Header.Values(SubjectHeader), "only the token's subject reaches the upstream")
		require.Equal(t, http.StatusOK, g.get(t, "/public/x", SubjectHeader+": mallory").status)
		assert.Empty(t, public.last(t).Header.Values(SubjectHeader), "on a route without Auth, a client's %s must not reach the upstream either", SubjectHeader)
	})

	t.Run("no credentials", func(t *testing.T) {
		before := api.count()
		r := g.get(t, "/api/orders/1")
		assertJSONError(t, r, http.StatusUnauthorized, "no Authorization header")
		assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), "a 401 carries a Bearer challenge, got %q", r.header.Get("WWW-Authenticate"))
		assert.Equal(t, before, api.count(), "a request without a token must not reach the upstream")
	})

	// Each attack presents a credential that must not be accepted.
	type attack struct {
		name  string
		send  func(t *testing.T) response
		setup func(t *testing.T) // before send, optional
	}
	withToken := func(tok func(t *testing.T) string) func(t *testing.T) response {
		return func(t *testing.T) response { return g.getWithToken(t, "/api/orders/1", tok(t)) }
	}
	claims := func(edit func(c jwt.MapClaims)) jwt.MapClaims {
		c := claimsFor("alice", g.clock.Now())
		edit(c)
		return c
	}
	attacks := []attack{
		{name: "alg none", send: withToken(func(t *testing.T) string {
			enc := base64.RawURLEncoding
			header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + keys.current.kid + `"}`))
			payload, err := json.Marshal(claimsFor("alice", g.clock.Now()))
			require.NoError(t, err)
			return header + "." + enc.EncodeToString(payload) + "."
		})},
		{name: "HS256 signed with the RSA public key", send: withToken(func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsFor("alice", g.clock.Now()))
			tok.Header["kid"] = keys.current.kid
			s, err := tok.SignedString(publicKeyPEM(t, keys.current))
			require.NoError(t, err)
			return s
		})},
		{name: "expired", send: func(t *testing.T) response {
			tok := validToken(t, "carol", g.clock)
			require.Equal(t, http.StatusOK, g.getWithToken(t, "/api/orders/1", tok).status, "precondition: the token is valid for an hour")
			g.clock.Advance(time.Hour + time.Second)
			return g.getWithToken(t, "/api/orders/1", tok)
		}},
		{name: "not yet valid", send: withToken(func(t *testing.T) string {
			return sign(t, keys.current, claims(func(c jwt.MapClaims) {
				c["nbf"] = g.clock.Now().Add(time.Hour).Unix()
				c["exp"] = g.clock.Now().Add(2 * time.Hour).Unix()
			}))
		})},
		{name: "wrong audience", send: withToken(func(t *testing.T) string {
			return sign(t, keys.current, claims(func(c jwt.MapClaims) { c["aud"] = "another-api" }))
		})},
		{name: "wrong issuer", send: withToken(func(t *testing.T) string {
			return sign(t, keys.current, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))
		})},
		{name: "no exp", send: withToken(func(t *testing.T) string {
			return sign(t, keys.current, claims(func(c jwt.MapClaims) { delete(c, "exp") }))
		})},
		{name: "no subject", send: withToken(func(t *testing.T) string {
			return sign(t, keys.current, claims(func(c jwt.MapClaims) { delete(c, "sub") }))
		})},
		{name: "flipped signature byte", send: withToken(func(t *testing.T) string {
			parts := strings.Split(validToken(t, "alice", g.clock), ".")
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			require.NoError(t, err)
			sig[len(sig)/2] ^= 0x01
			parts[2] = base64.RawURLEncoding.EncodeToString(sig)
			return strings.Join(parts, ".")
		})},
		{name: "signed by an untrusted key under a trusted kid", send: withToken(func(t *testing.T) string {
			return sign(t, keys.stranger, claimsFor("alice", g.clock.Now()))
		})},
		{name: "unknown kid", send: withToken(func(t *testing.T) string {
			return sign(t, signingKey{kid: "key-unknown", private: keys.current.private}, claimsFor("alice", g.clock.Now()))
		})},
		{name: "token in the query string", send: func(t *testing.T) response {
			return g.get(t, "/api/orders/1?access_token="+validToken(t, "alice", g.clock))
		}},
		{name: "malformed Authorization header", send: func(t *testing.T) response {
			tok := validToken(t, "alice", g.clock)
			headers := map[string]string{
				"no scheme":            tok,
				"another scheme":       "Token " + tok,
				"basic credentials":    "Basic dXNlcjpwYXNz",
				"scheme only":          "Bearer",
				"not a JWT":            "Bearer not-a-jwt",
				"two parts":            "Bearer " + tok[:strings.LastIndex(tok, ".")],
				"trailing garbage":     "Bearer " + tok + " extra",
				"garbage in base64url": "Bearer " + strings.Replace(tok, ".", ".%%%", 1),
			}
			var last response
			for name, h := range headers {
				t.Run(name, func(t *testing.T) {
					last = g.get(t, "/api/orders/1", "Authorization: "+h)
					assertInvalidToken(t, last, "Authorization: "+name)
				})
			}
			return last
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			before := api.count()
			r := a.send(t)
			assertInvalidToken(t, r, a.name)
			assert.Equal(t, before+countPreconditions(a.name), api.count(), "%s: the request must not reach the upstream", a.name)
		})
	}

	t.Run("the token is never logged", func(t *testing.T) {
		tok := validToken(t, "dave", g.clock)
		require.Equal(t, http.StatusOK, g.getWithToken(t, "/api/orders/1", tok).status)
		g.getWithToken(t, "/api/orders/1", tok+"x")
		g.get(t, "/api/orders/1?access_token="+tok)
		logs := g.logs.String()
		signature := tok[strings.LastIndex(tok, ".")+1:]
		assert.NotContains(t, logs, signature, "the log must never hold a token, not even at debug level")
	})

	t.Run("invalid JWT configurations are refused", func(t *testing.T) {
		route := []RouteConfig{{ServiceName: "orders", Path: "/api/orders", Auth: true}}
		tests := []struct {
			name string
			jwt  JWTConfig
		}{
			{"no keys", JWTConfig{Issuer: testIssuer, Audience: testAudience}},
			{"no issuer", JWTConfig{Keys: trustedKeys(), Audience: testAudience}},
			{"no audience", JWTConfig{Keys: trustedKeys(), Issuer: testIssuer}},
			{"HS256, a shared secret", JWTConfig{Keys: trustedKeys(), Issuer: testIssuer, Audience: testAudience, Algorithms: []string{"RS256", "HS256"}}},
			{"none", JWTConfig{Keys: trustedKeys(), Issuer: testIssuer, Audience: testAudience, Algorithms: []string{"none"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := NewAPIGateway(Config{Registry: NewMemoryRegistry(), Routes: route, JWT: tt.jwt})
				assert.ErrorIs(t, err, ErrInvalidConfig)
			})
		}
	})
}

// countPreconditions is how many requests an attack sends on purpose before the attack itself:
// the expired token is used once while it is still valid.
func countPreconditions(attack string) int {
	if attack == "expired" {
		return 1
	}
	return 0
}

// assertInvalidToken checks the answer to a request that presented an unusable credential: 401
// with a JSON error and the challenge of RFC 6750 with error="invalid_token".
func assertInvalidToken(t testing.TB, r response, what string) {
	t.Helper()
	assertJSONError(t, r, http.StatusUnauthorized, what)
	challenge := r.header.Get("WWW-Authenticate")
	assert.True(t, strings.HasPrefix(challenge, "Bearer"), "%s: WWW-Authenticate must be a Bearer challenge, got %q", what, challenge)
	assert.Contains(t, challenge, `error="invalid_token"`, "%s: the challenge must say error=\"invalid_token\"", what)
}

// countingLimiter is a RateLimiter that records the client IDs it is asked about and allows the
// first allow requests of each.
type countingLimiter struct {
	allow int
	mu    sync.Mutex
	calls map[string]int
}

func (l *countingLimiter) Allow(clientID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[clientID]++
	return l.calls[clientID] <= l.allow
}

func (l *countingLimiter) clients() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.calls {
		out[k] = v
	}
	return out
}

func TestPerClientRateLimiting(t *testing.T) {
	t.Run("over the limit is 429 with Retry-After, on the injected clock", func(t *testing.T) {
		api := startUpstream(t, "search-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{
			{ServiceName: "search", Path: "/search", RateLimit: &RateLimit{RequestsPerSecond: 0.5, Burst: 2}},
		}})
		register(t, g.registry, api.info(t, "search"))
		for i := range 2 {
			require.Equal(t, http.StatusOK, g.get(t, "/search").status, "request %d of a burst of 2", i+1)
		}
		r := g.get(t, "/search")
		assertJSONError(t, r, http.StatusTooManyRequests, "the third request of a burst of 2")
		assert.Equal(t, "2", r.header.Get("Retry-After"), "at 0.5 requests per second the next token comes in 2s")
		assert.Equal(t, 2, api.count(), "a refused request must not reach the upstream")

		g.clock.Advance(time.Second)
		r = g.get(t, "/search")
		assert.Equal(t, http.StatusTooManyRequests, r.status, "1s later the bucket holds half a token")
		assert.Equal(t, "1", r.header.Get("Retry-After"), "1s later the next token is 1s away")
		g.clock.Advance(time.Second)
		assert.Equal(t, http.StatusOK, g.get(t, "/search").status, "2s after the burst the bucket has a token again (time comes from Config.Clock)")
		assert.Equal(t, http.StatusTooManyRequests, g.get(t, "/search").status, "and only one")
	})

	t.Run("each subject has its own bucket", func(t *testing.T) {
		api := startUpstream(t, "orders-1", nil)
		g := newTestGateway(t, Config{
			Routes: []RouteConfig{{ServiceName: "orders", Path: "/orders", Auth: true, RateLimit: &RateLimit{RequestsPerSecond: 0.01, Burst: 1}}},
			JWT:    jwtConfig(),
		})
		register(t, g.registry, api.info(t, "orders"))
		alice, bob := validToken(t, "alice", g.clock), validToken(t, "bob", g.clock)
		assert.Equal(t, http.StatusOK, g.getWithToken(t, "/orders", alice).status, "alice's first request")
		assert.Equal(t, http.StatusTooManyRequests, g.getWithToken(t, "/orders", alice).status, "alice's second request")
		assert.Equal(t, http.StatusOK, g.getWithToken(t, "/orders", bob).status, "bob, from the same address, has a bucket of his own")
	})

	t.Run("X-Forwarded-For names the client only behind a trusted proxy", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		limit := &RateLimit{RequestsPerSecond: 0.01, Burst: 1}
		trusting := newTestGateway(t, Config{
			Routes:         []RouteConfig{{ServiceName: "api", Path: "/api", RateLimit: limit}},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		})
		register(t, trusting.registry, api.info(t, "api"))
		assert.Equal(t, http.StatusOK, trusting.get(t, "/api", "X-Forwarded-For: 203.0.113.1").status, "203.0.113.1's first request")
		assert.Equal(t, http.StatusTooManyRequests, trusting.get(t, "/api", "X-Forwarded-For: 203.0.113.1").status, "203.0.113.1's second request")
		assert.Equal(t, http.StatusOK, trusting.get(t, "/api", "X-Forwarded-For: 203.0.113.1, 203.0.113.2").status,
			"the client is 203.0.113.2, the address the trusted proxy saw: the start of the header is the client's own claim")

		untrusting := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api", RateLimit: limit}}})
		register(t, untrusting.registry, api.info(t, "api"))
		assert.Equal(t, http.StatusOK, untrusting.get(t, "/api", "X-Forwarded-For: 203.0.113.1").status)
		assert.Equal(t, http.StatusTooManyRequests, untrusting.get(t, "/api", "X-Forwarded-For: 203.0.113.2").status,
			"without trusted proxies X-Forwarded-For is the client's own claim: both requests come from 127.0.0.1")
	})

	t.Run("each route has its own limit", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{
			{ServiceName: "api", Path: "/one", RateLimit: &RateLimit{RequestsPerSecond: 0.01, Burst: 1}},
			{ServiceName: "api", Path: "/three", RateLimit: &RateLimit{RequestsPerSecond: 0.01, Burst: 3}},
			{ServiceName: "api", Path: "/free"},
		}})
		register(t, g.registry, api.info(t, "api"))
		var got []int
		for _, p := range []string{"/one", "/one", "/three", "/three", "/three", "/three"} {
			got = append(got, g.get(t, p).status)
		}
		assert.Equal(t, []int{200, 429, 200, 200, 200, 429}, got, "/one allows 1, /three allows 3, each with its own buckets")
		for i := range 20 {
			require.Equal(t, http.StatusOK, g.get(t, "/free").status, "request %d on a route without a limit", i+1)
		}
	})

	t.Run("Config.RateLimiter covers the routes without their own", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		limiter := &countingLimiter{allow: 1}
		g := newTestGateway(t, Config{
			Routes: []RouteConfig{
				{ServiceName: "api", Path: "/open"},
				{ServiceName: "api", Path: "/private", Auth: true},
				{ServiceName: "api", Path: "/own", RateLimit: &RateLimit{RequestsPerSecond: 100}},
			},
			RateLimiter: limiter,
			JWT:         jwtConfig(),
		})
		register(t, g.registry, api.info(t, "api"))
		assert.Equal(t, http.StatusOK, g.get(t, "/open").status)
		r := g.get(t, "/open")
		assertJSONError(t, r, http.StatusTooManyRequests, "the limiter refuses the second request")
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		assert.NoError(t, err, "Retry-After is a number of seconds, got %q", r.header.Get("Retry-After"))
		assert.Positive(t, ra, "Retry-After is at least 1")
		assert.Equal(t, http.StatusOK, g.getWithToken(t, "/private", validToken(t, "erin", g.clock)).status)
		assert.Equal(t, http.StatusOK, g.get(t, "/own").status)
		assert.Equal(t, map[string]int{"127.0.0.1": 2, "erin": 1}, limiter.clients(),
			"Allow gets the client's IP, or the subject of an authenticated request; a route with its own RateLimit does not use it")
	})

	t.Run("a bucket is kept until it is full again", func(t *testing.T) {
		clock := newFakeClock()
		l, err := NewClientRateLimiter(RateLimit{RequestsPerSecond: 1, Burst: 2}, clock)
		require.NoError(t, err)
		assert.True(t, l.Allow("a"), "a's first request")
		assert.True(t, l.Allow("a"), "a's second request")
		assert.False(t, l.Allow("a"), "a's bucket of 2 is empty")
		for i := range 1500 { // 1.5s of other clients: a's bucket refills to 1.5 tokens
			clock.Advance(time.Millisecond)
			require.True(t, l.Allow("other-"+strconv.Itoa(i)))
		}
		assert.True(t, l.Allow("a"), "1.5s later a has 1.5 tokens")
		assert.False(t, l.Allow("a"), "and not 2: a bucket that is not full again must not be forgotten")
	})

	t.Run("memory stays bounded with a million clients", func(t *testing.T) {
		clock := newFakeClock()
		// A bucket of 10 at 10 per second is full again one second after its last use.
		l, err := NewClientRateLimiter(RateLimit{RequestsPerSecond: 10, Burst: 10}, clock)
		require.NoError(t, err)
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// A million clients, each making one request: a hundred every 100ms of the fake clock.
		const clients, batch = 1_000_000, 100
		id := make([]byte, 0, 16)
		for i := range clients {
			if i%batch == 0 {
				clock.Advance(batch * time.Millisecond)
			}
			id = strconv.AppendInt(append(id[:0], 'c'), int64(i), 10)
			if !l.Allow(string(id)) {
				require.Failf(t, "a new client must be allowed", "client %d was refused its first request", i)
			}
			if i%10_000 == 0 {
				require.LessOrEqual(t, l.Len(), 10_000,
					"after %d clients, a thousand per second, the limiter holds %d buckets: the idle ones must be forgotten", i+1, l.Len())
			}
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		assert.Less(t, grown, int64(32<<20), "after a million clients the heap grew by %d MiB", grown>>20)
		assert.True(t, l.Allow("c999999"), "the last client still has tokens")
		runtime.KeepAlive(l)
	})

	t.Run("concurrent requests of one client are all counted", func(t *testing.T) {
		l, err := NewClientRateLimiter(RateLimit{RequestsPerSecond: 0.001, Burst: 50}, newFakeClock())
		require.NoError(t, err)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					if l.Allow("same") {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(50), allowed.Load(), "160 concurrent requests against a burst of 50")
	})

	t.Run("invalid limits are refused", func(t *testing.T) {
		for _, lim := range []RateLimit{{RequestsPerSecond: 0}, {RequestsPerSecond: -1}, {RequestsPerSecond: 1, Burst: -1}} {
			_, err := NewClientRateLimiter(lim, nil)
			assert.ErrorIs(t, err, ErrInvalidConfig, "NewClientRateLimiter(%+v)", lim)
			_, err = NewAPIGateway(Config{Registry: NewMemoryRegistry(), Routes: []RouteConfig{{ServiceName: "api", Path: "/api", RateLimit: &lim}}})
			assert.ErrorIs(t, err, ErrInvalidConfig, "a route with RateLimit %+v", lim)
		}
	})
}

func TestLoadBalancing(t *testing.T) {
	t.Run("round robin spreads requests evenly", func(t *testing.T) {
		var ups []*upstream
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}}})
		for i := range 3 {
			u := startUpstream(t, fmt.Sprintf("users-%d", i+1), nil)
			register(t, g.registry, u.info(t, "users"))
			ups = append(ups, u)
		}
		for i := range 30 {
			require.Equal(t, http.StatusOK, g.get(t, "/users").status, "request %d", i+1)
		}
		for _, u := range ups {
			assert.Equal(t, 10, u.count(), "30 requests over 3 instances: %s must get 10", u.id)
		}
	})

	t.Run("the registry is asked for each request", func(t *testing.T) {
		a, b := startUpstream(t, "users-a", nil), startUpstream(t, "users-b", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}}})
		register(t, g.registry, a.info(t, "users"))
		require.Equal(t, http.StatusOK, g.get(t, "/users").status)
		register(t, g.registry, b.info(t, "users"))
		for range 4 {
			require.Equal(t, http.StatusOK, g.get(t, "/users").status)
		}
		assert.Equal(t, 2, b.count(), "an instance registered later gets its share")
		require.NoError(t, g.registry.Deregister(context.Background(), "users-b"))
		for range 4 {
			require.Equal(t, http.StatusOK, g.get(t, "/users").status)
		}
		assert.Equal(t, 2, b.count(), "a deregistered instance gets nothing more")
	})

	t.Run("an instance that refuses is skipped and marked down until it recovers", func(t *testing.T) {
		const downFor = 30 * time.Second
		alive := startUpstream(t, "users-a", nil)
		deadAddr := refusingAddr(t)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}}, DownFor: downFor})
		register(t, g.registry, alive.info(t, "users"), instanceAt(t, "users-b", "users", deadAddr))
		for i := range 10 {
			require.Equal(t, http.StatusOK, g.get(t, "/users").status, "GET %d: an idempotent request goes on to the instance that answers", i+1)
		}
		assert.Equal(t, 10, alive.count())

		// users-b comes back on its address before DownFor has passed: it stays out until then.
		l, err := net.Listen("tcp", deadAddr)
		if err != nil {
			t.Skipf("port %s was taken before the instance could come back: %v", deadAddr, err)
		}
		var back atomic.Int64
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { back.Add(1) })}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		for range 6 {
			require.Equal(t, http.StatusOK, g.get(t, "/users").status)
		}
		assert.Zero(t, back.Load(), "an instance marked down gets no request for DownFor (%v of the injected clock)", downFor)

		g.clock.Advance(downFor)
		for range 6 {
			require.Equal(t, http.StatusOK, g.get(t, "/users").status)
		}
		assert.Equal(t, int64(3), back.Load(), "after DownFor the instance is back in the round robin: 3 of 6 requests")
	})

	t.Run("no healthy instance is 503", func(t *testing.T) {
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}}})
		assertJSONError(t, g.get(t, "/users"), http.StatusServiceUnavailable, "no instance registered")

		failing := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}}, Registry: failingRegistry{}})
		assertJSONError(t, failing.get(t, "/users"), http.StatusServiceUnavailable, "the registry fails")
	})

	t.Run("once every instance is marked down, 503", func(t *testing.T) {
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}}, DownFor: time.Minute})
		register(t, g.registry, instanceAt(t, "users-dead", "users", refusingAddr(t)))
		assert.Equal(t, http.StatusBadGateway, g.get(t, "/users").status, "the only instance refuses")
		assertJSONError(t, g.get(t, "/users"), http.StatusServiceUnavailable, "the only instance is marked down")
		g.clock.Advance(time.Minute)
		assert.Equal(t, http.StatusBadGateway, g.get(t, "/users").status, "after DownFor the instance is tried again")
	})
}

// failingRegistry is a ServiceRegistry that is down. It counts the calls to Discover.
type failingRegistry struct{ discovers *atomic.Int64 }

var errRegistryDown = errors.New("registry unavailable")

func (failingRegistry) Register(context.Context, ServiceInfo) error { return errRegistryDown }
func (failingRegistry) Deregister(context.Context, string) error    { return errRegistryDown }
func (r failingRegistry) Discover(context.Context, string) ([]ServiceInfo, error) {
	if r.discovers != nil {
		r.discovers.Add(1)
	}
	return nil, errRegistryDown
}

func TestHealthEndpoints(t *testing.T) {
	assertJSONObject := func(t *testing.T, r response, what string) {
		t.Helper()
		assert.Contains(t, r.header.Get("Content-Type"), "application/json", "%s answers JSON", what)
		var v map[string]any
		assert.NoError(t, json.Unmarshal(r.body, &v), "%s: the body must be a JSON object, got %q", what, r.body)
	}

	t.Run("/health answers without asking the registry", func(t *testing.T) {
		discovers := &atomic.Int64{}
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/"}}, Registry: failingRegistry{discovers}})
		r := g.get(t, "/health")
		assert.Equal(t, http.StatusOK, r.status, "liveness does not depend on the registry")
		assertJSONObject(t, r, "/health")
		assert.Zero(t, discovers.Load(), "/health must stay cheap: no registry lookup")
	})

	t.Run("/ready follows the routes' instances", func(t *testing.T) {
		users, orders := startUpstream(t, "users-1", nil), startUpstream(t, "orders-1", nil)
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "users", Path: "/users"}, {ServiceName: "orders", Path: "/orders"}}})
		register(t, g.registry, users.info(t, "users"))
		r := g.get(t, "/ready")
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "/orders has no instance")
		assertJSONObject(t, r, "/ready")
		register(t, g.registry, orders.info(t, "orders"))
		r = g.get(t, "/ready")
		assert.Equal(t, http.StatusOK, r.status, "every route has an instance: body %s", r.body)
		assertJSONObject(t, r, "/ready")
		require.NoError(t, g.registry.Deregister(context.Background(), "users-1"))
		assert.Equal(t, http.StatusServiceUnavailable, g.get(t, "/ready").status, "/users lost its instance")
	})

	t.Run("/ready is 503 when the registry fails", func(t *testing.T) {
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}, Registry: failingRegistry{}})
		r := g.get(t, "/ready")
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assertJSONObject(t, r, "/ready")
	})

	t.Run("/ready counts an instance marked down as unhealthy", func(t *testing.T) {
		g := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "api", Path: "/api"}}})
		register(t, g.registry, instanceAt(t, "api-dead", "api", refusingAddr(t)))
		require.Equal(t, http.StatusOK, g.get(t, "/ready").status, "precondition: the instance is registered")
		require.Equal(t, http.StatusBadGateway, g.get(t, "/api").status, "precondition: the instance refuses")
		assert.Equal(t, http.StatusServiceUnavailable, g.get(t, "/ready").status, "the only instance is marked down")
	})

	t.Run("neither needs a token nor counts against a limit", func(t *testing.T) {
		api := startUpstream(t, "api-1", nil)
		limiter := &countingLimiter{allow: 0}
		g := newTestGateway(t, Config{
			Routes:      []RouteConfig{{ServiceName: "api", Path: "/", Auth: true}},
			JWT:         jwtConfig(),
			RateLimiter: limiter,
		})
		register(t, g.registry, api.info(t, "api"))
		for range 3 {
			assert.Equal(t, http.StatusOK, g.get(t, "/health").status, "/health, without a token, behind a limiter that refuses everyone")
			assert.Equal(t, http.StatusOK, g.get(t, "/ready").status, "/ready, without a token, behind a limiter that refuses everyone")
		}
		assert.Empty(t, limiter.clients(), "health checks must not count against a rate limit")
		assert.Zero(t, api.count(), "the gateway answers its health endpoints itself, even under a \"/\" route")
	})
}

func TestMetricsAndLogging(t *testing.T) {
	users := startUpstream(t, "users-1", nil)
	open := startUpstream(t, "open-1", nil)
	g := newTestGateway(t, Config{
		Routes: []RouteConfig{
			{ServiceName: "users", Path: "/users", Auth: true, RateLimit: &RateLimit{RequestsPerSecond: 0.01, Burst: 1}},
			{ServiceName: "open", Path: "/open"},
			{ServiceName: "down", Path: "/down"},
		},
		JWT: jwtConfig(),
	})
	register(t, g.registry, users.info(t, "users"), open.info(t, "open"), instanceAt(t, "down-1", "down", refusingAddr(t)))

	tok := validToken(t, "alice", g.clock)
	requests := []struct {
		id, path, auth string
		status         int
		route, client  string
	}{
		{"log-1", "/users/1", tok, http.StatusOK, "/users", "alice"},
		{"log-2", "/users/1", tok, http.StatusTooManyRequests, "/users", "alice"},
		{"log-3", "/users/1", "", http.StatusUnauthorized, "/users", "127.0.0.1"},
		{"log-4", "/open/x?access_token=" + tok, "", http.StatusOK, "/open", "127.0.0.1"},
		{"log-5", "/nowhere", "", http.StatusNotFound, "unmatched", "127.0.0.1"},
		{"log-6", "/down/x", "", http.StatusBadGateway, "/down", "127.0.0.1"},
	}
	for _, rq := range requests {
		header := []string{RequestIDHeader + ": " + rq.id}
		if rq.auth != "" {
			header = append(header, "Authorization: Bearer "+rq.auth)
		}
		r := g.get(t, rq.path, header...)
		require.Equal(t, rq.status, r.status, "precondition: GET %s (%s)", rq.path, rq.id)
	}

	t.Run("requests by route, method and status code", func(t *testing.T) {
		want := map[[2]string]float64{
			{"/users", "200"}: 1, {"/users", "429"}: 1, {"/users", "401"}: 1,
			{"/open", "200"}: 1, {"unmatched", "404"}: 1, {"/down", "502"}: 1,
		}
		for key, n := range want {
			got, ok := metricValue(t, g.metrics, "gateway_requests_total", map[string]string{"route": key[0], "method": "GET", "code": key[1]})
			assert.True(t, ok, "gateway_requests_total{route=%q,method=\"GET\",code=%q} is missing", key[0], key[1])
			assert.Equal(t, n, got, "gateway_requests_total{route=%q,method=\"GET\",code=%q}", key[0], key[1])
		}
	})

	t.Run("a latency histogram", func(t *testing.T) {
		got, ok := metricValue(t, g.metrics, "gateway_request_duration_seconds", map[string]string{"route": "/users", "method": "GET"})
		assert.True(t, ok, `the histogram gateway_request_duration_seconds{route="/users",method="GET"} is missing`)
		assert.Equal(t, 3.0, got, "three requests went to /users")
	})

	t.Run("upstream errors, rate-limited and auth-rejected requests", func(t *testing.T) {
		for _, m := range []struct{ name, route string }{
			{"gateway_upstream_errors_total", "/down"},
			{"gateway_rate_limited_total", "/users"},
			{"gateway_auth_rejected_total", "/users"},
		} {
			got, ok := metricValue(t, g.metrics, m.name, map[string]string{"route": m.route})
			assert.True(t, ok, "%s{route=%q} is missing", m.name, m.route)
			assert.Equal(t, 1.0, got, "%s{route=%q}", m.name, m.route)
		}
	})

	t.Run("served on /metrics", func(t *testing.T) {
		r := g.get(t, "/metrics")
		require.Equal(t, http.StatusOK, r.status)
		for _, name := range []string{"gateway_requests_total", "gateway_request_duration_seconds_bucket", "gateway_upstream_errors_total", "gateway_rate_limited_total", "gateway_auth_rejected_total"} {
			assert.Contains(t, string(r.body), name+"{", "/metrics must expose %s", name)
		}
	})

	t.Run("on the registry the caller passes, not a global one", func(t *testing.T) {
		other := newTestGateway(t, Config{Routes: []RouteConfig{{ServiceName: "open", Path: "/open"}}})
		register(t, other.registry, open.info(t, "open"))
		require.Equal(t, http.StatusOK, other.get(t, "/open").status, "a second gateway in the same process works")
		got, _ := metricValue(t, other.metrics, "gateway_requests_total", map[string]string{"route": "/open", "method": "GET", "code": "200"})
		assert.Equal(t, 1.0, got, "the second gateway counts in its own registry")
		families, err := prometheus.DefaultGatherer.Gather()
		require.NoError(t, err)
		for _, f := range families {
			assert.False(t, strings.HasPrefix(f.GetName(), "gateway_"), "%s is in the global registry", f.GetName())
		}
	})

	t.Run("one access-log record per request", func(t *testing.T) {
		records := g.logs.records(t)
		for _, rq := range requests {
			var found []map[string]any
			for _, rec := range records {
				if rec["request_id"] == rq.id && rec["status"] != nil && rec["duration"] != nil {
					found = append(found, rec)
				}
			}
			if !assert.Len(t, found, 1, "request %s: want one record with request_id, route, status, duration and client", rq.id) {
				continue
			}
			rec := found[0]
			assert.Equal(t, rq.route, rec["route"], "request %s: route", rq.id)
			assert.EqualValues(t, rq.status, rec["status"], "request %s: status", rq.id)
			assert.Equal(t, rq.client, rec["client"], "request %s: client (the subject, else the IP address)", rq.id)
			assert.Equal(t, "INFO", rec["level"], "request %s: access-log records are at Info level", rq.id)
		}
	})

	t.Run("the log never holds the token", func(t *testing.T) {
		logs := g.logs.String()
		assert.NotContains(t, logs, tok[strings.LastIndex(tok, ".")+1:], "the token (here its signature) must never be logged, nor a query string that holds one")
		assert.True(t, slices.ContainsFunc(g.logs.records(t), func(rec map[string]any) bool { return rec["request_id"] == "log-4" }), "precondition: the request with the token in its query was logged")
	})
}
