package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/microservices-workbook/workbook/solutions/ex03-grpc/userpb"
)

// UserGRPCServer serves a UserBackend over gRPC: it validates each request, calls the backend,
// and turns the backend's answer into a response or a status code. Register it on a
// *grpc.Server with Register.
type UserGRPCServer struct {
	// Embedding the generated Unimplemented… type keeps the server compiling when the .proto
	// gains an RPC: the new method answers Unimplemented until it is written.
	userpb.UnimplementedUserServiceServer

	service UserBackend
	logger  *slog.Logger
}

// NewUserGRPCServer returns a server for service. It logs the backend's failures to logger
// (nil logs nothing), since the caller is told only that there was an internal error.
func NewUserGRPCServer(service UserBackend, logger *slog.Logger) *UserGRPCServer {
	return &UserGRPCServer{service: service, logger: orDiscard(logger)}
}

// Register registers srv as the UserService of s.
func Register(s grpc.ServiceRegistrar, srv *UserGRPCServer) {
	userpb.RegisterUserServiceServer(s, srv)
}

// keepaliveMinTime is the shortest interval between client pings that NewServer accepts. It
// must not be longer than the clients' keepalive time (DefaultKeepalive.Time), or the server
// closes their connections with "too many pings".
const keepaliveMinTime = 10 * time.Second

// NewServer returns a *grpc.Server with the logging and metrics interceptors (nil logger and
// nil metrics record nothing) and a keepalive policy that lets UserGRPCClient's pings through.
// opts are applied after these.
func NewServer(logger *slog.Logger, metrics *Metrics, opts ...grpc.ServerOption) *grpc.Server {
	base := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(logger, metrics)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             keepaliveMinTime,
			PermitWithoutStream: true,
		}),
	}
	return grpc.NewServer(append(base, opts...)...)
}

// GetUser returns the user with req.user_id.
func (s *UserGRPCServer) GetUser(ctx context.Context, req *userpb.GetUserRequest) (*userpb.GetUserResponse, error) {
	if req.GetUserId() == "" {
		return nil, invalid("user_id is required")
	}
	u, err := s.service.GetUser(ctx, req.GetUserId())
	if err != nil {
		return nil, s.toStatus(ctx, "GetUser", err)
	}
	return &userpb.GetUserResponse{User: toProto(u)}, nil
}

// CreateUser stores req.user as a new user.
func (s *UserGRPCServer) CreateUser(ctx context.Context, req *userpb.CreateUserRequest) (*userpb.CreateUserResponse, error) {
	if err := validateUser(req.GetUser()); err != nil {
		return nil, err
	}
	u, err := s.service.CreateUser(ctx, fromProto(req.GetUser()))
	if err != nil {
		return nil, s.toStatus(ctx, "CreateUser", err)
	}
	return &userpb.CreateUserResponse{User: toProto(u)}, nil
}

// UpdateUser replaces the user with req.user.id by req.user.
func (s *UserGRPCServer) UpdateUser(ctx context.Context, req *userpb.UpdateUserRequest) (*userpb.UpdateUserResponse, error) {
	if err := validateUser(req.GetUser()); err != nil {
		return nil, err
	}
	u, err := s.service.UpdateUser(ctx, fromProto(req.GetUser()))
	if err != nil {
		return nil, s.toStatus(ctx, "UpdateUser", err)
	}
	return &userpb.UpdateUserResponse{User: toProto(u)}, nil
}

// DeleteUser removes the user with req.user_id.
func (s *UserGRPCServer) DeleteUser(ctx context.Context, req *userpb.DeleteUserRequest) (*userpb.DeleteUserResponse, error) {
	if req.GetUserId() == "" {
		return nil, invalid("user_id is required")
	}
	if err := s.service.DeleteUser(ctx, req.GetUserId()); err != nil {
		return nil, s.toStatus(ctx, "DeleteUser", err)
	}
	return &userpb.DeleteUserResponse{}, nil
}

// validateUser checks a user sent to CreateUser or UpdateUser: it needs an id and a plain email
// address.
func validateUser(u *userpb.User) error {
	switch {
	case u == nil:
		return invalid("user is required")
	case u.GetId() == "":
		return invalid("user.id is required")
	case u.GetEmail() == "":
		return invalid("user.email is required")
	}
	// mail.ParseAddress also accepts "Name <a@example.com>"; only the bare address is wanted.
	if addr, err := mail.ParseAddress(u.GetEmail()); err != nil || addr.Address != u.GetEmail() {
		return invalid(fmt.Sprintf("user.email %q is not an email address", u.GetEmail()))
	}
	return nil
}

// invalid returns an InvalidArgument status. Its message is about the caller's own input, so it
// is safe to send back.
func invalid(msg string) error {
	return status.Error(codes.InvalidArgument, msg)
}

// toStatus turns an error of the backend into a status. The domain's errors map to their
// codes; anything else is the server's own failure: it is logged here, and the caller learns
// only that it happened, not the details (a database address, a query) that the error holds.
func (s *UserGRPCServer) toStatus(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, ErrInvalidInput):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	s.logger.ErrorContext(ctx, "user backend failed", slog.String("method", method), slog.Any("error", err))
	return status.Error(codes.Internal, "internal error")
}
