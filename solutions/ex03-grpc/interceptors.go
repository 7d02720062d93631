package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// latencyBuckets are the bounds, in seconds, of the latency histograms: from half a millisecond,
// since calls inside a data center are often that fast, to ten seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics records gRPC calls in Prometheus. method is the full method name, such as
// "/workbook.ex03.user.UserService/GetUser"; code is the status code's name, such as "OK" or
// "NotFound". A nil *Metrics records nothing.
//
// The series are:
//
//	grpc_server_handled_total{method, code}    calls handled by the server
//	grpc_server_handling_seconds{method}       how long the server took
//	grpc_client_handled_total{method, code}    calls made by the client
//	grpc_client_handling_seconds{method}       how long they took, as the client saw it
type Metrics struct {
	serverHandled *prometheus.CounterVec
	serverSeconds *prometheus.HistogramVec
	clientHandled *prometheus.CounterVec
	clientSeconds *prometheus.HistogramVec
}

// NewMetrics creates the gRPC metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("grpc metrics: nil registerer")
	}
	m := &Metrics{
		serverHandled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "gRPC calls handled by the server, by method and status code.",
		}, []string{"method", "code"}),
		serverSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Time the server took to handle a gRPC call, by method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		clientHandled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_client_handled_total",
			Help: "gRPC calls made by the client, by method and status code.",
		}, []string{"method", "code"}),
		clientSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_client_handling_seconds",
			Help:    "Time a gRPC call took as the client saw it, by method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
	}
	for _, c := range []prometheus.Collector{m.serverHandled, m.serverSeconds, m.clientHandled, m.clientSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("grpc metrics: %w", err)
		}
	}
	return m, nil
}

// UnaryServerInterceptor logs each call the server handles (method, code, duration) to logger
// and records it in metrics. A nil logger logs nothing; nil metrics record nothing.
func UnaryServerInterceptor(logger *slog.Logger, metrics *Metrics) grpc.UnaryServerInterceptor {
	logger = orDiscard(logger)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		// A handler's plain error reaches the client as Unknown: status.Code says the same.
		code, elapsed := status.Code(err), time.Since(start)
		if metrics != nil {
			metrics.serverHandled.WithLabelValues(info.FullMethod, code.String()).Inc()
			metrics.serverSeconds.WithLabelValues(info.FullMethod).Observe(elapsed.Seconds())
		}
		logCall(ctx, logger, "grpc server call", info.FullMethod, code, elapsed)
		return resp, err
	}
}

// UnaryClientInterceptor logs each call the client makes (method, code, duration) to logger and
// records it in metrics. A nil logger logs nothing; nil metrics record nothing.
func UnaryClientInterceptor(logger *slog.Logger, metrics *Metrics) grpc.UnaryClientInterceptor {
	logger = orDiscard(logger)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		code, elapsed := status.Code(err), time.Since(start)
		if metrics != nil {
			metrics.clientHandled.WithLabelValues(method, code.String()).Inc()
			metrics.clientSeconds.WithLabelValues(method).Observe(elapsed.Seconds())
		}
		logCall(ctx, logger, "grpc client call", method, code, elapsed)
		return err
	}
}

// logCall writes one record per call: Info when it succeeded, Warn when the caller got
// something wrong, Error when the server or the network failed.
func logCall(ctx context.Context, logger *slog.Logger, msg, method string, code codes.Code, elapsed time.Duration) {
	level := slog.LevelWarn
	switch code {
	case codes.OK:
		level = slog.LevelInfo
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unavailable, codes.DeadlineExceeded, codes.Unimplemented:
		level = slog.LevelError
	}
	logger.LogAttrs(ctx, level, msg,
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", elapsed))
}

// orDiscard returns logger, or a logger that drops everything when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
