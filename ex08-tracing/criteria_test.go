package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// The criteria tests of exercise 08, one per criterion of criteria.json.

// A remote parent that callers send in a traceparent header.
const (
	parentTraceID     = "0af7651916cd43dd8448eb211c80319c"
	parentSpanID      = "b7ad6b7169203331"
	parentTraceparent = "00-" + parentTraceID + "-" + parentSpanID + "-01"
)

// remoteParent returns a context holding the remote parent above, sampled or not.
func remoteParent(t *testing.T, sampled bool) context.Context {
	t.Helper()
	tid, err := trace.TraceIDFromHex(parentTraceID)
	require.NoError(t, err)
	sid, err := trace.SpanIDFromHex(parentSpanID)
	require.NoError(t, err)
	var flags trace.TraceFlags
	if sampled {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
	return trace.ContextWithRemoteSpanContext(context.Background(), sc)
}

func TestOpenTelemetryConfigured(t *testing.T) {
	ctx := context.Background()

	t.Run("the resource names the service, its version and its environment", func(t *testing.T) {
		exp := newKeptExporter()
		tel, shutdown := setup(t, Config{ServiceName: "checkout", ServiceVersion: "1.4.2", Environment: "staging", Exporter: exp})
		_, span := tel.TracerProvider.Tracer("test").Start(ctx, "work")
		span.End()
		require.NoError(t, shutdown(ctx), "shutdown")
		spans := exp.GetSpans()
		require.Len(t, spans, 1, "the span ended before shutdown must be exported")
		res := map[attribute.Key]string{}
		for _, kv := range spans[0].Resource.Attributes() {
			res[kv.Key] = kv.Value.Emit()
		}
		assert.Equal(t, "checkout", res["service.name"], "service.name")
		assert.Equal(t, "1.4.2", res["service.version"], "service.version")
		assert.Equal(t, "staging", res["deployment.environment.name"], "deployment.environment.name (the current semantic conventions)")
	})

	t.Run("the version and environment have their defaults", func(t *testing.T) {
		exp := newKeptExporter()
		tel, shutdown := setup(t, Config{ServiceName: "checkout", Exporter: exp})
		_, span := tel.TracerProvider.Tracer("test").Start(ctx, "work")
		span.End()
		require.NoError(t, shutdown(ctx), "shutdown")
		spans := exp.GetSpans()
		require.Len(t, spans, 1)
		res := map[attribute.Key]string{}
		for _, kv := range spans[0].Resource.Attributes() {
			res[kv.Key] = kv.Value.Emit()
		}
		assert.Equal(t, "dev", res["service.version"], "service.version when Config.ServiceVersion is empty")
		assert.Equal(t, "development", res["deployment.environment.name"], "deployment.environment.name when Config.Environment is empty")
	})

	t.Run("finished spans are exported in batches, and shutdown flushes them all", func(t *testing.T) {
		exp := newKeptExporter()
		tel, shutdown := setup(t, Config{ServiceName: "checkout", Exporter: exp, BatchTimeout: time.Hour})
		tracer := tel.TracerProvider.Tracer("test")
		for i := range 50 {
			_, span := tracer.Start(ctx, fmt.Sprintf("work-%d", i))
			span.End()
		}
		assert.Empty(t, exp.GetSpans(), "ended spans must wait in a batch (sdktrace.WithBatcher), not be exported one by one as they end")
		require.NoError(t, shutdown(ctx), "shutdown")
		assert.Len(t, exp.GetSpans(), 50, "shutdown must export every span still in the batch")
		assert.Equal(t, int32(1), exp.shutdowns.Load(), "shutdown must shut the exporter down once")
	})

	t.Run("a parent-based ratio sampler", func(t *testing.T) {
		sampledRoots := func(t *testing.T, ratio float64, n int) int {
			tel, _ := setup(t, Config{ServiceName: "checkout", Exporter: newKeptExporter(), SampleRatio: ratio})
			tracer := tel.TracerProvider.Tracer("test")
			sampled := 0
			for range n {
				_, span := tracer.Start(ctx, "root")
				if span.SpanContext().IsSampled() {
					sampled++
				}
				span.End()
			}
			return sampled
		}
		childOf := func(t *testing.T, ratio float64, parentSampled bool) bool {
			tel, _ := setup(t, Config{ServiceName: "checkout", Exporter: newKeptExporter(), SampleRatio: ratio})
			_, span := tel.TracerProvider.Tracer("test").Start(remoteParent(t, parentSampled), "child")
			defer span.End()
			return span.SpanContext().IsSampled()
		}

		got := sampledRoots(t, 0.5, 2000)
		assert.InDelta(t, 1000, got, 200, "SampleRatio 0.5: about half of 2000 new traces must be sampled; %d were", got)
		assert.Equal(t, 100, sampledRoots(t, 0, 100), "SampleRatio 0 means the default, 1: every new trace is sampled")
		assert.True(t, childOf(t, 1e-12, true), "a span whose parent was sampled must be sampled, whatever the ratio (parent-based)")
		assert.False(t, childOf(t, 1, false), "a span whose parent was not sampled must not be sampled, whatever the ratio (parent-based)")
	})

	t.Run("W3C Trace Context and Baggage propagators", func(t *testing.T) {
		tel, _ := setup(t, Config{ServiceName: "checkout", Exporter: newKeptExporter()})
		require.NotNil(t, tel.Propagator, "Setup must return a Propagator in Telemetry")
		for _, field := range []string{"traceparent", "tracestate", "baggage"} {
			assert.Contains(t, tel.Propagator.Fields(), field, "the propagator's fields")
		}
		member, err := baggage.NewMember("tenant", "acme")
		require.NoError(t, err)
		bag, err := baggage.New(member)
		require.NoError(t, err)
		out := propagation.MapCarrier{}
		tel.Propagator.Inject(baggage.ContextWithBaggage(remoteParent(t, true), bag), out)
		assert.Equal(t, parentTraceparent, out["traceparent"], "the injected traceparent")
		assert.Equal(t, "tenant=acme", out["baggage"], "the injected baggage")

		back := tel.Propagator.Extract(ctx, out)
		assert.Equal(t, parentTraceID, trace.SpanContextFromContext(back).TraceID().String(), "the extracted trace id")
		assert.Equal(t, "acme", baggage.FromContext(back).Member("tenant").Value(), "the extracted baggage")
	})

	t.Run("an invalid config is rejected", func(t *testing.T) {
		for name, cfg := range map[string]Config{
			"no service name":    {Exporter: newKeptExporter()},
			"ratio above 1":      {ServiceName: "checkout", SampleRatio: 1.5, Exporter: newKeptExporter()},
			"negative ratio":     {ServiceName: "checkout", SampleRatio: -0.1, Exporter: newKeptExporter()},
			"endpoint not a URL": {ServiceName: "checkout", Endpoint: "localhost 4318"},
		} {
			t.Run(name, func(t *testing.T) {
				_, shutdown, err := Setup(ctx, cfg)
				if shutdown != nil {
					t.Cleanup(func() { _ = shutdown(ctx) })
				}
				assert.ErrorIs(t, err, ErrInvalidConfig, "Setup(%+v)", cfg)
			})
		}
	})

	t.Run("spans travel over OTLP/HTTP to the endpoint, and none is lost at shutdown", func(t *testing.T) {
		receiver := newOTLPReceiver(t)
		tel, shutdown := setup(t, Config{ServiceName: "users-api", ServiceVersion: "2.0.1", Environment: "test", Endpoint: receiver.URL, BatchTimeout: time.Hour})
		server, service := requestSpans(tel.TracerProvider.Tracer("test"))

		// The program stops right after the request: shutdown must send what is in the batch.
		require.NoError(t, shutdownWithin(shutdown), "shutdown, with the receiver up")
		spans, rejected := receiver.spans()
		require.Empty(t, rejected, "requests the OTLP receiver could not decode")
		gotServer := otlpSpanNamed(t, spans, "GET /users/{id}")
		gotService := otlpSpanNamed(t, spans, "UserService.GetUser")
		assert.Equal(t, server.SpanContext().TraceID().String(), hexID(gotServer.GetTraceId()), "trace id on the wire")
		assert.Equal(t, server.SpanContext().SpanID().String(), hexID(gotServer.GetSpanId()), "span id on the wire")
		assert.Equal(t, service.SpanContext().TraceID().String(), hexID(gotService.GetTraceId()), "both spans in one trace")
		assert.Equal(t, hexID(gotServer.GetSpanId()), hexID(gotService.GetParentSpanId()), "the service span's parent on the wire")
		assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, gotServer.GetKind(), "kind of the server span on the wire")
		assert.Equal(t, "/users/{id}", stringAttrs(gotServer.GetAttributes())["http.route"], "an attribute on the wire")
		for _, s := range []otlpSpan{gotServer, gotService} {
			assert.Equal(t, "users-api", s.resource["service.name"], "service.name of %q", s.GetName())
			assert.Equal(t, "2.0.1", s.resource["service.version"], "service.version of %q", s.GetName())
			assert.Equal(t, "test", s.resource["deployment.environment.name"], "deployment.environment.name of %q", s.GetName())
		}
	})

	t.Run("initTracing sets the global tracer provider and propagator", func(t *testing.T) {
		prevProvider, prevPropagator := otel.GetTracerProvider(), otel.GetTextMapPropagator()
		t.Cleanup(func() {
			otel.SetTracerProvider(prevProvider)
			otel.SetTextMapPropagator(prevPropagator)
		})
		shutdown, err := initTracing("seed-service")
		require.NoError(t, err, "initTracing")
		require.NotNil(t, shutdown, "initTracing must return a shutdown function")
		t.Cleanup(shutdown)
		// The span is not ended: it would be exported to the default endpoint, where nothing
		// listens here.
		_, span := otel.Tracer("test").Start(ctx, "work")
		assert.True(t, span.SpanContext().IsSampled(), "a span of the global provider must be sampled: initTracing must set it")
		for _, field := range []string{"traceparent", "baggage"} {
			assert.Contains(t, otel.GetTextMapPropagator().Fields(), field, "the global propagator's fields")
		}
	})
}

func TestSpansForEachOperation(t *testing.T) {
	ctx := context.Background()
	rec, tp := newRecorder(t)
	tracer := tp.Tracer("test")
	api := TracingMiddleware(tracer)(NewAPIHandler(NewTracedUserService(testUserService(), tracer), nil, nil))

	t.Run("a server span per request, named after the route", func(t *testing.T) {
		rec.Reset()
		for _, id := range []string{knownUserID, unknownUserID} {
			serveRequest(api, http.MethodGet, "/users/"+id, nil)
		}
		servers := findSpans(rec.Ended(), "GET /users/{id}", trace.SpanKindServer)
		require.Len(t, servers, 2, "want one server span named after the route pattern (not the raw path) per request; the spans: %v", spanNames(rec.Ended()))
		assert.NotEqual(t, servers[0].SpanContext().TraceID(), servers[1].SpanContext().TraceID(), "two requests without a traceparent are two traces")
		for _, s := range servers {
			assert.False(t, s.Parent().IsValid(), "a request without a traceparent starts a new trace: its server span has no parent")
		}
	})

	t.Run("a request no route matches gets a span named after its method", func(t *testing.T) {
		rec.Reset()
		resp := serveRequest(api, http.MethodGet, "/nowhere/at/all", nil)
		require.Equal(t, http.StatusNotFound, resp.Code)
		oneSpan(t, rec.Ended(), "GET", trace.SpanKindServer)
	})

	t.Run("GetUser adds a child span of the server span", func(t *testing.T) {
		rec.Reset()
		serveRequest(api, http.MethodGet, "/users/"+knownUserID, nil)
		spans := rec.Ended()
		server := oneSpan(t, spans, "GET /users/{id}", trace.SpanKindServer)
		service := oneSpan(t, spans, "UserService.GetUser", trace.SpanKindInternal)
		assert.Equal(t, server.SpanContext().TraceID(), service.SpanContext().TraceID(), "the service span is in the request's trace")
		parent := trackedAncestor(spans, []sdktrace.ReadOnlySpan{server}, service)
		assert.Equal(t, server.SpanContext().SpanID(), parent.SpanID(), "the service span's parent is the server span")
	})

	t.Run("TracedUserService.GetUser continues the span in its context", func(t *testing.T) {
		rec.Reset()
		parentCtx, parent := tracer.Start(ctx, "caller")
		svc := &TracedUserService{service: testUserService(), tracer: tracer} // the seed's literal
		u, err := svc.GetUser(parentCtx, knownUserID)
		parent.End()
		require.NoError(t, err)
		require.NotNil(t, u)
		assert.Equal(t, "Ada Lovelace", u.Name, "GetUser returns the service's user")
		service := oneSpan(t, rec.Ended(), "UserService.GetUser", trace.SpanKindInternal)
		assert.Equal(t, parent.SpanContext().SpanID(), service.Parent().SpanID(), "the span's parent is the span of the context passed in")
	})

	t.Run("spans are ended when the request is served", func(t *testing.T) {
		rec.Reset()
		serveRequest(api, http.MethodGet, "/users/"+knownUserID, nil)
		assert.Len(t, rec.Ended(), len(rec.Started()), "every span started for the request must be ended when ServeHTTP returns")
	})
}

func TestContextPropagation(t *testing.T) {
	t.Run("one request across HTTP, gRPC and NATS makes one trace", func(t *testing.T) {
		rec, tp := newRecorder(t)
		tel := testTelemetry(tp)
		tracer := tp.Tracer("test")

		// The audit service consumes users.viewed; a plain subscriber looks at the wire.
		ns, nc := runNATS(t)
		consumed := make(chan context.Context, 1)
		sub, err := Subscribe(nc, UserViewedSubject, tel, func(ctx context.Context, _ *nats.Msg) { consumed <- ctx })
		require.NoError(t, err, "Subscribe")
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		wire := make(chan *nats.Msg, 1)
		_, err = nc.ChanSubscribe(UserViewedSubject, wire)
		require.NoError(t, err)
		require.NoError(t, nc.Flush(), "the subscriptions reach the server before anything is published")

		// The user directory over gRPC, and the API that calls it.
		dial := serveGRPC(t, NewGRPCServer(testUserService(), tel, nil))
		users, err := DialUserDirectory("passthrough:///bufnet", tel, dial)
		require.NoError(t, err, "DialUserDirectory")
		t.Cleanup(func() { _ = users.Close() })
		api := httptest.NewServer(TracingMiddleware(tracer)(NewAPIHandler(users, NewEventPublisher(connectNATS(t, ns), tel), nil)))
		t.Cleanup(api.Close)

		// The caller, inside a span of its own.
		ctx, root := tracer.Start(context.Background(), "checkout")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/users/"+knownUserID, nil)
		require.NoError(t, err)
		resp, err := NewHTTPClient(tel).Do(req)
		require.NoError(t, err, "GET /users/%s through NewHTTPClient", knownUserID)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET /users/%s", knownUserID)
		root.End()

		var consumerCtx context.Context
		select {
		case consumerCtx = <-consumed:
		case <-time.After(waitTimeout):
			t.Fatalf("the subscriber got no %s message within %v", UserViewedSubject, waitTimeout)
		}
		var msg *nats.Msg
		select {
		case msg = <-wire:
		case <-time.After(waitTimeout):
			t.Fatalf("no %s message on the wire within %v", UserViewedSubject, waitTimeout)
		}

		spans := waitForSpans(t, rec, 7)
		rootSpan := oneSpan(t, spans, "checkout", trace.SpanKindInternal)
		server := oneSpan(t, spans, "GET /users/{id}", trace.SpanKindServer)
		grpcClient := oneSpan(t, spans, "workbook.ex08.users.UserDirectory/GetUser", trace.SpanKindClient)
		grpcServer := oneSpan(t, spans, "workbook.ex08.users.UserDirectory/GetUser", trace.SpanKindServer)
		publish := oneSpan(t, spans, "publish "+UserViewedSubject, trace.SpanKindProducer)
		process := oneSpan(t, spans, "process "+UserViewedSubject, trace.SpanKindConsumer)
		var httpClients []sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindClient && s != grpcClient {
				httpClients = append(httpClients, s)
			}
		}
		require.Len(t, httpClients, 1, "want one HTTP client span (kind Client) besides the gRPC one; the spans: %v", spanNames(spans))
		httpClient := httpClients[0]

		traceID := rootSpan.SpanContext().TraceID()
		for _, s := range spans {
			assert.Equal(t, traceID, s.SpanContext().TraceID(), "span %q (%s) must be in the caller's trace", s.Name(), s.SpanKind())
		}
		// Each hop's span is a child of the span current where the hop started. Spans of
		// your own in between are allowed: a span's parent is looked for up the tree.
		tracked := []sdktrace.ReadOnlySpan{rootSpan, httpClient, server, grpcClient, grpcServer, publish, process}
		for _, link := range []struct {
			child, parent sdktrace.ReadOnlySpan
			remote        bool
		}{
			{httpClient, rootSpan, false},
			{server, httpClient, true},
			{grpcClient, server, false},
			{grpcServer, grpcClient, true},
			{publish, server, false},
			{process, publish, true},
		} {
			got := trackedAncestor(spans, tracked, link.child)
			assert.Equal(t, link.parent.SpanContext().SpanID(), got.SpanID(), "the parent of %q (%s) must be %q (%s); got span %s",
				link.child.Name(), link.child.SpanKind(), link.parent.Name(), link.parent.SpanKind(), got.SpanID())
			if link.remote {
				assert.True(t, link.child.Parent().IsRemote(), "%q (%s) must continue a context that came over the wire", link.child.Name(), link.child.SpanKind())
			}
		}
		assert.False(t, rootSpan.Parent().IsValid(), "the caller's span is the root")

		assert.Equal(t, process.SpanContext(), trace.SpanContextFromContext(consumerCtx), "the subscriber's handler must run inside the consumer span")
		assert.Equal(t, knownUserID, string(msg.Data), "the message data is the user id")
		assert.Equal(t, fmt.Sprintf("00-%s-%s-01", traceID, publish.SpanContext().SpanID()), headerValue(msg.Header, "traceparent"),
			"the message headers must carry the publish span's context as a W3C traceparent")
	})

	t.Run("an incoming traceparent is continued, with its baggage", func(t *testing.T) {
		rec, tp := newRecorder(t)
		var tenant string
		mux := http.NewServeMux()
		mux.HandleFunc("GET /ping", func(_ http.ResponseWriter, r *http.Request) {
			tenant = baggage.FromContext(r.Context()).Member("tenant").Value()
		})
		h := TracingMiddleware(tp.Tracer("test"))(mux)
		resp := serveRequest(h, http.MethodGet, "/ping", http.Header{"Traceparent": {parentTraceparent}, "Baggage": {"tenant=acme"}})
		require.Equal(t, http.StatusOK, resp.Code)
		server := oneSpan(t, rec.Ended(), "GET /ping", trace.SpanKindServer)
		assert.Equal(t, parentTraceID, server.SpanContext().TraceID().String(), "the server span continues the caller's trace")
		assert.Equal(t, parentSpanID, server.Parent().SpanID().String(), "the server span's parent is the caller's span")
		assert.True(t, server.Parent().IsRemote(), "the parent came over the wire")
		assert.Equal(t, "acme", tenant, "the handler's context must carry the request's baggage")
	})

	t.Run("a malformed traceparent starts a new trace", func(t *testing.T) {
		for name, tp := range map[string]string{
			"garbage":          "not-a-traceparent",
			"short trace id":   "00-0af7651916cd43dd-" + parentSpanID + "-01",
			"zero trace id":    "00-00000000000000000000000000000000-" + parentSpanID + "-01",
			"zero span id":     "00-" + parentTraceID + "-0000000000000000-01",
			"not hex":          "00-0af7651916cd43dd8448eb211c80319z-" + parentSpanID + "-01",
			"version ff":       "ff-" + parentTraceID + "-" + parentSpanID + "-01",
			"missing a field":  "00-" + parentTraceID + "-01",
			"uppercase digits": "00-0AF7651916CD43DD8448EB211C80319C-" + parentSpanID + "-01",
		} {
			t.Run(name, func(t *testing.T) {
				rec, provider := newRecorder(t)
				h := TracingMiddleware(provider.Tracer("test"))(testMux())
				resp := serveRequest(h, http.MethodGet, "/status/implicit", http.Header{"Traceparent": {tp}})
				assert.Equal(t, http.StatusOK, resp.Code, "the request must be served as if it had no traceparent")
				server := oneSpan(t, rec.Ended(), "GET /status/{code}", trace.SpanKindServer)
				assert.True(t, server.SpanContext().IsValid(), "the server span must have a valid context")
				assert.False(t, server.Parent().IsValid(), "traceparent %q is malformed: the server span must start a new trace", tp)
				assert.NotEqual(t, parentTraceID, server.SpanContext().TraceID().String(), "the malformed trace id must not be reused")
			})
		}
	})
}

// trackedAncestor returns the context of the nearest ancestor of s that is one of tracked,
// walking up through the other spans of spans; an invalid context when there is none.
func trackedAncestor(spans, tracked []sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan) trace.SpanContext {
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, span := range spans {
		byID[span.SpanContext().SpanID()] = span
	}
	isTracked := func(id trace.SpanID) bool {
		return slices.ContainsFunc(tracked, func(t sdktrace.ReadOnlySpan) bool { return t.SpanContext().SpanID() == id })
	}
	parent := s.Parent()
	for range len(spans) {
		if !parent.IsValid() || isTracked(parent.SpanID()) {
			return parent
		}
		next, ok := byID[parent.SpanID()]
		if !ok {
			return parent // a parent outside the recorded spans: report it as is
		}
		parent = next.Parent()
	}
	return parent
}

func TestRelevantAttributes(t *testing.T) {
	ctx := context.Background()

	t.Run("the server span carries the HTTP semantic-convention attributes", func(t *testing.T) {
		rec, tp := newRecorder(t)
		api := TracingMiddleware(tp.Tracer("test"))(NewAPIHandler(testUserService(), nil, nil))
		for _, tc := range []struct {
			id     string
			status int
		}{{knownUserID, http.StatusOK}, {unknownUserID, http.StatusNotFound}} {
			rec.Reset()
			serveRequest(api, http.MethodGet, "/users/"+tc.id, nil)
			server := oneSpan(t, rec.Ended(), "GET /users/{id}", trace.SpanKindServer)
			attrs := attrsOf(server)
			assert.Equal(t, "GET", attrs["http.request.method"].Emit(), "http.request.method")
			assert.Equal(t, "/users/{id}", attrs["http.route"].Emit(), "http.route")
			assert.Equal(t, attribute.INT64, attrs["http.response.status_code"].Type(), "http.response.status_code is an integer")
			assert.Equal(t, int64(tc.status), attrs["http.response.status_code"].AsInt64(), "http.response.status_code")
			assert.Equal(t, "/users/"+tc.id, attrs["url.path"].Emit(), "url.path")
			assert.Equal(t, "http", attrs["url.scheme"].Emit(), "url.scheme")
		}
	})

	t.Run("the service span carries the user id", func(t *testing.T) {
		rec, tp := newRecorder(t)
		svc := NewTracedUserService(testUserService(), tp.Tracer("test"))
		_, err := svc.GetUser(ctx, knownUserID)
		require.NoError(t, err)
		service := oneSpan(t, rec.Ended(), "UserService.GetUser", trace.SpanKindInternal)
		assert.Equal(t, knownUserID, attrsOf(service)["user.id"].Emit(), "user.id")
	})

	t.Run("the HTTP client span carries the HTTP semantic-convention attributes", func(t *testing.T) {
		rec, tp := newRecorder(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
		t.Cleanup(srv.Close)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/orders", nil)
		require.NoError(t, err)
		resp, err := NewHTTPClient(testTelemetry(tp)).Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		spans := waitForSpans(t, rec, 1)
		require.Len(t, spans, 1, "one request, one client span; got %v", spanNames(spans))
		attrs := attrsOf(spans[0])
		assert.Equal(t, trace.SpanKindClient, spans[0].SpanKind(), "kind of the client span")
		assert.Equal(t, "GET", attrs["http.request.method"].Emit(), "http.request.method")
		assert.Equal(t, int64(http.StatusAccepted), attrs["http.response.status_code"].AsInt64(), "http.response.status_code")
	})

	t.Run("no secret reaches a span", func(t *testing.T) {
		const (
			bearer = "bearer-secret-token-5e1"
			cookie = "cookie-secret-session-77"
			query  = "query-secret-password-31"
		)
		secrets := []string{bearer, cookie, query, secretPasswordHash}
		rec, tp := newRecorder(t)
		tracer := tp.Tracer("test")
		api := TracingMiddleware(tracer)(NewAPIHandler(NewTracedUserService(testUserService(), tracer), nil, nil))
		serveRequest(api, http.MethodGet, "/users/"+knownUserID+"?password="+query, http.Header{
			"Authorization": {"Bearer " + bearer},
			"Cookie":        {"session=" + cookie},
		})

		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(srv.Close)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/orders", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := NewHTTPClient(testTelemetry(tp)).Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())

		spans := waitForSpans(t, rec, 3)
		for _, s := range spans {
			kvs := slices.Clone(s.Attributes())
			for _, e := range s.Events() {
				kvs = append(kvs, e.Attributes...)
			}
			for _, kv := range kvs {
				for _, secret := range secrets {
					assert.NotContains(t, kv.Value.Emit(), secret, "attribute %s of span %q carries a secret", kv.Key, s.Name())
				}
			}
		}
	})

	t.Run("log lines written inside a span carry its trace_id and span_id", func(t *testing.T) {
		_, tp := newRecorder(t)
		out := &syncBuffer{}
		logger := slog.New(NewLogHandler(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})))
		spanCtx, span := tp.Tracer("test").Start(ctx, "work")
		logger.InfoContext(spanCtx, "inside")
		logger.With("order", "o-1").InfoContext(spanCtx, "with attributes")
		logger.DebugContext(spanCtx, "below the level")
		span.End()
		logger.InfoContext(ctx, "outside")

		lines := jsonLines(t, out.String())
		require.Len(t, lines, 3, "three lines at Info or above; got:\n%s", out.String())
		sc := span.SpanContext()
		for _, line := range lines[:2] {
			assert.Equal(t, sc.TraceID().String(), line["trace_id"], "trace_id of line %q", line["msg"])
			assert.Equal(t, sc.SpanID().String(), line["span_id"], "span_id of line %q", line["msg"])
		}
		assert.Equal(t, "o-1", lines[1]["order"], "logger.With's attributes are kept")
		assert.NotContains(t, lines[2], "trace_id", "a line logged outside a span has no trace_id")
		assert.NotContains(t, lines[2], "span_id", "a line logged outside a span has no span_id")
	})

	t.Run("the API's log lines carry the request's span", func(t *testing.T) {
		rec, tp := newRecorder(t)
		out := &syncBuffer{}
		logger := slog.New(NewLogHandler(slog.NewJSONHandler(out, nil)))
		api := TracingMiddleware(tp.Tracer("test"))(NewAPIHandler(failingUsers{errors.New("database unreachable")}, nil, logger))
		resp := serveRequest(api, http.MethodGet, "/users/"+knownUserID, nil)
		require.Equal(t, http.StatusInternalServerError, resp.Code)
		server := oneSpan(t, rec.Ended(), "GET /users/{id}", trace.SpanKindServer)
		lines := jsonLines(t, out.String())
		require.NotEmpty(t, lines, "the API logs the failure")
		assert.Equal(t, server.SpanContext().TraceID().String(), lines[0]["trace_id"], "trace_id of the API's log line")
		assert.Equal(t, server.SpanContext().SpanID().String(), lines[0]["span_id"], "span_id of the API's log line")
	})
}

func TestErrorRecording(t *testing.T) {
	ctx := context.Background()

	t.Run("an error of the service is recorded on its span", func(t *testing.T) {
		rec, tp := newRecorder(t)
		svc := NewTracedUserService(testUserService(), tp.Tracer("test"))
		_, err := svc.GetUser(ctx, unknownUserID)
		assert.ErrorIs(t, err, ErrUserNotFound, "GetUser returns the service's error")
		failed := oneSpan(t, rec.Ended(), "UserService.GetUser", trace.SpanKindInternal)
		assert.Equal(t, codes.Error, failed.Status().Code, "status of a failed call's span")
		require.True(t, hasEvent(failed, "exception"), "the error must be recorded as an exception event (span.RecordError)")
		for _, e := range failed.Events() {
			if e.Name == "exception" {
				msg := attribute.NewSet(e.Attributes...)
				v, _ := msg.Value("exception.message")
				assert.Contains(t, v.Emit(), ErrUserNotFound.Error(), "exception.message")
			}
		}

		rec.Reset()
		_, err = svc.GetUser(ctx, knownUserID)
		require.NoError(t, err)
		ok := oneSpan(t, rec.Ended(), "UserService.GetUser", trace.SpanKindInternal)
		assert.NotEqual(t, codes.Error, ok.Status().Code, "a successful call's span is not an error")
		assert.False(t, hasEvent(ok, "exception"), "a successful call records no exception")
	})

	t.Run("a 5xx sets the server span's status to Error, a 4xx does not", func(t *testing.T) {
		for _, tc := range []struct {
			path  string
			error bool
		}{
			{"implicit", false}, {"201", false}, {"400", false}, {"404", false}, {"499", false},
			{"500", true}, {"502", true}, {"503", true},
		} {
			t.Run(tc.path, func(t *testing.T) {
				rec, tp := newRecorder(t)
				h := TracingMiddleware(tp.Tracer("test"))(testMux())
				serveRequest(h, http.MethodGet, "/status/"+tc.path, nil)
				server := oneSpan(t, rec.Ended(), "GET /status/{code}", trace.SpanKindServer)
				if tc.error {
					assert.Equal(t, codes.Error, server.Status().Code, "a %s response is a server error", tc.path)
				} else {
					assert.Equal(t, codes.Unset, server.Status().Code, "a %s response is not a server error: leave the status Unset", tc.path)
				}
			})
		}
	})

	t.Run("an unknown user: the service span fails, the 404 server span does not", func(t *testing.T) {
		rec, tp := newRecorder(t)
		tracer := tp.Tracer("test")
		api := TracingMiddleware(tracer)(NewAPIHandler(NewTracedUserService(testUserService(), tracer), nil, nil))
		resp := serveRequest(api, http.MethodGet, "/users/"+unknownUserID, nil)
		require.Equal(t, http.StatusNotFound, resp.Code)
		spans := rec.Ended()
		assert.Equal(t, codes.Error, oneSpan(t, spans, "UserService.GetUser", trace.SpanKindInternal).Status().Code, "the service span")
		assert.Equal(t, codes.Unset, oneSpan(t, spans, "GET /users/{id}", trace.SpanKindServer).Status().Code, "the server span of a 404")
	})

	t.Run("a panic is recorded on the server span and raised again", func(t *testing.T) {
		rec, tp := newRecorder(t)
		h := TracingMiddleware(tp.Tracer("test"))(testMux())
		assert.PanicsWithValue(t, panicValue, func() { serveRequest(h, http.MethodGet, "/panic", nil) },
			"the middleware must let the panic go on, with its value, once the span is recorded")
		spans := rec.Ended()
		var servers []sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindServer {
				servers = append(servers, s)
			}
		}
		require.Len(t, servers, 1, "the server span must be ended even when the handler panics; got %v", spanNames(spans))
		assert.Equal(t, codes.Error, servers[0].Status().Code, "status of the span of a request whose handler panicked")
		assert.True(t, hasEvent(servers[0], "exception"), "the panic must be recorded as an exception event")
	})
}

func TestJaegerVisibility(t *testing.T) {
	j := startJaeger(t)
	service := fmt.Sprintf("ex08-users-%d", time.Now().UnixNano())

	// A long batch timeout: the spans reach Jaeger only if shutdown flushes them.
	tel, shutdown := setup(t, Config{ServiceName: service, ServiceVersion: "3.1.0", Environment: "test", Endpoint: j.OTLPEndpoint, BatchTimeout: time.Hour})
	server, _ := requestSpans(tel.TracerProvider.Tracer("test"))
	traceID := server.SpanContext().TraceID()
	require.NoError(t, shutdownWithin(shutdown), "shutdown exports the spans to Jaeger")

	// Jaeger stores what it receives a moment later: search the service's traces until the
	// request's trace is there, with both spans.
	eventually(t, jaegerTimeout, func() bool {
		var got jaegerTraces
		status, err := httpGet(j.QueryURL+"/api/traces?lookback=1h&limit=20&service="+service, &got)
		if err != nil || status != http.StatusOK {
			return false
		}
		return slices.ContainsFunc(got.Data, func(tr jaegerTrace) bool {
			return jaegerID(tr.TraceID, 16) == traceID.String() && len(tr.Spans) >= 2
		})
	}, "trace %s of service %q, with two spans, in Jaeger's search (%s/search?service=%s)", traceID, service, j.QueryURL, service)

	var byID jaegerTraces
	status, err := httpGet(j.QueryURL+"/api/traces/"+traceID.String(), &byID)
	require.NoError(t, err, "read the trace back by its id")
	require.Equal(t, http.StatusOK, status, "GET /api/traces/%s", traceID)
	require.Len(t, byID.Data, 1, "one trace for id %s", traceID)
	tr := byID.Data[0]

	spans := map[string]jaegerSpan{}
	for _, s := range tr.Spans {
		spans[s.OperationName] = s
		assert.Equal(t, service, tr.Processes[s.ProcessID].ServiceName, "service of span %q in Jaeger", s.OperationName)
	}
	require.Contains(t, spans, "GET /users/{id}", "the server span in Jaeger")
	require.Contains(t, spans, "UserService.GetUser", "the service span in Jaeger")
	gotServer, gotService := spans["GET /users/{id}"], spans["UserService.GetUser"]
	assert.Equal(t, server.SpanContext().SpanID().String(), jaegerID(gotServer.SpanID, 8), "span id of the server span in Jaeger")
	assert.Equal(t, "server", gotServer.tag("span.kind"), "span.kind of the server span")
	assert.Equal(t, "/users/{id}", gotServer.tag("http.route"), "http.route of the server span")
	assert.Equal(t, knownUserID, gotService.tag("user.id"), "user.id of the service span")
	require.Len(t, gotService.References, 1, "the service span has one parent")
	assert.Equal(t, "CHILD_OF", gotService.References[0].RefType)
	assert.Equal(t, jaegerID(gotServer.SpanID, 8), jaegerID(gotService.References[0].SpanID, 8), "the service span is a child of the server span")
}
