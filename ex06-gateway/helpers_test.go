package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test doubles and helpers shared by the tests of this package.

// The token settings of the tests' gateways.
const (
	testIssuer   = "https://auth.workbook.test"
	testAudience = "workbook-api"
)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock returns a clock set far from the real time, so that code reading time.Now instead
// of its Clock is caught.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// signingKey is an RSA key pair with its key ID.
type signingKey struct {
	kid     string
	private *rsa.PrivateKey
}

// keyRing holds the keys of the tests: two the gateway trusts and one it does not.
type keyRing struct {
	current, next, stranger signingKey
}

// testKeys generates the test keys once per test binary: RSA key generation is slow.
var testKeys = sync.OnceValue(func() keyRing {
	gen := func(kid string) signingKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return signingKey{kid: kid, private: k}
	}
	return keyRing{current: gen("key-2001-a"), next: gen("key-2001-b"), stranger: gen("key-2001-a")}
})

// trustedKeys is the KeySet of the tests' gateways: the current and the next key.
func trustedKeys() StaticKeys {
	ks := testKeys()
	return StaticKeys{ks.current.kid: &ks.current.private.PublicKey, ks.next.kid: &ks.next.private.PublicKey}
}

// jwtConfig is the JWTConfig of the tests' gateways.
func jwtConfig() JWTConfig {
	return JWTConfig{Keys: trustedKeys(), Issuer: testIssuer, Audience: testAudience}
}

// claimsFor returns valid claims for subject at now: issued now, valid for an hour.
func claimsFor(subject string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": subject,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// sign returns claims signed with RS256 by key, under key's kid.
func sign(t testing.TB, key signingKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = key.kid
	s, err := tok.SignedString(key.private)
	require.NoError(t, err, "signing a test token")
	return s
}

// validToken returns a token for subject, valid at clock's time, signed with the current key.
func validToken(t testing.TB, subject string, clock Clock) string {
	t.Helper()
	return sign(t, testKeys().current, claimsFor(subject, clock.Now()))
}

// publicKeyPEM returns key's public half as a PEM "PUBLIC KEY" block, the form in which a
// public key is usually published.
func publicKeyPEM(t testing.TB, key signingKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.private.PublicKey)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// seenRequest is what an upstream received.
type seenRequest struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// upstream is a service instance started by a test. It records every request it gets and
// answers 200 with a JSON body naming itself, unless the test gives it another handler.
type upstream struct {
	id   string
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

// startUpstream starts an instance called id. A nil handler answers {"instance": id}.
func startUpstream(t testing.TB, id string, handler http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{id: id}
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"instance":"`+id+`"}`)
		}
	}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// requests returns a copy of what the instance received so far.
func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

func (u *upstream) count() int { return len(u.requests()) }

// last returns the last request the instance received; the test fails if there is none.
func (u *upstream) last(t testing.TB) seenRequest {
	t.Helper()
	seen := u.requests()
	require.NotEmpty(t, seen, "instance %s received no request", u.id)
	return seen[len(seen)-1]
}

// info returns the instance's registration as an instance of service.
func (u *upstream) info(t testing.TB, service string) ServiceInfo {
	t.Helper()
	return instanceAt(t, u.id, service, u.srv.Listener.Addr().String())
}

// instanceAt returns the registration of an instance of service listening at addr.
func instanceAt(t testing.TB, id, service, addr string) ServiceInfo {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return ServiceInfo{ID: id, Name: service, Address: host, Port: p}
}

// refusingAddr returns a loopback address where nothing listens: connections are refused.
func refusingAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// register adds instances to reg.
func register(t testing.TB, reg ServiceRegistry, instances ...ServiceInfo) {
	t.Helper()
	for _, in := range instances {
		require.NoError(t, reg.Register(context.Background(), in), "registering %s", in.ID)
	}
}

// logBuffer collects JSON log records. It is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the records logged so far, decoded.
func (b *logBuffer) records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "log line is not JSON: %s", line)
		out = append(out, rec)
	}
	return out
}

// testGateway is a gateway served on a loopback port, with what the test needs to look at it.
type testGateway struct {
	gw       *APIGateway
	srv      *httptest.Server
	registry *MemoryRegistry
	clock    *fakeClock
	metrics  *prometheus.Registry
	logs     *logBuffer
}

// newTestGateway serves a gateway for cfg. Unless cfg sets them, it gets a MemoryRegistry, a
// fake clock, a metrics registry and a JSON logger at debug level into a buffer.
func newTestGateway(t testing.TB, cfg Config) *testGateway {
	t.Helper()
	g := &testGateway{clock: newFakeClock(), metrics: prometheus.NewRegistry(), logs: &logBuffer{}}
	if cfg.Registry == nil {
		g.registry = NewMemoryRegistry()
		cfg.Registry = g.registry
	}
	if cfg.Clock == nil {
		cfg.Clock = g.clock
	}
	if cfg.Metrics == nil {
		cfg.Metrics = g.metrics
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	gw, err := NewAPIGateway(cfg)
	require.NoError(t, err, "NewAPIGateway")
	require.NotNil(t, gw, "NewAPIGateway returned a nil gateway")
	g.gw = gw
	g.srv = httptest.NewServer(gw)
	t.Cleanup(g.srv.Close)
	return g
}

// response is an answer of the gateway, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req to the gateway (its URL is a path such as "/api/users") with a 10s bound.
func (g *testGateway) do(t testing.TB, req *http.Request) response {
	t.Helper()
	target, err := req.URL.Parse(g.srv.URL)
	require.NoError(t, err)
	req.URL.Scheme, req.URL.Host, req.Host = target.Scheme, target.Host, ""
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	resp, err := g.srv.Client().Do(req.WithContext(ctx))
	require.NoError(t, err, "%s %s through the gateway", req.Method, req.URL.Path)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the gateway's answer")
	return response{resp.StatusCode, resp.Header, body}
}

// get sends GET path with the given header lines ("Name: value").
func (g *testGateway) get(t testing.TB, path string, header ...string) response {
	t.Helper()
	return g.do(t, newRequest(t, http.MethodGet, path, nil, header...))
}

// getWithToken sends GET path with "Authorization: Bearer token".
func (g *testGateway) getWithToken(t testing.TB, path, token string) response {
	t.Helper()
	return g.get(t, path, "Authorization: Bearer "+token)
}

// newRequest builds a request to path with the given header lines ("Name: value").
func newRequest(t testing.TB, method, path string, body io.Reader, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://gateway.invalid"+path, body)
	require.NoError(t, err)
	for _, h := range header {
		name, value, ok := strings.Cut(h, ":")
		require.True(t, ok, "header line %q", h)
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return req
}

// assertJSONError checks that r is an error answer with status and a JSON body
// {"error": "<non-empty message>"}.
func assertJSONError(t testing.TB, r response, status int, what string) {
	t.Helper()
	if !assert.Equal(t, status, r.status, "%s: status (body %s)", what, r.body) {
		return
	}
	assert.Contains(t, r.header.Get("Content-Type"), "application/json", "%s: an error answer is JSON", what)
	var body struct {
		Error string `json:"error"`
	}
	if assert.NoError(t, json.Unmarshal(r.body, &body), "%s: the body must be a JSON object, got %q", what, r.body) {
		assert.NotEmpty(t, body.Error, `%s: the JSON body must say what went wrong in "error", got %s`, what, r.body)
	}
}

// metricValue returns the value of the counter, or the sample count of the histogram, called
// name with exactly these labels in reg, and whether there is one.
func metricValue(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err, "gathering metrics")
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsEqual(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}
