package grpcsvc

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// DefaultKeepalive is the keepalive of a UserGRPCClient unless WithKeepalive says otherwise: a
// ping after 30 s without activity, answered within 10 s, even with no call in flight, so that
// a dead connection is noticed before a call needs it. The server must accept pings that often
// (NewServer does).
var DefaultKeepalive = keepalive.ClientParameters{
	Time:                30 * time.Second,
	Timeout:             10 * time.Second,
	PermitWithoutStream: true,
}

// DefaultTimeout bounds a call whose context has no deadline, unless WithTimeout says
// otherwise.
const DefaultTimeout = 5 * time.Second

// UserGRPCClient calls the user service over one long-lived *grpc.ClientConn, which is safe for
// concurrent use: HTTP/2 carries many calls at once on each connection, and with several
// server addresses the round_robin balancer keeps one connection to each. Create one client per
// service and share it; Close it when done.
type UserGRPCClient struct {
	// TODO(ex03.client-pooling): the *grpc.ClientConn, the generated userpb.UserServiceClient
	// made from it, and the default timeout.
}

// clientConfig is what the Options set.
type clientConfig struct {
	keepalive   keepalive.ClientParameters
	timeout     time.Duration
	logger      *slog.Logger
	metrics     *Metrics
	dialOptions []grpc.DialOption
}

// Option configures a UserGRPCClient.
type Option func(*clientConfig)

// WithKeepalive replaces DefaultKeepalive.
func WithKeepalive(p keepalive.ClientParameters) Option {
	return func(c *clientConfig) { c.keepalive = p }
}

// WithTimeout bounds the calls whose context has no deadline. Default DefaultTimeout; zero or
// less leaves such calls unbounded.
func WithTimeout(d time.Duration) Option {
	return func(c *clientConfig) { c.timeout = d }
}

// WithLogger logs every call: method, status code and duration. Default: no logs.
func WithLogger(l *slog.Logger) Option {
	return func(c *clientConfig) { c.logger = l }
}

// WithMetrics records every call in m's client series. Default: no metrics.
func WithMetrics(m *Metrics) Option {
	return func(c *clientConfig) { c.metrics = m }
}

// WithDialOptions adds options to those of the client's connection, after its own: transport
// credentials for TLS (the default is plaintext, for a trusted network), a dialer (tests use
// bufconn's), a resolver.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *clientConfig) { c.dialOptions = append(c.dialOptions, opts...) }
}

// NewUserGRPCClient returns a client of the user service at address, a gRPC target such as
// "localhost:50051" or "dns:///users.internal:50051". It does not connect: the connection is
// made on the first call, and made again when it breaks.
func NewUserGRPCClient(address string, opts ...Option) (*UserGRPCClient, error) {
	cfg := clientConfig{keepalive: DefaultKeepalive, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&cfg)
	}
	// TODO(ex03.client-pooling): create one connection with grpc.NewClient(address, …) and keep
	// it for every call. Its dial options, before cfg.dialOptions (so that the caller's win):
	// plaintext transport credentials (insecure.NewCredentials),
	// grpc.WithKeepaliveParams(cfg.keepalive), and a default service config that picks the
	// round_robin balancer.
	// TODO(ex03.interceptors): and UnaryClientInterceptor(cfg.logger, cfg.metrics).
	return &UserGRPCClient{}, nil
}

// GetUser returns the user with the given id. The error wraps ErrNotFound when there is none.
func (c *UserGRPCClient) GetUser(ctx context.Context, userID string) (*User, error) {
	// TODO(ex03.client-pooling): call the service over the client's one connection, and decode
	// every field of the user (fromProto).
	// TODO(ex03.status-codes): call with ctx, given the client's timeout (WithTimeout, default
	// DefaultTimeout) when it has no deadline: gRPC sends the deadline to the server. Map the
	// status code of an error back to the domain's errors: InvalidArgument to ErrInvalidInput,
	// NotFound to ErrNotFound, AlreadyExists to ErrAlreadyExists, Unavailable to ErrUnavailable,
	// DeadlineExceeded to context.DeadlineExceeded, Canceled to context.Canceled. Wrap with %w
	// both the sentinel and the status error, so that status.Code(err) still works.
	return nil, ErrNotImplemented
}

// CreateUser creates user and returns it as stored. The error wraps ErrInvalidInput or
// ErrAlreadyExists when the service refused it.
func (c *UserGRPCClient) CreateUser(ctx context.Context, user User) (*User, error) {
	// TODO(ex03.client-pooling, ex03.status-codes): as GetUser, once the .proto gives
	// CreateUserRequest its user: send every field, return the user the server answered.
	return nil, ErrNotImplemented
}

// UpdateUser replaces the user with user.ID by user and returns it as stored. The error wraps
// ErrNotFound or ErrInvalidInput when the service refused it.
func (c *UserGRPCClient) UpdateUser(ctx context.Context, user User) (*User, error) {
	// TODO(ex03.client-pooling, ex03.status-codes): as CreateUser.
	return nil, ErrNotImplemented
}

// DeleteUser deletes the user with the given id. The error wraps ErrNotFound when there is none.
func (c *UserGRPCClient) DeleteUser(ctx context.Context, userID string) error {
	// TODO(ex03.client-pooling, ex03.status-codes): as GetUser.
	return ErrNotImplemented
}

// Close closes the connection. Calls in flight fail with Canceled; later calls fail too.
func (c *UserGRPCClient) Close() error {
	// TODO(ex03.client-pooling): close the connection.
	return nil
}
