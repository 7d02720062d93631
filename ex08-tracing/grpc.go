package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/microservices-workbook/workbook/ex08-tracing/userspb"
)

// NewGRPCServer returns a gRPC server that serves users as the UserDirectory service. A stats
// handler traces every call with tel: a server span named after the method
// ("workbook.ex08.users.UserDirectory/GetUser") that continues the caller's trace, read from
// the call's metadata. Failures other than the directory's own errors are logged to logger
// (nil logs nothing) and reach the caller as Internal. opts are applied after these options.
func NewGRPCServer(users UserGetter, tel Telemetry, logger *slog.Logger, opts ...grpc.ServerOption) *grpc.Server {
	// TODO(ex08.propagation): put a stats handler in front of opts:
	// grpc.StatsHandler(otelgrpc.NewServerHandler(…)), with tel.tracerProvider() and
	// tel.propagator() (otelgrpc.WithTracerProvider, otelgrpc.WithPropagators).
	s := grpc.NewServer(opts...)
	userspb.RegisterUserDirectoryServer(s, &directoryServer{users: users, logger: orDiscard(logger)})
	return s
}

// directoryServer translates UserDirectory calls to a UserGetter.
type directoryServer struct {
	userspb.UnimplementedUserDirectoryServer
	users  UserGetter
	logger *slog.Logger
}

// GetUser returns the user with req.user_id: NotFound for an unknown id, InvalidArgument for
// an empty one.
func (s *directoryServer) GetUser(ctx context.Context, req *userspb.GetUserRequest) (*userspb.GetUserResponse, error) {
	u, err := s.users.GetUser(ctx, req.GetUserId())
	switch {
	case errors.Is(err, ErrUserNotFound):
		return nil, status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrInvalidUserID):
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case err != nil:
		s.logger.ErrorContext(ctx, "get user failed", slog.Any("error", err))
		return nil, status.Error(codes.Internal, "internal error")
	}
	return &userspb.GetUserResponse{Id: u.ID, Name: u.Name, Email: u.Email}, nil
}

// GRPCUserClient looks users up in a UserDirectory over gRPC. It is a UserGetter, so the API
// can serve users from a remote directory.
type GRPCUserClient struct {
	conn   *grpc.ClientConn
	client userspb.UserDirectoryClient
}

// DialUserDirectory returns a client of the UserDirectory at target (as grpc.NewClient takes
// it), over plaintext unless opts say otherwise; opts are applied after the defaults. A stats
// handler traces every call with tel: a client span, a child of the span in the call's
// context, whose context travels in the call's metadata.
func DialUserDirectory(target string, tel Telemetry, opts ...grpc.DialOption) (*GRPCUserClient, error) {
	// TODO(ex08.propagation): add a stats handler to the defaults:
	// grpc.WithStatsHandler(otelgrpc.NewClientHandler(…)), with tel.tracerProvider() and
	// tel.propagator().
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	conn, err := grpc.NewClient(target, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("user directory client for %s: %w", target, err)
	}
	return &GRPCUserClient{conn: conn, client: userspb.NewUserDirectoryClient(conn)}, nil
}

// GetUser returns the user with the given id, with the directory's errors as the same
// sentinels: ErrUserNotFound, ErrInvalidUserID.
func (c *GRPCUserClient) GetUser(ctx context.Context, userID string) (*User, error) {
	resp, err := c.client.GetUser(ctx, &userspb.GetUserRequest{UserId: userID})
	switch status.Code(err) {
	case codes.OK:
		return &User{ID: resp.GetId(), Name: resp.GetName(), Email: resp.GetEmail()}, nil
	case codes.NotFound:
		return nil, fmt.Errorf("user %q: %w", userID, ErrUserNotFound)
	case codes.InvalidArgument:
		return nil, fmt.Errorf("user %q: %w", userID, ErrInvalidUserID)
	default:
		return nil, fmt.Errorf("get user %q: %w", userID, err)
	}
}

// Close closes the client's connection.
func (c *GRPCUserClient) Close() error {
	return c.conn.Close()
}
