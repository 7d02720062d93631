package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
)

// Helpers shared by the tests of exercise 08: span recorders and lookups, bounded waits, an
// OTLP receiver, an embedded NATS server, gRPC over bufconn, and a Jaeger process. None of
// them reads or sets the global OpenTelemetry state.

// waitTimeout bounds every wait for something to arrive in this process.
const waitTimeout = 5 * time.Second

// jaegerTimeout bounds the waits for Jaeger: to start, and to store what it receives.
const jaegerTimeout = 15 * time.Second

// The users the tests look up. The password hash is a secret that must never reach a span.
const (
	knownUserID        = "42"
	unknownUserID      = "7"
	secretPasswordHash = "pbkdf2-secret-hash-9f8e7d"
)

// testUserService returns a directory with one user, knownUserID.
func testUserService() *UserService {
	return NewUserService(User{ID: knownUserID, Name: "Ada Lovelace", Email: "ada@example.com", PasswordHash: secretPasswordHash})
}

// newRecorder returns a tracer provider that records its spans in the returned recorder. Like
// the SDK's default it samples every new trace and follows the parent's decision otherwise.
// The provider is shut down when the test ends.
func newRecorder(t *testing.T) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp
}

// w3c returns the W3C Trace Context and Baggage propagators, built here so that the tests of
// the other criteria do not depend on Setup.
func w3c() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// testTelemetry returns a Telemetry over tp with the W3C propagators.
func testTelemetry(tp trace.TracerProvider) Telemetry {
	return Telemetry{TracerProvider: tp, Propagator: w3c()}
}

// eventually calls cond until it returns true, failing the test with msg after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for "+msg, append([]any{timeout}, args...)...)
		}
		<-tick.C
	}
}

// waitForSpans waits until rec holds at least n ended spans, and returns them.
func waitForSpans(t *testing.T, rec *tracetest.SpanRecorder, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	eventually(t, waitTimeout, func() bool { return len(rec.Ended()) >= n }, "%d ended spans; got %v", n, lazyNames{rec})
	return rec.Ended()
}

// lazyNames prints the names of the spans a recorder holds when the failure message is made.
type lazyNames struct{ rec *tracetest.SpanRecorder }

func (l lazyNames) String() string { return fmt.Sprint(spanNames(l.rec.Ended())) }

// spanNames lists the names and kinds of spans, for failure messages.
func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	names := make([]string, 0, len(spans))
	for _, s := range spans {
		names = append(names, fmt.Sprintf("%q (%s)", s.Name(), s.SpanKind()))
	}
	return names
}

// findSpans returns the spans with the given name and kind.
func findSpans(spans []sdktrace.ReadOnlySpan, name string, kind trace.SpanKind) []sdktrace.ReadOnlySpan {
	var found []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name && s.SpanKind() == kind {
			found = append(found, s)
		}
	}
	return found
}

// oneSpan returns the one span with the given name and kind, failing the test when there is
// not exactly one.
func oneSpan(t *testing.T, spans []sdktrace.ReadOnlySpan, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	found := findSpans(spans, name, kind)
	require.Len(t, found, 1, "want exactly one span named %q of kind %s; the spans: %v", name, kind, spanNames(spans))
	return found[0]
}

// attrsOf returns the attributes of a span by key.
func attrsOf(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// hasEvent reports whether s has an event with the given name.
func hasEvent(s sdktrace.ReadOnlySpan, name string) bool {
	for _, e := range s.Events() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// keptExporter is an in-memory exporter whose spans outlive Shutdown (tracetest's forgets
// them there), and which counts the Shutdown calls.
type keptExporter struct {
	*tracetest.InMemoryExporter
	shutdowns atomic.Int32
}

func newKeptExporter() *keptExporter {
	return &keptExporter{InMemoryExporter: tracetest.NewInMemoryExporter()}
}

// Shutdown counts the call and keeps the spans.
func (e *keptExporter) Shutdown(context.Context) error {
	e.shutdowns.Add(1)
	return nil
}

// setup calls Setup with cfg, requires it to succeed, and shuts the provider down when the
// test ends (a second shutdown is harmless).
func setup(t *testing.T, cfg Config) (Telemetry, func(context.Context) error) {
	t.Helper()
	tel, shutdown, err := Setup(context.Background(), cfg)
	require.NoError(t, err, "Setup(%+v)", cfg)
	require.NotNil(t, shutdown, "Setup must return a shutdown function")
	require.NotNil(t, tel.TracerProvider, "Setup must return a TracerProvider in Telemetry")
	t.Cleanup(func() { _ = shutdownWithin(shutdown) })
	return tel, shutdown
}

// shutdownWithin calls shutdown with a deadline of waitTimeout: an exporter that cannot reach
// its endpoint retries for a minute otherwise.
func shutdownWithin(shutdown func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return shutdown(ctx)
}

// requestSpans makes, with tracer, the two spans a request to GET /users/{id} makes when it
// is traced: a server span and a child span for the service, both ended. The tests of the
// export use them, so that they do not depend on TracingMiddleware or TracedUserService.
func requestSpans(tracer trace.Tracer) (server, service trace.Span) {
	ctx, server := tracer.Start(context.Background(), "GET /users/{id}",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/users/{id}")),
	)
	_, service = tracer.Start(ctx, "UserService.GetUser", trace.WithAttributes(attribute.String("user.id", knownUserID)))
	service.End()
	server.End()
	return server, service
}

// serveRequest serves one request through h and returns the recorded response. Spans that h
// starts have ended when it returns.
func serveRequest(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// testMux returns a mux with routes that answer with a fixed status, for the middleware's
// tests: GET /status/{code} writes code (or, for "implicit", only a body, which sends 200),
// and GET /panic panics with panicValue.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code := r.PathValue("code")
		if code == "implicit" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		var status int
		_, _ = fmt.Sscan(code, &status)
		w.WriteHeader(status)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic(panicValue) })
	return mux
}

// panicValue is what GET /panic of testMux panics with.
const panicValue = "handler exploded"

// failingUsers is a UserGetter that always fails with err.
type failingUsers struct{ err error }

func (f failingUsers) GetUser(context.Context, string) (*User, error) { return nil, f.err }

// syncBuffer is a bytes.Buffer safe for concurrent writers, for log output.
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

// jsonLines decodes the JSON log lines of out.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log line %q is not JSON", line)
		lines = append(lines, m)
	}
	return lines
}

// --- NATS ---

// runNATS starts an embedded NATS server on a random port and returns a connection to it.
// Both are closed when the test ends.
func runNATS(t *testing.T) (*server.Server, *nats.Conn) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err, "create the embedded NATS server")
	go s.Start()
	if !s.ReadyForConnections(waitTimeout) {
		s.Shutdown()
		t.Fatalf("the embedded NATS server was not ready within %v", waitTimeout)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s, connectNATS(t, s)
}

// connectNATS opens another connection to s, closed when the test ends.
func connectNATS(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err, "connect to the embedded NATS server")
	t.Cleanup(nc.Close)
	return nc
}

// headerValue returns the value of key in h, whatever the case of its spelling.
func headerValue(h nats.Header, key string) string {
	for k, vs := range h {
		if strings.EqualFold(k, key) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// --- gRPC ---

// serveGRPC serves s on an in-memory listener until the test ends, and returns the dial
// option that reaches it (with the target "passthrough:///bufnet").
func serveGRPC(t *testing.T, s *grpc.Server) grpc.DialOption {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.DialContext(ctx)
	})
}

// --- OTLP ---

// otlpReceiver is an OTLP/HTTP traces endpoint: it decodes each export request (protobuf,
// gzipped or not) and keeps it.
type otlpReceiver struct {
	// URL is the endpoint, path included.
	URL string

	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	rejected []string
}

// newOTLPReceiver starts a receiver, stopped when the test ends.
func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/v1/traces"
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			r.reject(w, http.StatusBadRequest, "bad gzip: %v", err)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		r.reject(w, http.StatusBadRequest, "reading the body: %v", err)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.reject(w, http.StatusUnsupportedMediaType, "Content-Type %q, want application/x-protobuf", ct)
		return
	}
	msg := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(data, msg); err != nil {
		r.reject(w, http.StatusBadRequest, "not an OTLP ExportTraceServiceRequest: %v", err)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, msg)
	r.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func (r *otlpReceiver) reject(w http.ResponseWriter, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.rejected = append(r.rejected, msg)
	r.mu.Unlock()
	http.Error(w, msg, code)
}

// otlpSpan is a span received over OTLP with the attributes of its resource.
type otlpSpan struct {
	*tracepb.Span
	resource map[string]string
}

// spans returns every span received so far, and the reasons of the requests rejected.
func (r *otlpReceiver) spans() ([]otlpSpan, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var spans []otlpSpan
	for _, req := range r.requests {
		for _, rs := range req.GetResourceSpans() {
			res := stringAttrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					spans = append(spans, otlpSpan{Span: s, resource: res})
				}
			}
		}
	}
	return spans, append([]string(nil), r.rejected...)
}

// stringAttrs returns OTLP attributes as strings by key (other types in their text form).
func stringAttrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.GetKey()] = v.GetStringValue()
		default:
			m[kv.GetKey()] = strings.TrimSpace(fmt.Sprint(v.GetValue()))
		}
	}
	return m
}

// otlpSpanNamed returns the one received span with the given name.
func otlpSpanNamed(t *testing.T, spans []otlpSpan, name string) otlpSpan {
	t.Helper()
	var found []otlpSpan
	var names []string
	for _, s := range spans {
		names = append(names, s.GetName())
		if s.GetName() == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "want one span named %q over OTLP; received %q", name, names)
	return found[0]
}

// --- Jaeger ---

// jaegerConfig is the configuration of the Jaeger the tests start: in-memory storage, the
// OTLP/HTTP receiver and the query API, each on a port of the loopback interface. Jaeger 2 is
// an OpenTelemetry Collector distribution, hence the shape.
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

// jaeger is a running Jaeger.
type jaeger struct {
	// OTLPEndpoint is its OTLP/HTTP traces endpoint, path included.
	OTLPEndpoint string
	// QueryURL is the base URL of its query API (and UI).
	QueryURL string
}

// startJaeger starts the jaeger found on PATH, bound to the loopback interface on free ports,
// and stops it when the test ends. It skips the test when there is no jaeger on PATH.
func startJaeger(t *testing.T) jaeger {
	t.Helper()
	bin, err := exec.LookPath("jaeger")
	if err != nil {
		t.Skipf("jaeger not on PATH (%v): install Jaeger to run this test, see README.md", err)
	}
	ports := freePorts(t, 3)
	config := filepath.Join(t.TempDir(), "jaeger.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, jaegerConfig, ports[0], ports[1], ports[2]), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", config)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start(), "start %s", bin)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	j := jaeger{
		OTLPEndpoint: fmt.Sprintf("http://127.0.0.1:%d/v1/traces", ports[2]),
		QueryURL:     fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
	}
	// Ready when the query API answers and the OTLP receiver accepts connections.
	deadline := time.Now().Add(jaegerTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			t.Fatalf("jaeger exited before it was ready: %v\n%s", err, out.String())
		case <-tick.C:
		}
		if status, _ := httpGet(j.QueryURL+"/api/services", nil); status == http.StatusOK && canDial(fmt.Sprintf("127.0.0.1:%d", ports[2])) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger was not ready within %v; its output:\n%s", jaegerTimeout, out.String())
		}
	}
}

// freePorts returns n ports of the loopback interface that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// canDial reports whether something accepts connections at addr.
func canDial(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// httpGet GETs url with a short timeout and decodes a JSON answer into v (when not nil).
func httpGet(url string, v any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if v == nil || resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

// jaegerTraces is the answer of Jaeger's query API for traces.
type jaegerTraces struct {
	Data []jaegerTrace `json:"data"`
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

type jaegerProcess struct {
	ServiceName string `json:"serviceName"`
}

// tag returns the value of a span's tag in its text form, or "".
func (s jaegerSpan) tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// jaegerID pads a Jaeger id (which drops leading zeros) to its full width of 2*size hex
// digits.
func jaegerID(id string, size int) string {
	if len(id) < 2*size {
		id = strings.Repeat("0", 2*size-len(id)) + id
	}
	return id
}

// hexID returns the hex form of an OTLP id.
func hexID(b []byte) string { return hex.EncodeToString(b) }
