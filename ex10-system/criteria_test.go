package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The criteria tests of exercise 10, one per criterion of criteria.json. Each starts the system
// in this process, on loopback ports.

func TestSystemRunning(t *testing.T) {
	t.Run("every service ready", func(t *testing.T) {
		sys := startSystem(t, Config{})
		groups := byService(sys)
		for _, service := range theServices {
			assert.Len(t, groups[service], 2, "instances of %s (two of each service by default)", service)
		}
		for _, in := range sys.Instances() {
			eventually(t, waitTimeout, func() bool { return status(in.URL+"/ready") == http.StatusOK }, "%s's /ready to answer 200", in.ID)
			resp := mustSend(t, http.MethodGet, in.URL+"/health", nil)
			assert.Equal(t, http.StatusOK, resp.Status, "%s's /health", in.ID)
			decode[map[string]any](t, resp)
		}
		eventually(t, waitTimeout, func() bool { return status(sys.GatewayURL()+"/ready") == http.StatusOK }, "the gateway's /ready to answer 200")
		assert.Equal(t, http.StatusOK, status(sys.GatewayURL()+"/health"), "the gateway's /health")
	})

	t.Run("every service answers its JSON API through the gateway", func(t *testing.T) {
		sys := startSystem(t, Config{})
		gw := sys.GatewayURL()
		user, product := newUser(t, gw), newProduct(t, gw, 5)
		o := placeOrder(t, gw, user.ID, product.ID, 1)
		for _, path := range []string{
			"/api/users/" + user.ID, "/api/users", "/api/products/" + product.ID, "/api/products",
			"/api/orders/" + o.ID, "/api/orders?user_id=" + user.ID, "/api/payments/" + o.PaymentID,
			"/api/payments?order_id=" + o.ID, "/api/inventory/" + product.ID, "/api/notifications?to=" + user.Email,
		} {
			resp := mustSend(t, http.MethodGet, gw+path, nil)
			if assert.Equal(t, http.StatusOK, resp.Status, "GET %s: %s", path, resp.Body) {
				assert.True(t, json.Valid(resp.Body), "GET %s answers JSON: %s", path, resp.Body)
				assert.Contains(t, resp.Header.Get("Content-Type"), "application/json", "Content-Type of GET %s", path)
			}
		}
		for path, want := range map[string]int{
			"/api/users/nobody": http.StatusNotFound, "/api/products/nothing": http.StatusNotFound,
			"/api/orders/none": http.StatusNotFound, "/api/payments/none": http.StatusNotFound,
		} {
			resp := mustSend(t, http.MethodGet, gw+path, nil)
			assert.Equal(t, want, resp.Status, "GET %s", path)
			assert.NotEmpty(t, decode[map[string]any](t, resp)["error"], "GET %s answers {\"error\": …}", path)
		}
		for _, bad := range []struct {
			path string
			body any
		}{
			{"/api/users", map[string]string{"name": "", "email": "x@example.com"}},
			{"/api/users", map[string]string{"name": "Bea", "email": "not an address"}},
			{"/api/products", map[string]any{"name": "Cup", "price_cents": 0}},
			{"/api/orders", map[string]any{"user_id": user.ID, "product_id": product.ID, "quantity": 0}},
		} {
			resp := mustSend(t, http.MethodPost, gw+bad.path, bad.body)
			assert.Equal(t, http.StatusBadRequest, resp.Status, "POST %s %v: %s", bad.path, bad.body, resp.Body)
		}
		resp := order(t, gw, "no-such-user", product.ID, 1)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.Status, "an order for a user that does not exist: %s", resp.Body)
	})

	t.Run("deploy/compose.yaml describes the system", checkCompose)
}

func TestLoadBalancing(t *testing.T) {
	sys := startSystem(t, Config{Registry: newTestRegistry()})
	gw := sys.GatewayURL()
	groups := byService(sys)
	paths := map[string]string{
		UserService: "/api/users", ProductService: "/api/products", OrderService: "/api/orders",
		PaymentService: "/api/payments", InventoryService: "/api/inventory/some-product", NotificationService: "/api/notifications",
	}
	for _, service := range theServices {
		t.Run(service, func(t *testing.T) {
			instances := ids(groups[service])
			require.Len(t, instances, 2, "instances of %s", service)
			const requests = 40
			served := map[string]int{}
			for range requests {
				resp := mustSend(t, http.MethodGet, gw+paths[service], nil)
				require.Less(t, resp.Status, 500, "GET %s through the gateway: %s", paths[service], resp.Body)
				served[resp.Header.Get(InstanceHeader)]++
			}
			for _, id := range instances {
				assert.GreaterOrEqual(t, served[id], requests/4, "GET %s answered by %s (%s header); answers by instance: %v", paths[service], id, InstanceHeader, served)
			}
			assert.Len(t, served, 2, "every answer names one of the instances %v in %s: %v", instances, InstanceHeader, served)
		})
	}
}

func TestServiceDiscovery(t *testing.T) {
	reg := newTestRegistry()
	sys := startSystem(t, Config{Registry: reg})
	gw := sys.GatewayURL()

	t.Run("instances register themselves with a check on /ready", func(t *testing.T) {
		for _, in := range sys.Instances() {
			info, ok := reg.registered(in.ID)
			if !assert.True(t, ok, "instance %s is running but not registered", in.ID) {
				continue
			}
			assert.Equal(t, in.Service, info.Name, "the registered service name of %s", in.ID)
			assert.Equal(t, in.URL, info.URL(), "the registered address of %s", in.ID)
			assert.Equal(t, in.URL+"/ready", info.Health.HTTP, "the health check of %s", in.ID)
		}
	})

	t.Run("a new instance gets traffic", func(t *testing.T) {
		for range 4 { // the gateway has routed to product before the new instance starts
			require.Equal(t, http.StatusOK, mustSend(t, http.MethodGet, gw+"/api/products", nil).Status, "GET /api/products through the gateway")
		}
		in, err := sys.StartInstance(t.Context(), ProductService)
		require.NoError(t, err, "StartInstance(product)")
		_, ok := reg.registered(in.ID)
		require.True(t, ok, "the new instance %s must register itself", in.ID)
		eventually(t, waitTimeout, func() bool {
			resp, err := send(http.MethodGet, gw+"/api/products", nil, nil)
			return err == nil && resp.Header.Get(InstanceHeader) == in.ID
		}, "a request through the gateway to reach the new instance %s (the gateway looks the instances up for every request)", in.ID)
	})

	t.Run("stopping an instance moves traffic with no failed request", func(t *testing.T) {
		product := newProduct(t, gw, 1)
		var failures []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := send(http.MethodGet, gw+"/api/products/"+product.ID, nil, nil)
					if err != nil || resp.Status != http.StatusOK {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("status %d, error %v", resp.Status, err))
						mu.Unlock()
					}
				}
			})
		}
		victim := byService(sys)[ProductService][0]
		require.NoError(t, sys.StopInstance(t.Context(), victim.ID), "StopInstance(%s)", victim.ID)
		_, still := reg.registered(victim.ID)
		assert.False(t, still, "a stopped instance must have deregistered itself by the time StopInstance returns")
		assert.NotContains(t, ids(sys.Instances()), victim.ID, "Instances after StopInstance")
		for range 20 {
			resp := mustSend(t, http.MethodGet, gw+"/api/products/"+product.ID, nil)
			assert.Equal(t, http.StatusOK, resp.Status, "GET through the gateway after the stop")
			assert.NotEqual(t, victim.ID, resp.Header.Get(InstanceHeader), "the stopped instance answered")
		}
		close(stop)
		wg.Wait()
		assert.Empty(t, failures, "GET requests that failed while an instance stopped")
	})
}

func TestCircuitBreakers(t *testing.T) {
	const threshold = 3
	for _, callee := range []string{PaymentService, UserService, ProductService} {
		t.Run(callee, func(t *testing.T) {
			reg := newTestRegistry()
			sys := startSystem(t, Config{Registry: reg, BreakerThreshold: threshold, BreakerOpenTimeout: time.Second})
			gw := sys.GatewayURL()
			user, product := newUser(t, gw), newProduct(t, gw, 100)
			orders := byService(sys)[OrderService]
			require.Len(t, orders, 2, "order instances")
			state := func(o Instance) (float64, bool) {
				return sample(scrape(t, o.URL), "circuit_breaker_state", map[string]string{"name": callee})
			}
			for _, o := range orders {
				v, ok := state(o)
				assert.True(t, ok && v == 0, "%s's /metrics must show circuit_breaker_state{name=%q} 0 (closed) before any failure; got %v (present: %v)", o.ID, callee, v, ok)
			}

			// The callee goes down: its instances stop, and a failing one takes their place.
			for _, in := range byService(sys)[callee] {
				require.NoError(t, sys.StopInstance(t.Context(), in.ID))
			}
			fake := newFakeService(t)
			require.NoError(t, reg.Register(t.Context(), fake.info(t, callee)))
			allOpen := func() bool {
				for _, o := range orders {
					if v, _ := state(o); v != 1 {
						return false
					}
				}
				return true
			}
			for i := 0; !allOpen(); i++ {
				require.Less(t, i, 4*threshold, "after %d failed orders the breakers to %s are not all open (circuit_breaker_state{name=%q} 1 on each order instance)", i, callee, callee)
				resp := order(t, gw, user.ID, product.ID, 1)
				require.Equal(t, http.StatusServiceUnavailable, resp.Status, "an order while %s fails: %s", callee, resp.Body)
			}
			calls := fake.calls.Load()
			assert.Equal(t, int64(threshold*len(orders)), calls, "each order instance must call the failing %s exactly BreakerThreshold (%d) times before its breaker opens", callee, threshold)
			for range 4 {
				resp := order(t, gw, user.ID, product.ID, 1)
				assert.Equal(t, http.StatusServiceUnavailable, resp.Status, "an order while the breaker is open: %s", resp.Body)
			}
			assert.Equal(t, calls, fake.calls.Load(), "an open breaker must fail fast, without calling %s", callee)

			// The callee comes back: the breakers let a trial call through and close.
			require.NoError(t, reg.Deregister(t.Context(), fake.info(t, callee).ID))
			_, err := sys.StartInstance(t.Context(), callee)
			require.NoError(t, err, "StartInstance(%s)", callee)
			eventually(t, waitTimeout, func() bool {
				resp := order(t, gw, user.ID, product.ID, 1)
				require.Contains(t, []int{http.StatusCreated, http.StatusServiceUnavailable}, resp.Status, "an order while %s comes back: %s", callee, resp.Body)
				for _, o := range orders {
					if v, _ := state(o); v != 0 {
						return false
					}
				}
				return resp.Status == http.StatusCreated
			}, "the breakers to %s to close on every order instance once it is back (circuit_breaker_state 0)", callee)
		})
	}
}

func TestDistributedTracing(t *testing.T) {
	t.Run("one order makes one trace across the services", func(t *testing.T) {
		exporter := tracetest.NewInMemoryExporter()
		logs := &syncBuffer{}
		sys := startSystemLogging(t, Config{TraceExporter: exporter, TraceBatchTimeout: 20 * time.Millisecond}, logs)
		gw := sys.GatewayURL()
		user, product := newUser(t, gw), newProduct(t, gw, 10)

		traceID, root := orderInTrace(t, gw, user.ID, product.ID)
		want := []string{GatewayService, OrderService, UserService, ProductService, PaymentService, InventoryService, NotificationService}
		var spans []sdktrace.ReadOnlySpan
		eventually(t, waitTimeout, func() bool {
			spans = traceSpans(exporter, traceID)
			return hasConsumer(spans, InventoryService) && hasConsumer(spans, NotificationService) &&
				len(missingServices(spans, want)) == 0 && len(detached(spans, root)) == 0
		}, "the spans of trace %s from every service, consumers included, in one tree under the gateway's server span; services missing: %v; "+
			"spans whose parent is not a span of the trace (the trace context did not travel there): %v", traceID,
			lazy(func() any { return missingServices(spans, want) }), lazy(func() any { return detached(spans, root) }))

		byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
		for _, s := range spans {
			byID[s.SpanContext().SpanID()] = s
		}
		gateway := spansOf(spans, GatewayService, trace.SpanKindServer)
		require.NotEmpty(t, gateway, "the gateway's server span")
		assert.Equal(t, root, gateway[0].Parent().SpanID(), "the gateway's server span continues the caller's trace (traceparent)")
		for consumer, producer := range map[string]string{InventoryService: OrderService, NotificationService: PaymentService} {
			for _, s := range spansOf(spans, consumer, trace.SpanKindConsumer) {
				assert.True(t, hasAncestor(s, byID, producer), "%s's consumer span must descend, through NATS, from a span of %s", consumer, producer)
			}
		}

		// Every service logged, in JSON, a line with the order's trace id.
		eventually(t, waitTimeout, func() bool { return len(missingLogs(logs.String(), traceID, want)) == 0 },
			"a JSON log line with trace_id %s from every service; missing: %v", traceID, lazy(func() any { return missingLogs(logs.String(), traceID, want) }))
	})

	t.Run("the trace reaches a real Jaeger", func(t *testing.T) {
		bin, err := exec.LookPath("jaeger")
		if err != nil {
			t.Skipf("jaeger not on PATH (%v): the trace is checked with the in-memory exporter only", err)
		}
		otlp, query := startJaeger(t, bin)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		sys, err := Start(ctx, testConfig(Config{TraceEndpoint: otlp, TraceBatchTimeout: time.Hour}, nil))
		require.NoError(t, err, "Start")
		gw := sys.GatewayURL()
		user, product := newUser(t, gw), newProduct(t, gw, 10)
		traceID, _ := orderInTrace(t, gw, user.ID, product.ID)
		eventually(t, waitTimeout, func() bool { return len(notifications(t, gw, user.Email)) == 1 }, "the order's notification")
		require.NoError(t, sys.Shutdown(ctx), "Shutdown, which flushes the spans to Jaeger")
		var got struct {
			Data []struct {
				Processes map[string]struct {
					ServiceName string `json:"serviceName"`
				} `json:"processes"`
			} `json:"data"`
		}
		want := []string{GatewayService, OrderService, PaymentService, InventoryService, NotificationService}
		eventually(t, waitTimeout, func() bool {
			got.Data = nil
			if getJSON(query+"/api/traces/"+traceID, &got) != http.StatusOK || len(got.Data) != 1 {
				return false
			}
			var services []string
			for _, p := range got.Data[0].Processes {
				services = append(services, p.ServiceName)
			}
			for _, s := range want {
				if !slices.Contains(services, s) {
					return false
				}
			}
			return true
		}, "trace %s in Jaeger with spans of %v", traceID, want)
	})
}

func TestMetricsCollected(t *testing.T) {
	sys := startSystem(t, Config{})
	gw := sys.GatewayURL()
	groups := byService(sys)
	user, product := newUser(t, gw), newProduct(t, gw, 10)
	route := map[string]string{"route": "/api/products/{id}", "method": "GET", "code": "200"}
	before := serviceSample(t, groups[ProductService], "http_requests_total", route)
	beforeHist := serviceSample(t, groups[ProductService], "http_request_duration_seconds", map[string]string{"route": "/api/products/{id}", "method": "GET"})
	for range 4 {
		require.Equal(t, http.StatusOK, mustSend(t, http.MethodGet, gw+"/api/products/"+product.ID, nil).Status)
	}
	after := serviceSample(t, groups[ProductService], "http_requests_total", route)
	afterHist := serviceSample(t, groups[ProductService], "http_request_duration_seconds", map[string]string{"route": "/api/products/{id}", "method": "GET"})
	placeOrder(t, gw, user.ID, product.ID, 2)
	for _, path := range []string{"/api/users", "/api/orders", "/api/payments", "/api/inventory/" + product.ID, "/api/notifications", "/api/users", "/api/orders", "/api/payments", "/api/inventory/" + product.ID, "/api/notifications"} {
		mustSend(t, http.MethodGet, gw+path, nil)
	}

	t.Run("request series on every instance", func(t *testing.T) {
		assert.Equal(t, before+4, after, "http_requests_total%v summed over the product instances must grow by the 4 requests sent", route)
		assert.Equal(t, beforeHist+4, afterHist, "the count of http_request_duration_seconds{route=\"/api/products/{id}\",method=\"GET\"} must grow by 4")
		for _, in := range sys.Instances() {
			families := scrape(t, in.URL)
			_, ok := sample(families, "http_requests_total", map[string]string{"service": in.Service})
			assert.True(t, ok, "%s's /metrics must have http_requests_total{service=%q}", in.ID, in.Service)
			_, ok = sample(families, "http_request_duration_seconds", map[string]string{"service": in.Service})
			assert.True(t, ok, "%s's /metrics must have the histogram http_request_duration_seconds{service=%q}", in.ID, in.Service)
		}
		v, ok := sample(scrape(t, gw), "http_requests_total", map[string]string{"service": GatewayService})
		assert.True(t, ok && v >= 16, "the gateway's /metrics must count the requests it served in http_requests_total{service=\"gateway\"}; got %v", v)
	})

	t.Run("business series", func(t *testing.T) {
		for _, c := range []struct {
			service, name string
			labels        map[string]string
		}{
			{UserService, "users_created_total", nil},
			{ProductService, "products_created_total", nil},
			{OrderService, "orders_created_total", nil},
			{PaymentService, "payments_processed_total", nil},
			{InventoryService, "inventory_reservations_total", map[string]string{"result": "reserved"}},
			{NotificationService, "notifications_sent_total", nil},
		} {
			eventually(t, waitTimeout, func() bool { return serviceSample(t, groups[c.service], c.name, c.labels) == 1 },
				"%s%v summed over the %s instances to be 1 after one order; it is %v", c.name, c.labels, c.service,
				lazy(func() any { return serviceSample(t, groups[c.service], c.name, c.labels) }))
		}
	})

	t.Run("a real Prometheus scrapes every instance", func(t *testing.T) {
		bin, err := exec.LookPath("prometheus")
		if err != nil {
			t.Skipf("prometheus not on PATH (%v): /metrics is checked with expfmt only", err)
		}
		query := startPrometheus(t, bin, sys)
		targets := len(sys.Instances()) + 1
		// Over the last minute, so that a scrape slowed down by a busy machine does not count.
		scraped, orders := "count(max_over_time(up[1m]) == 1)", "sum(max_over_time(orders_created_total[1m]))"
		eventually(t, waitTimeout, func() bool {
			return promQuery(query, scraped) == float64(targets) && promQuery(query, orders) == 1
		}, "Prometheus to scrape the %d targets and see one order: %s is %v (-1: no answer), %s is %v, count(up) is %v", targets,
			scraped, lazy(func() any { return promQuery(query, scraped) }), orders, lazy(func() any { return promQuery(query, orders) }),
			lazy(func() any { return promQuery(query, "count(up)") }))
	})
}

func TestEventsFlowing(t *testing.T) {
	sys := startSystem(t, Config{Instances: map[string]int{InventoryService: 1, NotificationService: 1}})
	gw := sys.GatewayURL()
	nc, err := nats.Connect(sys.NATSURL())
	require.NoError(t, err, "connect to the system's NATS (NATSURL)")
	t.Cleanup(nc.Close)
	captured := make(chan *nats.Msg, 64)
	for _, subject := range []string{SubjectOrderCreated, SubjectPaymentProcessed} {
		sub, err := nc.ChanSubscribe(subject, captured)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	require.NoError(t, nc.Flush())
	user, product := newUser(t, gw), newProduct(t, gw, 100)

	// The consumers stop; orders are placed meanwhile; the consumers come back.
	for _, service := range []string{InventoryService, NotificationService} {
		for _, in := range byService(sys)[service] {
			require.NoError(t, sys.StopInstance(t.Context(), in.ID), "StopInstance(%s)", in.ID)
		}
	}
	var placed []string
	for q := 1; q <= 3; q++ {
		placed = append(placed, placeOrder(t, gw, user.ID, product.ID, q).ID)
	}
	for _, service := range []string{InventoryService, NotificationService} {
		_, err := sys.StartInstance(t.Context(), service)
		require.NoError(t, err, "StartInstance(%s)", service)
	}
	eventually(t, waitTimeout, func() bool {
		return stock(t, gw, product.ID).Reserved == 6 && len(notifications(t, gw, user.Email)) == 3
	}, "the events stored while the consumers were stopped to be handled: 6 items reserved and 3 notifications; got %+v and %d",
		lazy(func() any { return stock(t, gw, product.ID) }), lazy(func() any { return len(notifications(t, gw, user.Email)) }))

	// Every event comes again (a redelivery, a publisher's retry); then one more order.
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	for i := 0; i < 2*len(placed); i++ {
		var msg *nats.Msg
		select {
		case msg = <-captured:
		case <-time.After(waitTimeout):
			require.FailNow(t, "the events of the orders were not published on their subjects", "got %d of %d", i, 2*len(placed))
		}
		again := &nats.Msg{Subject: msg.Subject, Data: msg.Data, Header: nats.Header{}}
		for k, v := range msg.Header {
			again.Header[k] = v
		}
		again.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("again-%d-%d", time.Now().UnixNano(), i))
		_, err := js.PublishMsg(t.Context(), again)
		require.NoError(t, err, "publish an event again")
	}
	last := placeOrder(t, gw, user.ID, product.ID, 1)
	placed = append(placed, last.ID)
	eventually(t, waitTimeout, func() bool {
		return slices.ContainsFunc(notifications(t, gw, user.Email), func(n testNotification) bool { return n.OrderID == last.ID }) &&
			stock(t, gw, product.ID).Reserved >= 7
	}, "the last order's reservation and notification")

	item := stock(t, gw, product.ID)
	assert.Equal(t, testItem{ProductID: product.ID, Available: 93, Reserved: 7}, item, "each order's items reserved exactly once")
	var notified []string
	for _, n := range notifications(t, gw, user.Email) {
		notified = append(notified, n.OrderID)
	}
	slices.Sort(notified)
	slices.Sort(placed)
	assert.Equal(t, placed, notified, "exactly one notification per order")
}

func TestHealthChecks(t *testing.T) {
	dir := t.TempDir()
	ns := runNATS(t, -1, dir)
	natsPort := ns.Addr().(*net.TCPAddr).Port
	sys := startSystem(t, Config{NATSURL: ns.ClientURL()})
	gw := sys.GatewayURL()
	usesNATS := func(service string) bool {
		return service == OrderService || service == PaymentService || service == InventoryService || service == NotificationService
	}
	readyAll := func() bool {
		for _, in := range sys.Instances() {
			if status(in.URL+"/ready") != http.StatusOK {
				return false
			}
		}
		return status(gw+"/ready") == http.StatusOK
	}
	eventually(t, waitTimeout, readyAll, "every instance and the gateway to be ready")

	ns.Shutdown()
	ns.WaitForShutdown()
	eventually(t, waitTimeout, func() bool {
		for _, in := range sys.Instances() {
			if usesNATS(in.Service) && status(in.URL+"/ready") != http.StatusServiceUnavailable {
				return false
			}
		}
		return status(gw+"/ready") == http.StatusServiceUnavailable
	}, "with NATS down, /ready of every order, payment, inventory and notification instance, and the gateway's, to answer 503")
	for _, in := range sys.Instances() {
		assert.Equal(t, http.StatusOK, status(in.URL+"/health"), "%s's /health (liveness) with NATS down", in.ID)
		if !usesNATS(in.Service) {
			assert.Equal(t, http.StatusOK, status(in.URL+"/ready"), "%s does not use NATS: still ready", in.ID)
		}
	}

	runNATS(t, natsPort, dir)
	eventually(t, waitTimeout, readyAll, "every instance and the gateway to be ready again once NATS is back")
	user, product := newUser(t, gw), newProduct(t, gw, 10)
	o := placeOrder(t, gw, user.ID, product.ID, 1)
	eventually(t, waitTimeout, func() bool {
		return len(notifications(t, gw, user.Email)) == 1 && stock(t, gw, product.ID).Reserved == 1
	}, "order %s's events to flow again after NATS came back", o.ID)
}

// --- helpers of the criteria tests ---

// orderInTrace places an order inside a span of the test's own, and returns the trace's id (hex)
// and that span's id.
func orderInTrace(t *testing.T, gw, userID, productID string) (string, trace.SpanID) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "test client")
	defer span.End()
	header := http.Header{}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(header))
	resp, err := send(http.MethodPost, gw+"/api/orders", map[string]any{"user_id": userID, "product_id": productID, "quantity": 1}, header)
	require.NoError(t, err, "POST /api/orders")
	require.Equal(t, http.StatusCreated, resp.Status, "POST /api/orders: %s", resp.Body)
	return span.SpanContext().TraceID().String(), span.SpanContext().SpanID()
}

// traceSpans returns the exported spans of the trace with the hex id.
func traceSpans(exporter *tracetest.InMemoryExporter, traceID string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range exporter.GetSpans().Snapshots() {
		if s.SpanContext().TraceID().String() == traceID {
			out = append(out, s)
		}
	}
	return out
}

// serviceOf returns the service.name of a span's resource.
func serviceOf(s sdktrace.ReadOnlySpan) string {
	for _, kv := range s.Resource().Attributes() {
		if kv.Key == "service.name" {
			return kv.Value.AsString()
		}
	}
	return ""
}

// spansOf returns the spans of service of the given kind.
func spansOf(spans []sdktrace.ReadOnlySpan, service string, kind trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if serviceOf(s) == service && s.SpanKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

// hasConsumer reports whether spans hold a consumer span of service.
func hasConsumer(spans []sdktrace.ReadOnlySpan, service string) bool {
	return len(spansOf(spans, service, trace.SpanKindConsumer)) > 0
}

// missingServices returns those of want that made none of spans.
func missingServices(spans []sdktrace.ReadOnlySpan, want []string) []string {
	var missing []string
	for _, s := range want {
		if !slices.ContainsFunc(spans, func(sp sdktrace.ReadOnlySpan) bool { return serviceOf(sp) == s }) {
			missing = append(missing, s)
		}
	}
	return missing
}

// detached describes the spans whose parent is not among spans, but for the gateway's server
// span, whose parent is the caller's span root.
func detached(spans []sdktrace.ReadOnlySpan, root trace.SpanID) []string {
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var out []string
	for _, s := range spans {
		parent := s.Parent().SpanID()
		if ids[parent] || parent == root && serviceOf(s) == GatewayService && s.SpanKind() == trace.SpanKindServer {
			continue
		}
		out = append(out, fmt.Sprintf("%q of %s (parent %s)", s.Name(), serviceOf(s), parent))
	}
	return out
}

// hasAncestor reports whether a span of service is among s's ancestors.
func hasAncestor(s sdktrace.ReadOnlySpan, byID map[trace.SpanID]sdktrace.ReadOnlySpan, service string) bool {
	for range len(byID) {
		parent, ok := byID[s.Parent().SpanID()]
		if !ok {
			return false
		}
		if serviceOf(parent) == service {
			return true
		}
		s = parent
	}
	return false
}

// missingLogs returns those of services that logged no JSON line with the trace id.
func missingLogs(logs, traceID string, services []string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["trace_id"] == traceID {
			if s, ok := rec["service"].(string); ok {
				seen[s] = true
			}
		}
	}
	var missing []string
	for _, s := range services {
		if !seen[s] {
			missing = append(missing, s)
		}
	}
	return missing
}

// lazy prints f's value when a failure message is made.
type lazy func() any

func (l lazy) String() string { return fmt.Sprint(l()) }

// promQuery runs an instant query on Prometheus and returns its single value, or -1.
func promQuery(base, query string) float64 {
	var got struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if getJSON(base+"/api/v1/query?query="+url.QueryEscape(query), &got) != http.StatusOK || len(got.Data.Result) != 1 || len(got.Data.Result[0].Value) != 2 {
		return -1
	}
	var v float64
	if s, ok := got.Data.Result[0].Value[1].(string); !ok || func() error { _, err := fmt.Sscan(s, &v); return err }() != nil {
		return -1
	}
	return v
}

// TestCompleteECommerceFlow is the seed's integration test, kept as it was but for two fixes
// that valid Go needs: createTestOrder returns the order and an error at both of its calls (the
// seed uses it with one result and with two), and the circuit-breaker subtest orders as the user
// and product that the first subtest created (the seed used "user1" and "product1", which it
// never created). The gateway places an order and pays it at once; processTestPayment asks the
// payment service to pay it again, and gets the same payment back.
func TestCompleteECommerceFlow(t *testing.T) {
	// Setup test environment
	testEnv := setupTestEnvironment(t)
	defer testEnv.Cleanup()

	var user testUser
	var product testProduct

	// Test complete user journey
	t.Run("Complete Order Flow", func(t *testing.T) {
		// 1. Create user
		user = createTestUser(t, testEnv.Gateway)

		// 2. Add products
		product = createTestProduct(t, testEnv.Gateway)

		// 3. Create order
		order, err := createTestOrder(t, testEnv.Gateway, user.ID, product.ID)
		require.NoError(t, err)

		// 4. Process payment
		payment := processTestPayment(t, testEnv.Gateway, order.ID)
		assert.Equal(t, order.PaymentID, payment.ID, "the order's payment")

		// 5. Verify notifications sent
		verifyNotificationsSent(t, testEnv.NotificationService, user.Email)

		// 6. Verify inventory updated
		verifyInventoryUpdated(t, testEnv.InventoryService, product.ID)
	})

	// Test resilience patterns
	t.Run("Circuit Breaker Activation", func(t *testing.T) {
		// Simulate service failure
		testEnv.PaymentService.Shutdown()

		// Verify circuit breaker opens
		for i := 0; i < 10; i++ {
			_, err := createTestOrder(t, testEnv.Gateway, user.ID, product.ID)
			assert.Error(t, err)
		}

		// Verify circuit breaker prevents calls
		metrics := testEnv.Metrics.GetCircuitBreakerMetrics()
		assert.True(t, metrics.PaymentServiceOpen)
	})
}

// testEnvironment is the system the seed's integration test runs against.
type testEnvironment struct {
	sys                 *System
	Gateway             string
	NotificationService *serviceAPI
	InventoryService    *serviceAPI
	PaymentService      *serviceHandle
	Metrics             *systemMetrics
	t                   *testing.T
}

// serviceAPI reaches a service's API through the gateway.
type serviceAPI struct{ gateway string }

// serviceHandle stops every instance of a service.
type serviceHandle struct {
	sys     *System
	service string
	t       *testing.T
}

// Shutdown stops every instance of the service.
func (h *serviceHandle) Shutdown() {
	for _, in := range byService(h.sys)[h.service] {
		require.NoError(h.t, h.sys.StopInstance(context.Background(), in.ID), "StopInstance(%s)", in.ID)
	}
}

// systemMetrics reads the metrics of the order instances.
type systemMetrics struct{ sys *System }

// circuitBreakerMetrics is what the seed's test asks of the breakers.
type circuitBreakerMetrics struct{ PaymentServiceOpen bool }

// GetCircuitBreakerMetrics reports whether an order instance's breaker to the payment service
// is open (circuit_breaker_state{name="payment"} 1).
func (m *systemMetrics) GetCircuitBreakerMetrics() circuitBreakerMetrics {
	var out circuitBreakerMetrics
	for _, in := range byService(m.sys)[OrderService] {
		resp, err := send(http.MethodGet, in.URL+"/metrics", nil, nil)
		if err != nil {
			continue
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(resp.Body)))
		if err != nil {
			continue
		}
		if v, _ := sample(families, "circuit_breaker_state", map[string]string{"name": PaymentService}); v == 1 {
			out.PaymentServiceOpen = true
		}
	}
	return out
}

func setupTestEnvironment(t *testing.T) *testEnvironment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sys, err := Start(ctx, testConfig(Config{}, nil))
	require.NoError(t, err, "Start")
	require.NotNil(t, sys, "Start must return the System")
	gw := sys.GatewayURL()
	eventually(t, waitTimeout, func() bool { return status(gw+"/ready") == http.StatusOK }, "the gateway to be ready")
	return &testEnvironment{
		sys: sys, Gateway: gw, t: t,
		NotificationService: &serviceAPI{gateway: gw},
		InventoryService:    &serviceAPI{gateway: gw},
		PaymentService:      &serviceHandle{sys: sys, service: PaymentService, t: t},
		Metrics:             &systemMetrics{sys: sys},
	}
}

// Cleanup shuts the system down.
func (e *testEnvironment) Cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	assert.NoError(e.t, e.sys.Shutdown(ctx), "Shutdown")
}

// testStock is the stock createTestProduct gives a product.
const testStock = 10

func createTestUser(t *testing.T, gateway string) testUser { return newUser(t, gateway) }

func createTestProduct(t *testing.T, gateway string) testProduct {
	return newProduct(t, gateway, testStock)
}

// createTestOrder orders one item; the error says why the order was not created.
func createTestOrder(t *testing.T, gateway, userID, productID string) (testOrder, error) {
	t.Helper()
	resp := order(t, gateway, userID, productID, 1)
	if resp.Status != http.StatusCreated {
		return testOrder{}, fmt.Errorf("POST /api/orders: %d %s", resp.Status, resp.Body)
	}
	o := decode[testOrder](t, resp)
	if o.Status != "paid" || o.PaymentID == "" {
		return o, fmt.Errorf("the created order must be paid: %+v", o)
	}
	return o, nil
}

// processTestPayment pays the order through the gateway: it is paid already, so the payment
// service answers 200 with the order's payment, and the order stays charged once.
func processTestPayment(t *testing.T, gateway, orderID string) testPayment {
	t.Helper()
	resp := mustSend(t, http.MethodGet, gateway+"/api/orders/"+orderID, nil)
	require.Equal(t, http.StatusOK, resp.Status, "GET /api/orders/%s: %s", orderID, resp.Body)
	o := decode[testOrder](t, resp)
	resp = mustSend(t, http.MethodPost, gateway+"/api/payments", map[string]any{"order_id": orderID, "user_id": o.UserID, "amount_cents": o.AmountCents})
	require.Equal(t, http.StatusOK, resp.Status, "POST /api/payments for a paid order returns its payment: %s", resp.Body)
	p := decode[testPayment](t, resp)
	assert.Equal(t, orderID, p.OrderID, "the payment's order")
	assert.Equal(t, o.AmountCents, p.AmountCents, "the payment's amount")
	assert.Equal(t, "processed", p.Status, "the payment's status")
	resp = mustSend(t, http.MethodGet, gateway+"/api/payments?order_id="+orderID, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	assert.Len(t, decode[[]testPayment](t, resp), 1, "one payment for the order, however often it is paid")
	return p
}

func verifyNotificationsSent(t *testing.T, notification *serviceAPI, email string) {
	t.Helper()
	eventually(t, waitTimeout, func() bool { return len(notifications(t, notification.gateway, email)) == 1 }, "one notification to %s", email)
}

func verifyInventoryUpdated(t *testing.T, inventory *serviceAPI, productID string) {
	t.Helper()
	eventually(t, waitTimeout, func() bool {
		return stock(t, inventory.gateway, productID) == testItem{ProductID: productID, Available: testStock - 1, Reserved: 1}
	}, "product %s's stock to show the order's item reserved", productID)
}
