package system

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The shutdown test runs the whole system in a child process (this test binary, running
// TestShopHelperProcess, which does what cmd/shop does), holds requests in flight, sends the
// child SIGTERM, and checks that every request it had accepted completes and that nothing is
// lost.

const (
	shopChildEnv    = "EX10_SHOP_CHILD"
	shopDataEnv     = "EX10_SHOP_DATA"
	shopOTLPEnv     = "EX10_SHOP_OTLP"
	shopGatewayLine = "EX10_GATEWAY="
	// shopShutdownTimeout is the child's Config.ShutdownTimeout.
	shopShutdownTimeout = 15 * time.Second
)

// TestShopHelperProcess is the child process of TestGracefulShutdown: like cmd/shop, it runs
// the system with Run until SIGTERM, with its JetStream store and OTLP endpoint from the
// environment. It does nothing unless started by TestGracefulShutdown.
func TestShopHelperProcess(t *testing.T) {
	if os.Getenv(shopChildEnv) == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := Config{
		DataDir:           os.Getenv(shopDataEnv),
		TraceEndpoint:     os.Getenv(shopOTLPEnv),
		TraceBatchTimeout: time.Hour, // the spans leave only when shutdown flushes them
		ShutdownTimeout:   shopShutdownTimeout,
		Logger:            slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	err := Run(ctx, cfg, func(s *System) { fmt.Printf("\n%s%s\n", shopGatewayLine, s.GatewayURL()) })
	require.NoError(t, err, "Run must return nil after a graceful shutdown")
}

// heldOrder is an order request whose body the test holds back: the gateway has accepted it and
// is reading the body when continued is closed.
type heldOrder struct {
	body      *io.PipeWriter
	continued chan struct{}
	traceID   string
	done      chan heldResult
}

type heldResult struct {
	status int
	body   []byte
	err    error
}

// holdOrder sends POST /api/orders with "Expect: 100-continue" and a body the test writes later.
func holdOrder(gateway string, tp *sdktrace.TracerProvider) *heldOrder {
	pr, pw := io.Pipe()
	h := &heldOrder{body: pw, continued: make(chan struct{}), done: make(chan heldResult, 1)}
	ctx, span := tp.Tracer("test").Start(context.Background(), "held order")
	defer span.End()
	h.traceID = span.SpanContext().TraceID().String()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got100Continue: func() { close(h.continued) }})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/api/orders", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: time.Minute}}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			h.done <- heldResult{err: err}
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		h.done <- heldResult{status: resp.StatusCode, body: data, err: err}
	}()
	return h
}

func TestGracefulShutdown(t *testing.T) {
	dataDir, otlp := t.TempDir(), newOTLPReceiver(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestShopHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), shopChildEnv+"=1", shopDataEnv+"="+dataDir, shopOTLPEnv+"="+otlp.URL)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start(), "start the child process")
	var exitErr error
	exited := make(chan struct{}) // closed once the child has exited, with its error in exitErr
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	out := &syncBuffer{}
	gatewayURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = fmt.Fprintln(out, sc.Text())
			if url, ok := strings.CutPrefix(sc.Text(), shopGatewayLine); ok {
				gatewayURL <- url
			}
		}
	}()
	var gw string
	select {
	case gw = <-gatewayURL:
	case <-exited:
		require.FailNowf(t, "the child exited", "before it served: %v\n%s\n%s", exitErr, out.String(), stderr.String())
	case <-time.After(waitTimeout):
		require.FailNowf(t, "the child did not start", "no gateway within %v\n%s\n%s", waitTimeout, out.String(), stderr.String())
	}
	eventually(t, waitTimeout, func() bool { return status(gw+"/ready") == http.StatusOK }, "the child's gateway to be ready")
	user, product := newUser(t, gw), newProduct(t, gw, 100)

	// Orders in flight: the gateway has accepted each and waits for its body.
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	const inFlight = 6
	held := make([]*heldOrder, inFlight)
	for i := range held {
		held[i] = holdOrder(gw, tp)
	}
	for i, h := range held {
		select {
		case <-h.continued:
		case r := <-h.done:
			require.FailNowf(t, "an order ended early", "order %d: status %d, error %v: %s", i, r.status, r.err, r.body)
		case <-time.After(waitTimeout):
			require.FailNowf(t, "an order was not accepted", "order %d got no 100 Continue within %v", i, waitTimeout)
		}
	}

	sent := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM), "SIGTERM to the child")
	u := strings.TrimPrefix(gw, "http://")
	eventually(t, waitTimeout, func() bool {
		c, err := net.DialTimeout("tcp", u, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, "the gateway to stop taking new connections after SIGTERM")

	body := fmt.Sprintf(`{"user_id":%q,"product_id":%q,"quantity":1}`, user.ID, product.ID)
	for _, h := range held {
		_, err := io.WriteString(h.body, body)
		require.NoError(t, err, "write a held order's body")
		require.NoError(t, h.body.Close())
	}
	var orders []testOrder
	for i, h := range held {
		var r heldResult
		select {
		case r = <-h.done:
		case <-time.After(waitTimeout):
			require.FailNowf(t, "no answer", "order %d accepted before SIGTERM got no answer within %v", i, waitTimeout)
		}
		require.NoError(t, r.err, "order %d, accepted before SIGTERM, must get its answer", i)
		require.Equal(t, http.StatusCreated, r.status, "order %d, accepted before SIGTERM, must complete: %s", i, r.body)
		var o testOrder
		require.NoError(t, json.Unmarshal(r.body, &o))
		orders = append(orders, o)
	}

	select {
	case <-exited:
		require.NoError(t, exitErr, "the child must exit 0 after SIGTERM\n%s\n%s", out.String(), stderr.String())
	case <-time.After(shopShutdownTimeout + 10*time.Second):
		require.FailNowf(t, "the child did not exit", "within %v of SIGTERM\n%s", shopShutdownTimeout+10*time.Second, stderr.String())
	}
	assert.Less(t, time.Since(sent), shopShutdownTimeout+5*time.Second, "the shutdown's time")

	// Nothing lost: the spans of every held order were flushed, and its events are stored.
	for _, h := range held {
		for _, s := range []string{GatewayService, OrderService, PaymentService} {
			assert.Contains(t, otlp.services(h.traceID), s, "the spans of an order in flight at SIGTERM, flushed on shutdown")
		}
	}
	ns := runNATS(t, -1, dataDir)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	for _, subject := range []string{SubjectOrderCreated, SubjectPaymentProcessed} {
		stored := storedEvents(t, nc, subject)
		for _, o := range orders {
			assert.True(t, strings.Contains(stored, o.ID), "the %s event of order %s, completed during the shutdown, must be stored", subject, o.ID)
		}
	}
}

// storedEvents returns the data of every message stored on subject, one after the other.
func storedEvents(t *testing.T, nc *nats.Conn, subject string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.StreamNameBySubject(ctx, subject)
	require.NoError(t, err, "a JetStream stream that stores %s, in the child's store", subject)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(t, err)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	var b strings.Builder
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(waitTimeout))
		require.NoError(t, err, "read the events on %s", subject)
		b.Write(msg.Data())
		b.WriteByte('\n')
	}
	return b.String()
}
