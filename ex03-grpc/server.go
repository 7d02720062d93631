package grpcsvc

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/microservices-workbook/workbook/ex03-grpc/userpb"
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

// NewServer returns a *grpc.Server with the logging and metrics interceptors (nil logger and
// nil metrics record nothing) and a keepalive policy that lets UserGRPCClient's pings through.
// opts are applied after these.
func NewServer(logger *slog.Logger, metrics *Metrics, opts ...grpc.ServerOption) *grpc.Server {
	// TODO(ex03.interceptors): put UnaryServerInterceptor(logger, metrics) in front of opts
	// (grpc.ChainUnaryInterceptor).
	// TODO(ex03.client-pooling): and a keepalive.EnforcementPolicy that accepts pings as often as
	// DefaultKeepalive.Time, even with no call in flight (grpc.KeepaliveEnforcementPolicy): by
	// default a server closes the connection of a client that pings more than every 5 minutes.
	// The caller's opts come after these, so that they win.
	return grpc.NewServer(opts...)
}

// GetUser returns the user with req.user_id.
func (s *UserGRPCServer) GetUser(ctx context.Context, req *userpb.GetUserRequest) (*userpb.GetUserResponse, error) {
	// TODO(ex03.server): reject an empty user_id, call s.service.GetUser with ctx, and answer
	// the user (toProto).
	// TODO(ex03.status-codes): every error is a status: InvalidArgument for a bad request,
	// NotFound and AlreadyExists for the backend's ErrNotFound and ErrAlreadyExists, and
	// Internal, with a message that says nothing of the cause, for the backend's own failures
	// (log the backend's error with s.logger: nobody else will see it). Every RPC passes its ctx
	// on to the backend.
	return nil, status.Error(codes.Unimplemented, "GetUser: not implemented")
}

// CreateUser stores req.user as a new user.
func (s *UserGRPCServer) CreateUser(ctx context.Context, req *userpb.CreateUserRequest) (*userpb.CreateUserResponse, error) {
	// TODO(ex03.server): once the .proto gives CreateUserRequest its user, check it (an id and a
	// plain email address are required; net/mail helps), store it with s.service.CreateUser and
	// answer it as stored.
	return nil, status.Error(codes.Unimplemented, "CreateUser: not implemented")
}

// UpdateUser replaces the user with req.user.id by req.user.
func (s *UserGRPCServer) UpdateUser(ctx context.Context, req *userpb.UpdateUserRequest) (*userpb.UpdateUserResponse, error) {
	// TODO(ex03.server): check req.user as CreateUser does (an id and a plain email address),
	// then s.service.UpdateUser.
	return nil, status.Error(codes.Unimplemented, "UpdateUser: not implemented")
}

// DeleteUser removes the user with req.user_id.
func (s *UserGRPCServer) DeleteUser(ctx context.Context, req *userpb.DeleteUserRequest) (*userpb.DeleteUserResponse, error) {
	// TODO(ex03.server): reject an empty user_id, then s.service.DeleteUser.
	return nil, status.Error(codes.Unimplemented, "DeleteUser: not implemented")
}
