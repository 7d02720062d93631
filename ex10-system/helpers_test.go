package system

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Helpers shared by the tests of exercise 10: the system started in this process, a registry
// of the test's own, HTTP and metrics helpers, the shop's fixtures, an embedded NATS server, an
// OTLP receiver, and the Jaeger and Prometheus launchers.

// waitTimeout bounds every wait for something to happen in this process.
const waitTimeout = 15 * time.Second

// theServices are the six services behind the gateway.
var theServices = []string{UserService, ProductService, OrderService, InventoryService, PaymentService, NotificationService}

// testConfig returns cfg with what the tests need unless cfg sets it: checks every 50ms, calls
// that time out after 2s, and logs in JSON into logs (when not nil).
func testConfig(cfg Config, logs io.Writer) Config {
	cfg.HealthInterval = cmp.Or(cfg.HealthInterval, 50*time.Millisecond)
	cfg.CallTimeout = cmp.Or(cfg.CallTimeout, 2*time.Second)
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, 10*time.Second)
	if cfg.Logger == nil {
		if logs == nil {
			logs = io.Discard
		}
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	return cfg
}

// startSystem starts the system with testConfig(cfg, nil), and shuts it down when the test ends.
func startSystem(t *testing.T, cfg Config) *System {
	t.Helper()
	return startSystemLogging(t, cfg, nil)
}

// startSystemLogging starts the system with testConfig(cfg, logs), shut down when the test ends.
func startSystemLogging(t *testing.T, cfg Config, logs io.Writer) *System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sys, err := Start(ctx, testConfig(cfg, logs))
	require.NoError(t, err, "Start")
	require.NotNil(t, sys, "Start must return the System")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		assert.NoError(t, sys.Shutdown(ctx), "Shutdown")
	})
	require.NotEmpty(t, sys.GatewayURL(), "GatewayURL of a system that runs the gateway")
	return sys
}

// byService returns the system's instances grouped by service.
func byService(sys *System) map[string][]Instance {
	out := map[string][]Instance{}
	for _, in := range sys.Instances() {
		out[in.Service] = append(out[in.Service], in)
	}
	return out
}

// ids returns the IDs of instances.
func ids(instances []Instance) []string {
	out := make([]string, 0, len(instances))
	for _, in := range instances {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}

// eventually calls cond every 20ms until it returns true, failing the test with msg after
// timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNowf(t, "timed out", "waited %v for "+msg, append([]any{timeout}, args...)...)
		}
		<-tick.C
	}
}

// --- registry ---

// testRegistry is a ServiceRegistry of the test's own: every registered instance is healthy
// until it is deregistered. It records the registrations.
type testRegistry struct {
	mu        sync.Mutex
	instances map[string]ServiceInfo
	history   []string // "register <id>", "deregister <id>"
}

func newTestRegistry() *testRegistry {
	return &testRegistry{instances: map[string]ServiceInfo{}}
}

func (r *testRegistry) Register(ctx context.Context, s ServiceInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.ID == "" || s.Name == "" || s.Address == "" || s.Port <= 0 {
		return fmt.Errorf("test registry: incomplete registration %+v", s)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[s.ID] = s
	r.history = append(r.history, "register "+s.ID)
	return nil
}

func (r *testRegistry) Deregister(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.instances, id)
	r.history = append(r.history, "deregister "+id)
	return nil
}

func (r *testRegistry) Discover(ctx context.Context, name string) ([]ServiceInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []ServiceInfo{}
	for _, s := range r.instances {
		if s.Name == name {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b ServiceInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// registered returns the registration of id, if there is one.
func (r *testRegistry) registered(id string) (ServiceInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.instances[id]
	return s, ok
}

// fakeService is an instance that the test registers under a service's name: it answers
// /health and /ready, answers every other request with status (500 by default), and counts
// those requests.
type fakeService struct {
	URL    string
	calls  atomic.Int64
	status atomic.Int64
}

// newFakeService starts a fake instance, stopped when the test ends.
func newFakeService(t *testing.T) *fakeService {
	t.Helper()
	f := &fakeService{}
	f.status.Store(http.StatusInternalServerError)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" || r.URL.Path == "/ready" {
			w.WriteHeader(http.StatusOK)
			return
		}
		f.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(f.status.Load()))
		_, _ = io.WriteString(w, `{"error":"injected failure"}`)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// info returns the fake's registration as an instance of service.
func (f *fakeService) info(t *testing.T, service string) ServiceInfo {
	t.Helper()
	u, err := url.Parse(f.URL)
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err)
	var p int
	_, err = fmt.Sscan(port, &p)
	require.NoError(t, err)
	return ServiceInfo{ID: service + "-fake", Name: service, Address: host, Port: p,
		Health: HealthCheck{HTTP: f.URL + "/ready", Interval: time.Second}}
}

// --- HTTP ---

// httpClient is the tests' client: a timeout, and no proxy from the environment.
var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// response is an HTTP answer, its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// send sends method url with body encoded as JSON (nil: no body) and returns the answer, or the
// error of a request that got none.
func send(method, url string, body any, header http.Header) (response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// mustSend is send that fails the test when the request gets no answer.
func mustSend(t *testing.T, method, url string, body any) response {
	t.Helper()
	resp, err := send(method, url, body, nil)
	require.NoError(t, err, "%s %s", method, url)
	return resp
}

// decode decodes resp's JSON body into v, failing the test when it is not JSON.
func decode[T any](t *testing.T, resp response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(resp.Body, &v), "the body %q must be JSON", resp.Body)
	return v
}

// status returns the status of GET url, or 0 when it got no answer.
func status(url string) int {
	resp, err := send(http.MethodGet, url, nil, nil)
	if err != nil {
		return 0
	}
	return resp.Status
}

// --- the shop ---

// testUser, testProduct and testOrder are the shapes of the API's answers.
type testUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type testProduct struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
}

type testOrder struct {
	ID          string `json:"id"`
	UserID      string `json:"user_id"`
	ProductID   string `json:"product_id"`
	Quantity    int    `json:"quantity"`
	AmountCents int64  `json:"amount_cents"`
	Status      string `json:"status"`
	PaymentID   string `json:"payment_id"`
}

type testPayment struct {
	ID          string `json:"id"`
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
	Status      string `json:"status"`
}

type testItem struct {
	ProductID string `json:"product_id"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
}

type testNotification struct {
	ID        string `json:"id"`
	To        string `json:"to"`
	OrderID   string `json:"order_id"`
	PaymentID string `json:"payment_id"`
}

// userSeq makes the e-mail addresses of the users the tests create unique.
var userSeq atomic.Int64

// newUser creates a user through the gateway.
func newUser(t *testing.T, gateway string) testUser {
	t.Helper()
	n := userSeq.Add(1)
	resp := mustSend(t, http.MethodPost, gateway+"/api/users",
		map[string]string{"name": fmt.Sprintf("Ana %d", n), "email": fmt.Sprintf("ana%d@example.com", n)})
	require.Equal(t, http.StatusCreated, resp.Status, "POST /api/users: %s", resp.Body)
	u := decode[testUser](t, resp)
	require.NotEmpty(t, u.ID, "the created user's id")
	return u
}

// newProduct creates a product priced 12.50 through the gateway, and gives it stock items.
func newProduct(t *testing.T, gateway string, stock int) testProduct {
	t.Helper()
	resp := mustSend(t, http.MethodPost, gateway+"/api/products", map[string]any{"name": "Mug", "price_cents": 1250})
	require.Equal(t, http.StatusCreated, resp.Status, "POST /api/products: %s", resp.Body)
	p := decode[testProduct](t, resp)
	require.NotEmpty(t, p.ID, "the created product's id")
	resp = mustSend(t, http.MethodPut, gateway+"/api/inventory/"+p.ID, map[string]int{"available": stock})
	require.Equal(t, http.StatusOK, resp.Status, "PUT /api/inventory/%s: %s", p.ID, resp.Body)
	return p
}

// order places an order through the gateway and returns the answer.
func order(t *testing.T, gateway, userID, productID string, quantity int) response {
	t.Helper()
	return mustSend(t, http.MethodPost, gateway+"/api/orders",
		map[string]any{"user_id": userID, "product_id": productID, "quantity": quantity})
}

// placeOrder places an order that must succeed, and returns it.
func placeOrder(t *testing.T, gateway, userID, productID string, quantity int) testOrder {
	t.Helper()
	resp := order(t, gateway, userID, productID, quantity)
	require.Equal(t, http.StatusCreated, resp.Status, "POST /api/orders: %s", resp.Body)
	o := decode[testOrder](t, resp)
	require.NotEmpty(t, o.ID, "the created order's id")
	return o
}

// stock returns a product's stock as the inventory service reports it.
func stock(t *testing.T, gateway, productID string) testItem {
	t.Helper()
	resp := mustSend(t, http.MethodGet, gateway+"/api/inventory/"+productID, nil)
	require.Equal(t, http.StatusOK, resp.Status, "GET /api/inventory/%s: %s", productID, resp.Body)
	return decode[testItem](t, resp)
}

// notifications returns the notifications sent to email.
func notifications(t *testing.T, gateway, email string) []testNotification {
	t.Helper()
	resp := mustSend(t, http.MethodGet, gateway+"/api/notifications?to="+url.QueryEscape(email), nil)
	require.Equal(t, http.StatusOK, resp.Status, "GET /api/notifications: %s", resp.Body)
	return decode[[]testNotification](t, resp)
}

// --- metrics ---

// scrape GETs url's /metrics and parses it as the Prometheus text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp := mustSend(t, http.MethodGet, base+"/metrics", nil)
	require.Equal(t, http.StatusOK, resp.Status, "GET %s/metrics", base)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(resp.Body))
	require.NoError(t, err, "%s/metrics must parse as the Prometheus text format", base)
	return families
}

// sample returns the sum of the values of the series of name whose labels include labels (a
// counter's or gauge's value, a histogram's count), and whether there is any.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf, ok := families[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found
}

// serviceSample returns the sum of sample over the instances of a service.
func serviceSample(t *testing.T, instances []Instance, name string, labels map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, in := range instances {
		v, _ := sample(scrape(t, in.URL), name, labels)
		sum += v
	}
	return sum
}

// --- NATS ---

// runNATS starts an embedded NATS server with JetStream on port (-1: a free one), storing in
// dir, and shuts it down when the test ends (or earlier: a second Shutdown is harmless).
func runNATS(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	require.NoError(t, err, "create the embedded NATS server")
	go s.Start()
	if !s.ReadyForConnections(waitTimeout) {
		s.Shutdown()
		require.FailNow(t, "the embedded NATS server was not ready in time")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// --- OTLP ---

// otlpReceiver is an OTLP/HTTP traces endpoint that keeps every span it receives.
type otlpReceiver struct {
	URL string

	mu    sync.Mutex
	spans []otlpSpan
}

// otlpSpan is a span received over OTLP, with its service's name.
type otlpSpan struct {
	*tracepb.Span
	service string
}

// newOTLPReceiver starts a receiver, stopped when the test ends.
func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.export))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/v1/traces"
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msg := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(data, msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, otlpSpan{Span: s, service: service})
			}
		}
	}
	r.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// services returns the names of the services that sent spans of the trace with this hex id.
func (r *otlpReceiver) services(traceID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range r.spans {
		if fmt.Sprintf("%x", s.GetTraceId()) == traceID {
			seen[s.service] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// --- programs ---

// freePort returns a port of the loopback interface that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProgram starts the program bin with args, stopped when the test ends, and returns its
// output so far (for failure messages) and a channel that receives its exit.
func startProgram(t *testing.T, bin string, args ...string) (*syncBuffer, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start(), "start %s", bin)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	return out, exited
}

// getJSON GETs url and decodes a 200 answer's JSON into v; it reports the status.
func getJSON(url string, v any) int {
	resp, err := send(http.MethodGet, url, nil, nil)
	if err != nil {
		return 0
	}
	if resp.Status == http.StatusOK && v != nil && json.Unmarshal(resp.Body, v) != nil {
		return 0
	}
	return resp.Status
}

// jaegerConfig configures the Jaeger the tests start: in-memory storage, the OTLP/HTTP
// receiver and the query API, on loopback ports.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 1000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// startJaeger starts the jaeger found at bin and returns its OTLP traces endpoint and the base
// URL of its query API.
func startJaeger(t *testing.T, bin string) (otlp, query string) {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	config := filepath.Join(t.TempDir(), "jaeger.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, jaegerConfig, ports[0], ports[1], ports[2]), 0o600))
	out, exited := startProgram(t, bin, "--config", config)
	otlp = fmt.Sprintf("http://127.0.0.1:%d/v1/traces", ports[2])
	query = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	waitProgram(t, exited, out, "jaeger", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]), time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil && status(query+"/api/services") == http.StatusOK
	})
	return otlp, query
}

// waitProgram waits until ready returns true, failing the test when the program exits first or
// takes longer than waitTimeout.
func waitProgram(t *testing.T, exited <-chan error, out *syncBuffer, name string, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case err := <-exited:
			require.FailNowf(t, name+" exited", "%s exited before it was ready: %v\n%s", name, err, out.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, name+" not ready", "%s was not ready within %v; its output:\n%s", name, waitTimeout, out.String())
		}
	}
}
