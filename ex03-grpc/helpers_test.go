package grpcsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Helpers shared by the tests of exercise 03.
//
// The tests cannot import the generated package userpb (the same test files run against the
// starter and the solution, each with its own userpb). They speak the protocol through
// Descriptor() instead: dynamicpb builds and reads messages by field name, conn.Invoke sends
// them, and fakeService serves them. That is also how the tests check a server without the
// student's client, and a client without the student's server.

// bufSize is the buffer of the in-memory connections.
const bufSize = 1 << 20

// serve serves s on an in-memory bufconn listener until the test ends.
func serve(t testing.TB, s *grpc.Server) *bufconn.Listener {
	t.Helper()
	lis := bufconn.Listen(bufSize)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis) // returns once Stop is called
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis
}

// serveTCP serves s on a random port of the loopback interface until the test ends, and
// returns its address.
func serveTCP(t testing.TB, s *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listening on a loopback port")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// bufTarget is the target of the in-memory connections: passthrough hands the address to the
// dialer as it is, without a DNS lookup.
const bufTarget = "passthrough:///bufnet"

// dialer connects to lis, counting the connections made in dials when it is not nil.
func dialer(lis *bufconn.Listener, dials *atomic.Int32) grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		if dials != nil {
			dials.Add(1)
		}
		return lis.DialContext(ctx)
	})
}

// rawConn is a plain gRPC connection to lis, with none of the exercise's client code.
func rawConn(t testing.TB, lis *bufconn.Listener, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), dialer(lis, nil)}, opts...)
	conn, err := grpc.NewClient(bufTarget, opts...)
	require.NoError(t, err, "grpc.NewClient")
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// newClient is a UserGRPCClient connected to lis, closed when the test ends.
func newClient(t testing.TB, lis *bufconn.Listener, opts ...Option) *UserGRPCClient {
	t.Helper()
	opts = append(opts, WithDialOptions(dialer(lis, nil)))
	c, err := NewUserGRPCClient(bufTarget, opts...)
	require.NoError(t, err, "NewUserGRPCClient")
	require.NotNil(t, c, "NewUserGRPCClient returned a nil client")
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// realServer serves the exercise's UserGRPCServer over backend on bufconn.
func realServer(t testing.TB, backend UserBackend) *bufconn.Listener {
	t.Helper()
	s := NewServer(nil, nil)
	require.NotNil(t, s, "NewServer returned nil")
	srv := NewUserGRPCServer(backend, nil)
	require.NotNil(t, srv, "NewUserGRPCServer returned nil")
	Register(s, srv)
	return serve(t, s)
}

// schema finds the service, its methods and its fields in Descriptor() by name.
type schema struct {
	service protoreflect.ServiceDescriptor
}

func loadSchema(t testing.TB) schema {
	t.Helper()
	fd := Descriptor()
	require.NotNil(t, fd, "Descriptor() returned nil")
	sd := fd.Services().ByName("UserService")
	require.NotNil(t, sd, "%s declares no service UserService", fd.Path())
	return schema{service: sd}
}

// method returns the descriptor of the RPC name.
func (s schema) method(t testing.TB, name protoreflect.Name) protoreflect.MethodDescriptor {
	t.Helper()
	m := s.service.Methods().ByName(name)
	require.NotNil(t, m, "service %s has no RPC %s", s.service.FullName(), name)
	return m
}

// fullMethod is the name of the RPC on the wire, such as "/pkg.UserService/GetUser".
func (s schema) fullMethod(name protoreflect.Name) string {
	return fmt.Sprintf("/%s/%s", s.service.FullName(), name)
}

// field returns the field name of md, and fails the test when the .proto has none.
func field(t testing.TB, md protoreflect.MessageDescriptor, name protoreflect.Name) protoreflect.FieldDescriptor {
	t.Helper()
	fd := md.Fields().ByName(name)
	require.NotNil(t, fd, "message %s has no field %q: complete proto/ex03/user_service.proto and regenerate (criterion ex03.proto)", md.FullName(), name)
	return fd
}

// request builds the request of the RPC method. For GetUser and DeleteUser, arg is the user id
// (a string); for CreateUser and UpdateUser it is a User, or nil to leave the user out.
func (s schema) request(t testing.TB, method protoreflect.Name, arg any) *dynamicpb.Message {
	t.Helper()
	md := s.method(t, method).Input()
	msg := dynamicpb.NewMessage(md)
	switch a := arg.(type) {
	case string:
		msg.Set(field(t, md, "user_id"), protoreflect.ValueOfString(a))
	case User:
		fd := field(t, md, "user")
		msg.Set(fd, protoreflect.ValueOfMessage(userMessage(t, fd.Message(), a)))
	case nil:
	default:
		t.Fatalf("request(%s): unexpected argument %T", method, arg)
	}
	return msg
}

// response builds the response of the RPC method carrying u (DeleteUser's carries nothing).
func (s schema) response(t testing.TB, method protoreflect.Name, u User) *dynamicpb.Message {
	t.Helper()
	md := s.method(t, method).Output()
	msg := dynamicpb.NewMessage(md)
	if method != "DeleteUser" {
		fd := field(t, md, "user")
		msg.Set(fd, protoreflect.ValueOfMessage(userMessage(t, fd.Message(), u)))
	}
	return msg
}

// userMessage builds a User message of type md from u. A zero Address is left unset.
func userMessage(t testing.TB, md protoreflect.MessageDescriptor, u User) *dynamicpb.Message {
	t.Helper()
	msg := dynamicpb.NewMessage(md)
	for name, v := range map[protoreflect.Name]string{"id": u.ID, "email": u.Email, "name": u.Name} {
		msg.Set(field(t, md, name), protoreflect.ValueOfString(v))
	}
	if u.Address != (Address{}) {
		afd := field(t, md, "address")
		addr := dynamicpb.NewMessage(afd.Message())
		for name, v := range map[protoreflect.Name]string{
			"street": u.Address.Street, "city": u.Address.City,
			"country": u.Address.Country, "postal_code": u.Address.PostalCode,
		} {
			addr.Set(field(t, afd.Message(), name), protoreflect.ValueOfString(v))
		}
		msg.Set(afd, protoreflect.ValueOfMessage(addr))
	}
	return msg
}

// userOf reads the user field of a request or response message.
func userOf(t testing.TB, msg protoreflect.Message) User {
	t.Helper()
	um := msg.Get(field(t, msg.Descriptor(), "user")).Message()
	str := func(m protoreflect.Message, name protoreflect.Name) string {
		return m.Get(field(t, m.Descriptor(), name)).String()
	}
	u := User{ID: str(um, "id"), Email: str(um, "email"), Name: str(um, "name")}
	am := um.Get(field(t, um.Descriptor(), "address")).Message()
	u.Address = Address{
		Street: str(am, "street"), City: str(am, "city"),
		Country: str(am, "country"), PostalCode: str(am, "postal_code"),
	}
	return u
}

// userIDOf reads the user_id field of a request message.
func userIDOf(t testing.TB, msg protoreflect.Message) string {
	t.Helper()
	return msg.Get(field(t, msg.Descriptor(), "user_id")).String()
}

// call sends req to the RPC method over conn, and returns the response.
func (s schema) call(t testing.TB, ctx context.Context, conn *grpc.ClientConn, method protoreflect.Name, req proto.Message) (*dynamicpb.Message, error) {
	t.Helper()
	resp := dynamicpb.NewMessage(s.method(t, method).Output())
	err := conn.Invoke(ctx, s.fullMethod(method), req, resp)
	return resp, err
}

// fakeHandler answers one RPC of fakeService. It runs on the server's goroutines: it must not
// call t.Fatal, and it reads the request only through protoreflect.
type fakeHandler func(ctx context.Context, req *dynamicpb.Message) (proto.Message, error)

// fakeService registers on s a UserService written by the test: each RPC answers what its
// handler says, and RPCs without a handler answer Unimplemented. It goes through the server's
// interceptors like a generated service does.
func (s schema) fakeService(t testing.TB, gs *grpc.Server, handlers map[protoreflect.Name]fakeHandler) {
	t.Helper()
	desc := grpc.ServiceDesc{
		ServiceName: string(s.service.FullName()),
		HandlerType: (*any)(nil),
		Metadata:    s.service.ParentFile().Path(),
	}
	methods := s.service.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		h := handlers[m.Name()]
		if h == nil {
			h = func(context.Context, *dynamicpb.Message) (proto.Message, error) {
				return nil, status.Errorf(codes.Unimplemented, "fake server: no handler for %s", m.Name())
			}
		}
		fullMethod := s.fullMethod(m.Name())
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: string(m.Name()),
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				req := dynamicpb.NewMessage(m.Input())
				if err := dec(req); err != nil {
					return nil, err
				}
				handle := func(ctx context.Context, req any) (any, error) { return h(ctx, req.(*dynamicpb.Message)) }
				if interceptor == nil {
					return handle(ctx, req)
				}
				return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}, handle)
			},
		})
	}
	gs.RegisterService(&desc, nil)
}

// answer is a fakeHandler that always answers resp.
func answer(resp proto.Message) fakeHandler {
	return func(context.Context, *dynamicpb.Message) (proto.Message, error) { return resp, nil }
}

// fail is a fakeHandler that always fails with code and msg.
func fail(code codes.Code, msg string) fakeHandler {
	return func(context.Context, *dynamicpb.Message) (proto.Message, error) { return nil, status.Error(code, msg) }
}

// stubBackend is a UserBackend whose every method returns what fn returns.
type stubBackend struct {
	fn func(ctx context.Context) error
}

func (b stubBackend) GetUser(ctx context.Context, id string) (*User, error) {
	return &User{ID: id, Email: id + "@example.com"}, b.fn(ctx)
}

func (b stubBackend) CreateUser(ctx context.Context, u User) (*User, error) { return &u, b.fn(ctx) }

func (b stubBackend) UpdateUser(ctx context.Context, u User) (*User, error) { return &u, b.fn(ctx) }

func (b stubBackend) DeleteUser(ctx context.Context, _ string) error { return b.fn(ctx) }

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a slog handler.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes the JSON log records written so far.
func (b *syncBuffer) records(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for dec.More() {
		var r map[string]any
		require.NoError(t, dec.Decode(&r), "a log record is not JSON")
		out = append(out, r)
	}
	return out
}

// metric finds the series name{labels} in what reg gathers, or returns nil.
func metric(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err, "gathering the metrics")
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return m
		}
	}
	return nil
}
