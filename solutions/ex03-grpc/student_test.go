package grpcsvc

import (
	"context"
	"net"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// A model suite for criterion ex03.mock-servers: UserGRPCClient against fake servers written
// here, on bufconn, without the generated code (messages are built from Descriptor()).

// TestMyClientMapsNotFound shows the style: a fake gRPC server on an in-memory bufconn listener,
// which answers every call with a NotFound status, and the client pointed at it. The fake needs
// no generated code: grpc.UnknownServiceHandler answers whatever method is called.
func TestMyClientMapsNotFound(t *testing.T) {
	c := myFakeClient(t, func(context.Context, protoreflect.MethodDescriptor, *dynamicpb.Message) (proto.Message, error) {
		return nil, status.Error(codes.NotFound, "the fake knows no user")
	})
	user, err := c.GetUser(t.Context(), "u-1")
	assert.ErrorIs(t, err, ErrNotFound, "the server answered NotFound")
	assert.Equal(t, codes.NotFound, status.Code(err), "the status stays in the error's chain")
	assert.Nil(t, user, "a failed GetUser returns no user")
}

// myAnswer is how a fake server answers one call of method m.
type myAnswer func(ctx context.Context, m protoreflect.MethodDescriptor, req *dynamicpb.Message) (proto.Message, error)

// myServe serves a fake UserService that answers every call with answer, on bufconn, until the
// test ends, and returns its listener.
func myServe(t *testing.T, answer myAnswer) *bufconn.Listener {
	t.Helper()
	service := Descriptor().Services().ByName("UserService")
	require.NotNil(t, service, "the schema has no UserService")
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		full, _ := grpc.MethodFromServerStream(stream)
		m := service.Methods().ByName(protoreflect.Name(path.Base(full)))
		if m == nil {
			return status.Errorf(codes.Unimplemented, "the fake has no method %s", full)
		}
		req := dynamicpb.NewMessage(m.Input())
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		resp, err := answer(stream.Context(), m, req)
		if err != nil {
			return err
		}
		return stream.SendMsg(resp)
	}))
	lis := bufconn.Listen(1 << 20)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis
}

// myClient is a UserGRPCClient of the fake at lis, closed when the test ends.
func myClient(t *testing.T, lis *bufconn.Listener) *UserGRPCClient {
	t.Helper()
	c, err := NewUserGRPCClient("passthrough:///fake", WithDialOptions(
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })))
	require.NoError(t, err, "NewUserGRPCClient")
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func myFakeClient(t *testing.T, answer myAnswer) *UserGRPCClient {
	t.Helper()
	return myClient(t, myServe(t, answer))
}

// myResponse is the response of m carrying u (DeleteUser's carries nothing).
func myResponse(m protoreflect.MethodDescriptor, u User) proto.Message {
	resp := dynamicpb.NewMessage(m.Output())
	if f := m.Output().Fields().ByName("user"); f != nil {
		resp.Set(f, protoreflect.ValueOfMessage(myUserMessage(f.Message(), u)))
	}
	return resp
}

func myUserMessage(md protoreflect.MessageDescriptor, u User) *dynamicpb.Message {
	msg := dynamicpb.NewMessage(md)
	set := func(m *dynamicpb.Message, name, v string) {
		m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(name)), protoreflect.ValueOfString(v))
	}
	set(msg, "id", u.ID)
	set(msg, "email", u.Email)
	set(msg, "name", u.Name)
	af := md.Fields().ByName("address")
	addr := dynamicpb.NewMessage(af.Message())
	set(addr, "street", u.Address.Street)
	set(addr, "city", u.Address.City)
	set(addr, "country", u.Address.Country)
	set(addr, "postal_code", u.Address.PostalCode)
	msg.Set(af, protoreflect.ValueOfMessage(addr))
	return msg
}

// myRequest reads what a request carries: its user, or its user_id as a User's ID.
func myRequest(req *dynamicpb.Message) User {
	md := req.Descriptor()
	if f := md.Fields().ByName("user_id"); f != nil {
		return User{ID: req.Get(f).String()}
	}
	um := req.Get(md.Fields().ByName("user")).Message()
	get := func(m protoreflect.Message, name string) string {
		return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name))).String()
	}
	am := um.Get(um.Descriptor().Fields().ByName("address")).Message()
	return User{
		ID: get(um, "id"), Email: get(um, "email"), Name: get(um, "name"),
		Address: Address{Street: get(am, "street"), City: get(am, "city"), Country: get(am, "country"), PostalCode: get(am, "postal_code")},
	}
}

var (
	myAda    = User{ID: "u-ada", Email: "ada@example.com", Name: "Ada", Address: Address{Street: "12 St James's Sq", City: "London", Country: "UK", PostalCode: "SW1Y"}}
	myStored = User{ID: "u-ada", Email: "ada@example.org", Name: "Ada Lovelace", Address: Address{Street: "1 Other Rd", City: "Ockham", Country: "UK", PostalCode: "GU23"}}
)

func TestMyClientSendsAndDecodesEveryField(t *testing.T) {
	var mu sync.Mutex
	received := map[string]User{}
	c := myFakeClient(t, func(_ context.Context, m protoreflect.MethodDescriptor, req *dynamicpb.Message) (proto.Message, error) {
		mu.Lock()
		defer mu.Unlock()
		received[string(m.Name())] = myRequest(req)
		return myResponse(m, myStored), nil // the server's answer differs from what was sent
	})
	ctx := t.Context()

	got, err := c.GetUser(ctx, myAda.ID)
	require.NoError(t, err, "GetUser")
	assert.Equal(t, myStored, *got, "GetUser returns every field of the answer")
	got, err = c.CreateUser(ctx, myAda)
	require.NoError(t, err, "CreateUser")
	assert.Equal(t, myStored, *got, "CreateUser returns the user the server answered")
	got, err = c.UpdateUser(ctx, myAda)
	require.NoError(t, err, "UpdateUser")
	assert.Equal(t, myStored, *got, "UpdateUser returns the user the server answered")
	require.NoError(t, c.DeleteUser(ctx, myAda.ID), "DeleteUser")

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]User{
		"GetUser": {ID: myAda.ID}, "CreateUser": myAda, "UpdateUser": myAda, "DeleteUser": {ID: myAda.ID},
	}, received, "what the server received: every field of each request")
}

func TestMyClientMapsStatusCodes(t *testing.T) {
	for _, tt := range []struct {
		code codes.Code
		want error
	}{
		{codes.NotFound, ErrNotFound},
		{codes.AlreadyExists, ErrAlreadyExists},
		{codes.InvalidArgument, ErrInvalidInput},
		{codes.Unavailable, ErrUnavailable},
	} {
		t.Run(tt.code.String(), func(t *testing.T) {
			c := myFakeClient(t, func(context.Context, protoreflect.MethodDescriptor, *dynamicpb.Message) (proto.Message, error) {
				return nil, status.Error(tt.code, "the fake says so")
			})
			_, getErr := c.GetUser(t.Context(), "u-1")
			_, createErr := c.CreateUser(t.Context(), myAda)
			_, updateErr := c.UpdateUser(t.Context(), myAda)
			deleteErr := c.DeleteUser(t.Context(), "u-1")
			for name, err := range map[string]error{"GetUser": getErr, "CreateUser": createErr, "UpdateUser": updateErr, "DeleteUser": deleteErr} {
				assert.ErrorIs(t, err, tt.want, "%s answered %s", name, tt.code)
				assert.Equal(t, tt.code, status.Code(err), "%s: the status stays in the chain", name)
			}
		})
	}
}

func TestMyClientStopsAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	cancelled := make(chan struct{}, 1)
	c := myFakeClient(t, func(ctx context.Context, _ protoreflect.MethodDescriptor, _ *dynamicpb.Message) (proto.Message, error) {
		select {
		case <-ctx.Done():
			cancelled <- struct{}{}
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-release:
			return nil, status.Error(codes.Aborted, "released by the test")
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server stops

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := c.GetUser(ctx, myAda.ID)
		result <- err
	}()
	select {
	case err := <-result:
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the call outlived its deadline")
	case <-time.After(2 * time.Second):
		t.Fatal("GetUser did not return once its deadline had passed")
	}
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the server never saw the call cancelled: the deadline did not reach it")
	}
}

func TestMyClientWithNoServer(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	require.NoError(t, lis.Close())
	c := myClient(t, lis)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := c.GetUser(ctx, myAda.ID)
	assert.ErrorIs(t, err, ErrUnavailable, "no server listens: the call fails at once, it does not wait for one")
}
