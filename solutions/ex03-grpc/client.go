package grpcsvc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/microservices-workbook/workbook/solutions/ex03-grpc/userpb"
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

// roundRobin is the default service config: spread calls over every address the resolver
// gives, rather than gRPC's default pick_first, which sends them all to one.
const roundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// UserGRPCClient calls the user service over one long-lived *grpc.ClientConn, which is safe for
// concurrent use: HTTP/2 carries many calls at once on each connection, and with several
// server addresses the round_robin balancer keeps one connection to each. Create one client per
// service and share it; Close it when done.
type UserGRPCClient struct {
	conn    *grpc.ClientConn
	client  userpb.UserServiceClient
	timeout time.Duration
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
	dialOptions := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(cfg.keepalive),
		grpc.WithDefaultServiceConfig(roundRobin),
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(cfg.logger, cfg.metrics)),
	}, cfg.dialOptions...)
	conn, err := grpc.NewClient(address, dialOptions...)
	if err != nil {
		return nil, fmt.Errorf("user service client for %q: %w", address, err)
	}
	return &UserGRPCClient{conn: conn, client: userpb.NewUserServiceClient(conn), timeout: cfg.timeout}, nil
}

// GetUser returns the user with the given id. The error wraps ErrNotFound when there is none.
func (c *UserGRPCClient) GetUser(ctx context.Context, userID string) (*User, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	resp, err := c.client.GetUser(ctx, &userpb.GetUserRequest{UserId: userID})
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", userID, fromStatus(err))
	}
	u := fromProto(resp.GetUser())
	return &u, nil
}

// CreateUser creates user and returns it as stored. The error wraps ErrInvalidInput or
// ErrAlreadyExists when the service refused it.
func (c *UserGRPCClient) CreateUser(ctx context.Context, user User) (*User, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	resp, err := c.client.CreateUser(ctx, &userpb.CreateUserRequest{User: toProto(&user)})
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", user.ID, fromStatus(err))
	}
	u := fromProto(resp.GetUser())
	return &u, nil
}

// UpdateUser replaces the user with user.ID by user and returns it as stored. The error wraps
// ErrNotFound or ErrInvalidInput when the service refused it.
func (c *UserGRPCClient) UpdateUser(ctx context.Context, user User) (*User, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	resp, err := c.client.UpdateUser(ctx, &userpb.UpdateUserRequest{User: toProto(&user)})
	if err != nil {
		return nil, fmt.Errorf("update user %q: %w", user.ID, fromStatus(err))
	}
	u := fromProto(resp.GetUser())
	return &u, nil
}

// DeleteUser deletes the user with the given id. The error wraps ErrNotFound when there is none.
func (c *UserGRPCClient) DeleteUser(ctx context.Context, userID string) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if _, err := c.client.DeleteUser(ctx, &userpb.DeleteUserRequest{UserId: userID}); err != nil {
		return fmt.Errorf("delete user %q: %w", userID, fromStatus(err))
	}
	return nil
}

// Close closes the connection. Calls in flight fail with Canceled; later calls fail too.
func (c *UserGRPCClient) Close() error {
	return c.conn.Close()
}

// bound gives ctx the client's default timeout when it has no deadline of its own. gRPC sends
// the deadline to the server (the grpc-timeout header), so the server stops working on a call
// that its caller has given up on.
func (c *UserGRPCClient) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// fromStatus maps a status code back to the domain's errors, keeping the status in the chain
// (status.Code still works on the result). Codes with no domain meaning stay as they are.
func fromStatus(err error) error {
	var sentinel error
	switch status.Code(err) {
	case codes.InvalidArgument:
		sentinel = ErrInvalidInput
	case codes.NotFound:
		sentinel = ErrNotFound
	case codes.AlreadyExists:
		sentinel = ErrAlreadyExists
	case codes.Unavailable:
		sentinel = ErrUnavailable
	case codes.DeadlineExceeded:
		sentinel = context.DeadlineExceeded
	case codes.Canceled:
		sentinel = context.Canceled
	default:
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
