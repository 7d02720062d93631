// Command tracing-demo runs the system of exercise 08 in one process and sends it a few
// requests, so that their traces show up in Jaeger:
//
//	jaeger &                                # all-in-one: OTLP on :4318, UI on http://localhost:16686
//	go run ./solutions/ex08-tracing/cmd/tracing-demo
//
// Each service sets up its own tracing, with its own service.name, as separate processes
// would: frontend (the caller), api, users (the gRPC directory) and audit (the NATS consumer).
// The spans go to the OTLP endpoint of the environment (OTEL_EXPORTER_OTLP_ENDPOINT), by
// default http://localhost:4318.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	tracing "github.com/microservices-workbook/workbook/solutions/ex08-tracing"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tracing-demo:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(tracing.NewLogHandler(slog.NewTextHandler(os.Stderr, nil)))

	tel := map[string]tracing.Telemetry{}
	for _, name := range []string{"frontend", "api", "users", "audit"} {
		t, shutdown, err := tracing.Setup(ctx, tracing.Config{ServiceName: name, ServiceVersion: "demo"})
		if err != nil {
			return fmt.Errorf("tracing of %s: %w", name, err)
		}
		tel[name] = t
		// Deferred first, so run last: after the services have stopped, flush their spans.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = errors.Join(err, shutdown(ctx))
		}()
	}

	// NATS, embedded, and the audit service that consumes users.viewed.
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return fmt.Errorf("NATS server: %w", err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(5 * time.Second) {
		return errors.New("NATS server not ready")
	}
	closed := make(chan struct{})
	nc, err := nats.Connect(ns.ClientURL(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	if _, err := tracing.Subscribe(nc, tracing.UserViewedSubject, tel["audit"], func(ctx context.Context, msg *nats.Msg) {
		logger.InfoContext(ctx, "audit: user viewed", slog.String("user", string(msg.Data)))
	}); err != nil {
		return err
	}

	// The user directory over gRPC.
	directory := tracing.NewUserService(
		tracing.User{ID: "42", Name: "Ada Lovelace", Email: "ada@example.com", PasswordHash: "never-shown"},
		tracing.User{ID: "43", Name: "Grace Hopper", Email: "grace@example.com", PasswordHash: "never-shown"},
	)
	users := tracing.NewTracedUserService(directory, tel["users"].TracerProvider.Tracer("users"))
	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	grpcSrv := tracing.NewGRPCServer(users, tel["users"], logger)
	go func() { _ = grpcSrv.Serve(grpcLis) }()
	defer grpcSrv.GracefulStop()

	// The API over HTTP, a client of the directory.
	client, err := tracing.DialUserDirectory(grpcLis.Addr().String(), tel["api"])
	if err != nil {
		return err
	}
	defer client.Close()
	apiLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	api := &http.Server{
		Handler:           tracing.TracingMiddleware(tel["api"].TracerProvider.Tracer("api"))(tracing.NewAPIHandler(client, tracing.NewEventPublisher(nc, tel["api"]), logger)),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = api.Serve(apiLis) }()
	defer func() { _ = api.Shutdown(context.Background()) }()

	// The frontend asks for two users who exist and one who does not.
	frontend := tracing.NewHTTPClient(tel["frontend"])
	tracer := tel["frontend"].TracerProvider.Tracer("frontend")
	for _, id := range []string{"42", "43", "7"} {
		if err := fetchUser(ctx, frontend, tracer, "http://"+apiLis.Addr().String()+"/users/"+id, logger); err != nil {
			return err
		}
	}
	// Let the audit service handle what was published: Drain closes the connection once the
	// messages received have been handled.
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("drain NATS: %w", err)
	}
	<-closed
	logger.InfoContext(ctx, "done: open http://localhost:16686 and pick the service frontend")
	return nil
}

// fetchUser GETs url with client, inside a span of the frontend's own, and logs the answer.
func fetchUser(ctx context.Context, client *http.Client, tracer trace.Tracer, url string, logger *slog.Logger) error {
	ctx, span := tracer.Start(ctx, "show user page")
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	logger.InfoContext(ctx, "frontend got", slog.String("url", url), slog.Int("status", resp.StatusCode), slog.String("body", string(body)))
	return nil
}
