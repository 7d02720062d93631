package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The criteria tests of exercise 03, one per criterion of criteria.json.

// modulePath is the path of the workbook's module: generated code must live inside it.
const modulePath = "github.com/microservices-workbook/workbook/"

// waitLimit bounds every wait for something that should happen at once.
const waitLimit = 5 * time.Second

// verifyNoLeaks fails the test when goroutines started during it are still running once its
// cleanups (servers stopped, clients closed) have run.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, current) }) // registered first, so it runs last
}

// alice is a user with every field set.
var alice = User{
	ID: "u-alice", Email: "alice@example.com", Name: "Alice",
	Address: Address{Street: "1 Main St", City: "Springfield", Country: "US", PostalCode: "12345"},
}

func TestProtoDefinitions(t *testing.T) {
	fd := Descriptor()
	require.NotNil(t, fd, "Descriptor() must return the file descriptor of user_service.proto")

	t.Run("go_package is inside this module", func(t *testing.T) {
		opts, ok := fd.Options().(*descriptorpb.FileOptions)
		require.True(t, ok, "file options have type %T", fd.Options())
		assert.True(t, strings.HasPrefix(opts.GetGoPackage(), modulePath),
			"go_package is %q; want a package inside %s (for example %s…/userpb)", opts.GetGoPackage(), modulePath, modulePath)
		assert.Equal(t, protoreflect.Proto3, fd.Syntax(), "the file must use proto3 syntax")
	})

	t.Run("the service has the four RPCs", func(t *testing.T) {
		sd := fd.Services().ByName("UserService")
		require.NotNil(t, sd, "no service UserService in %s", fd.Path())
		for _, name := range []protoreflect.Name{"GetUser", "CreateUser", "UpdateUser", "DeleteUser"} {
			m := sd.Methods().ByName(name)
			if !assert.NotNil(t, m, "UserService has no RPC %s", name) {
				continue
			}
			assert.Equal(t, name+"Request", m.Input().Name(), "the request of %s", name)
			assert.Equal(t, name+"Response", m.Output().Name(), "the response of %s", name)
			assert.False(t, m.IsStreamingClient() || m.IsStreamingServer(), "%s must be unary", name)
		}
		assert.Equal(t, 4, sd.Methods().Len(), "UserService must have exactly the four RPCs")
	})

	// Each message's fields: name, number, and type (a scalar kind, or the message's name).
	type want struct {
		name   protoreflect.Name
		number protoreflect.FieldNumber
		typ    string
	}
	messages := []struct {
		message protoreflect.Name
		fields  []want
	}{
		{"User", []want{{"id", 1, "string"}, {"email", 2, "string"}, {"name", 3, "string"}, {"address", 4, "Address"}}},
		{"Address", []want{{"street", 1, "string"}, {"city", 2, "string"}, {"country", 3, "string"}, {"postal_code", 4, "string"}}},
		{"GetUserRequest", []want{{"user_id", 1, "string"}}},
		{"GetUserResponse", []want{{"user", 1, "User"}}},
		{"CreateUserRequest", []want{{"user", 1, "User"}}},
		{"CreateUserResponse", []want{{"user", 1, "User"}}},
		{"UpdateUserRequest", []want{{"user", 1, "User"}}},
		{"UpdateUserResponse", []want{{"user", 1, "User"}}},
		{"DeleteUserRequest", []want{{"user_id", 1, "string"}}},
		{"DeleteUserResponse", nil},
	}
	for _, m := range messages {
		t.Run("message "+string(m.message), func(t *testing.T) {
			md := fd.Messages().ByName(m.message)
			require.NotNil(t, md, "no message %s in %s", m.message, fd.Path())
			for _, w := range m.fields {
				f := md.Fields().ByName(w.name)
				if !assert.NotNil(t, f, "%s has no field %s; want %s %s = %d", m.message, w.name, w.typ, w.name, w.number) {
					continue
				}
				assert.Equal(t, w.number, f.Number(), "the number of %s.%s", m.message, w.name)
				typ := f.Kind().String()
				if f.Message() != nil {
					typ = string(f.Message().Name())
				}
				assert.Equal(t, w.typ, typ, "the type of %s.%s", m.message, w.name)
				assert.Equal(t, protoreflect.Optional, f.Cardinality(), "%s.%s must not be repeated", m.message, w.name)
			}
		})
	}
}

func TestGRPCServer(t *testing.T) {
	s := loadSchema(t)
	ctx := t.Context()

	// roundTrip creates, reads, updates and deletes a user through conn.
	roundTrip := func(t *testing.T, conn *grpc.ClientConn) {
		created, err := s.call(t, ctx, conn, "CreateUser", s.request(t, "CreateUser", alice))
		require.NoError(t, err, "CreateUser(%+v)", alice)
		assert.Equal(t, alice, userOf(t, created), "CreateUser must answer the user as stored")

		got, err := s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", alice.ID))
		require.NoError(t, err, "GetUser(%q) after CreateUser", alice.ID)
		assert.Equal(t, alice, userOf(t, got), "GetUser must answer the user created")

		changed := User{ID: alice.ID, Email: "alice@example.org", Name: "Alice Liddell"} // and no address
		updated, err := s.call(t, ctx, conn, "UpdateUser", s.request(t, "UpdateUser", changed))
		require.NoError(t, err, "UpdateUser(%+v)", changed)
		assert.Equal(t, changed, userOf(t, updated), "UpdateUser must answer the user as stored")
		got, err = s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", alice.ID))
		require.NoError(t, err, "GetUser(%q) after UpdateUser", alice.ID)
		assert.Equal(t, changed, userOf(t, got), "GetUser after UpdateUser must answer the new state")

		_, err = s.call(t, ctx, conn, "DeleteUser", s.request(t, "DeleteUser", alice.ID))
		require.NoError(t, err, "DeleteUser(%q)", alice.ID)
		_, err = s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", alice.ID))
		assert.Error(t, err, "GetUser(%q) after DeleteUser must fail", alice.ID)
	}

	t.Run("create, get, update and delete over bufconn", func(t *testing.T) {
		conn := rawConn(t, realServer(t, NewUserService()))
		roundTrip(t, conn)
	})

	t.Run("create, get, update and delete over TCP", func(t *testing.T) {
		srv := NewServer(nil, nil)
		require.NotNil(t, srv, "NewServer returned nil")
		Register(srv, NewUserGRPCServer(NewUserService(), nil))
		conn, err := grpc.NewClient(serveTCP(t, srv), grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err, "grpc.NewClient")
		t.Cleanup(func() { _ = conn.Close() })
		roundTrip(t, conn)
	})

	t.Run("input is validated", func(t *testing.T) {
		conn := rawConn(t, realServer(t, NewUserService()))
		tests := []struct {
			name   string
			method protoreflect.Name
			arg    any
		}{
			{"GetUser without user_id", "GetUser", ""},
			{"DeleteUser without user_id", "DeleteUser", ""},
			{"CreateUser without user", "CreateUser", nil},
			{"CreateUser without id", "CreateUser", User{Email: "bob@example.com"}},
			{"CreateUser without email", "CreateUser", User{ID: "u-bob"}},
			{"CreateUser with an email without @", "CreateUser", User{ID: "u-bob", Email: "bob.example.com"}},
			{"UpdateUser without user", "UpdateUser", nil},
			{"UpdateUser without id", "UpdateUser", User{Email: "bob@example.com"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.call(t, ctx, conn, tt.method, s.request(t, tt.method, tt.arg))
				assert.Error(t, err, "%s(%+v) must be rejected", tt.method, tt.arg)
			})
		}
		// A rejected user must not have been stored.
		_, err := s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", "u-bob"))
		assert.Error(t, err, "a user rejected by CreateUser must not be stored")
		_, err = s.call(t, ctx, conn, "CreateUser", s.request(t, "CreateUser", User{ID: "u-bob", Email: "bob@example.com"}))
		assert.NoError(t, err, "a valid user must be accepted (name and address are optional)")
	})
}

// keepaliveGoroutines counts grpc-go's keepalive goroutines. grpc-go starts one per
// connection when keepalive.ClientParameters.Time is set, and none otherwise: looking for it is
// the only way to see the setting without waiting the ten seconds of the shortest ping interval.
func keepaliveGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "transport.(*http2Client).keepalive(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestClientConnectionPooling(t *testing.T) {
	verifyNoLeaks(t)
	s := loadSchema(t)
	ctx := t.Context()

	// countingServer serves a fake UserService that counts its calls and answers alice.
	countingServer := func(t *testing.T, calls *atomic.Int32) *bufconn.Listener {
		resp := s.response(t, "GetUser", alice)
		srv := grpc.NewServer()
		s.fakeService(t, srv, map[protoreflect.Name]fakeHandler{
			"GetUser": func(context.Context, *dynamicpb.Message) (proto.Message, error) {
				calls.Add(1)
				return resp, nil
			},
		})
		return serve(t, srv)
	}

	t.Run("one connection for many calls", func(t *testing.T) {
		var calls, dials atomic.Int32
		lis := countingServer(t, &calls)
		c, err := NewUserGRPCClient(bufTarget, WithDialOptions(dialer(lis, &dials)))
		require.NoError(t, err, "NewUserGRPCClient")
		require.NotNil(t, c, "NewUserGRPCClient returned a nil client")
		t.Cleanup(func() { _ = c.Close() })

		for i := range 10 {
			_, err := c.GetUser(ctx, alice.ID)
			require.NoError(t, err, "sequential call %d", i+1)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				if _, err := c.GetUser(ctx, alice.ID); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err, "concurrent call")
		}
		assert.Equal(t, int32(30), calls.Load(), "the server must have answered every call")
		assert.Equal(t, int32(1), dials.Load(),
			"30 calls, 20 of them concurrent, opened %d connections; want 1 long-lived connection, shared by every call", dials.Load())
	})

	t.Run("keepalive is configured", func(t *testing.T) {
		// Connections of earlier tests close in the background: wait until theirs are gone.
		require.Eventually(t, func() bool { return keepaliveGoroutines() == 0 }, waitLimit, 5*time.Millisecond,
			"precondition: the keepalive goroutines of earlier connections must end")
		var calls atomic.Int32
		c := newClient(t, countingServer(t, &calls))
		_, err := c.GetUser(ctx, alice.ID)
		require.NoError(t, err, "GetUser")
		assert.Eventually(t, func() bool { return keepaliveGoroutines() > 0 }, waitLimit, 5*time.Millisecond,
			"the client's connection runs no keepalive: pass keepalive.ClientParameters with a Time to grpc.WithKeepaliveParams")
	})

	t.Run("calls are spread over two servers with round_robin", func(t *testing.T) {
		var callsA, callsB atomic.Int32
		listeners := map[string]*bufconn.Listener{
			"server-a": countingServer(t, &callsA),
			"server-b": countingServer(t, &callsB),
		}
		// The manual resolver gives the client both addresses, and no service config of its
		// own: the client's default service config picks the balancer.
		r := manual.NewBuilderWithScheme("ex03-test")
		r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: "server-a"}, {Addr: "server-b"}}})
		c, err := NewUserGRPCClient(r.Scheme()+":///users", WithDialOptions(
			grpc.WithResolvers(r),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				lis, ok := listeners[addr]
				if !ok {
					return nil, fmt.Errorf("no test server at %q", addr)
				}
				return lis.DialContext(ctx)
			}),
		))
		require.NoError(t, err, "NewUserGRPCClient")
		require.NotNil(t, c, "NewUserGRPCClient returned a nil client")
		t.Cleanup(func() { _ = c.Close() })

		// round_robin uses a server once its connection is ready: the first calls may all go to
		// one. Call until both have answered, within a bound.
		const maxCalls = 200
		for i := 0; i < maxCalls && (callsA.Load() == 0 || callsB.Load() == 0); i++ {
			_, err := c.GetUser(ctx, alice.ID)
			require.NoError(t, err, "call %d", i+1)
		}
		require.True(t, callsA.Load() > 0 && callsB.Load() > 0,
			"after up to %d calls, server A answered %d and server B %d; want both used: set the default service config to round_robin (pick_first, gRPC's default, uses one)",
			maxCalls, callsA.Load(), callsB.Load())

		// Once both are ready, round_robin takes them in turn.
		a, b := callsA.Load(), callsB.Load()
		for i := range 20 {
			_, err := c.GetUser(ctx, alice.ID)
			require.NoError(t, err, "call %d after both servers were used", i+1)
		}
		assert.InDelta(t, 10, callsA.Load()-a, 2, "of 20 calls, server A answered %d; want about half", callsA.Load()-a)
		assert.InDelta(t, 10, callsB.Load()-b, 2, "of 20 calls, server B answered %d; want about half", callsB.Load()-b)
	})

	t.Run("calls fail after Close", func(t *testing.T) {
		var calls atomic.Int32
		lis := countingServer(t, &calls)
		c, err := NewUserGRPCClient(bufTarget, WithDialOptions(dialer(lis, nil)))
		require.NoError(t, err, "NewUserGRPCClient")
		_, err = c.GetUser(ctx, alice.ID)
		require.NoError(t, err, "GetUser before Close")
		require.NoError(t, c.Close(), "Close")
		_, err = c.GetUser(ctx, alice.ID)
		assert.Error(t, err, "GetUser after Close must fail")
	})
}

func TestInterceptors(t *testing.T) {
	s := loadSchema(t)
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	require.NoError(t, err, "NewMetrics")
	require.NotNil(t, metrics, "NewMetrics returned nil")

	var serverLogs, clientLogs syncBuffer
	srv := NewServer(slog.New(slog.NewJSONHandler(&serverLogs, nil)), metrics)
	require.NotNil(t, srv, "NewServer returned nil")
	user := s.response(t, "GetUser", alice)
	s.fakeService(t, srv, map[protoreflect.Name]fakeHandler{
		"GetUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			if userIDOf(t, req) != alice.ID {
				return nil, status.Error(codes.NotFound, "no such user")
			}
			return user, nil
		},
		"CreateUser": fail(codes.InvalidArgument, "email is required"),
		"DeleteUser": func(context.Context, *dynamicpb.Message) (proto.Message, error) {
			return nil, errors.New("a plain error, which reaches the client as Unknown")
		},
	})
	conn := rawConn(t, serve(t, srv),
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(slog.New(slog.NewJSONHandler(&clientLogs, nil)), metrics)))

	get, create, del := s.fullMethod("GetUser"), s.fullMethod("CreateUser"), s.fullMethod("DeleteUser")
	for range 3 {
		_, err := s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", alice.ID))
		require.NoError(t, err, "GetUser(%q)", alice.ID)
	}
	for range 2 {
		_, err := s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", "nobody"))
		require.Equal(t, codes.NotFound, status.Code(err), "GetUser(nobody): %v", err)
	}
	_, err = s.call(t, ctx, conn, "CreateUser", s.request(t, "CreateUser", User{ID: "x"}))
	require.Equal(t, codes.InvalidArgument, status.Code(err), "CreateUser: %v", err)
	_, err = s.call(t, ctx, conn, "DeleteUser", s.request(t, "DeleteUser", "x"))
	require.Equal(t, codes.Unknown, status.Code(err), "DeleteUser: %v", err)

	// What each side must have seen: calls by method and code.
	wantCalls := []struct {
		method, code string
		n            int
	}{
		{get, "OK", 3},
		{get, "NotFound", 2},
		{create, "InvalidArgument", 1},
		{del, "Unknown", 1},
	}
	wantDurations := map[string]uint64{get: 5, create: 1, del: 1}

	for _, side := range []struct {
		name string
		logs *syncBuffer
	}{{"server", &serverLogs}, {"client", &clientLogs}} {
		t.Run(side.name+" metrics", func(t *testing.T) {
			counter, histogram := "grpc_"+side.name+"_handled_total", "grpc_"+side.name+"_handling_seconds"
			for _, w := range wantCalls {
				m := metric(t, reg, counter, map[string]string{"method": w.method, "code": w.code})
				if assert.NotNil(t, m, "no series %s{method=%q,code=%q}", counter, w.method, w.code) {
					assert.Equal(t, float64(w.n), m.GetCounter().GetValue(), "%s{method=%q,code=%q}", counter, w.method, w.code)
				}
			}
			for method, n := range wantDurations {
				m := metric(t, reg, histogram, map[string]string{"method": method})
				if assert.NotNil(t, m, "no series %s{method=%q}", histogram, method) {
					assert.Equal(t, n, m.GetHistogram().GetSampleCount(), "observations of %s{method=%q}", histogram, method)
				}
			}
		})

		t.Run(side.name+" logs", func(t *testing.T) {
			counts := map[string]int{}
			for _, r := range side.logs.records(t) {
				method, _ := r["method"].(string)
				code, _ := r["code"].(string)
				if method == "" || code == "" {
					continue // not a record of a call
				}
				counts[method+" "+code]++
				assert.Contains(t, r, "duration", "the log record of a %s call with code %s has no duration: %v", method, code, r)
			}
			for _, w := range wantCalls {
				assert.Equal(t, w.n, counts[w.method+" "+w.code],
					"log records with method=%q and code=%q; records seen by method and code: %v", w.method, w.code, counts)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) {
	s := loadSchema(t)
	ctx := t.Context()

	t.Run("the server answers the right code", func(t *testing.T) {
		conn := rawConn(t, realServer(t, NewUserService()))
		taken := User{ID: "u-taken", Email: "taken@example.com"}
		_, err := s.call(t, ctx, conn, "CreateUser", s.request(t, "CreateUser", taken))
		require.NoError(t, err, "precondition: CreateUser(%+v)", taken)

		tests := []struct {
			name   string
			method protoreflect.Name
			arg    any
			want   codes.Code
		}{
			{"GetUser without user_id", "GetUser", "", codes.InvalidArgument},
			{"DeleteUser without user_id", "DeleteUser", "", codes.InvalidArgument},
			{"CreateUser without user", "CreateUser", nil, codes.InvalidArgument},
			{"CreateUser with a bad email", "CreateUser", User{ID: "u-bad", Email: "not-an-email"}, codes.InvalidArgument},
			{"UpdateUser without id", "UpdateUser", User{Email: "x@example.com"}, codes.InvalidArgument},
			{"GetUser of a missing user", "GetUser", "u-missing", codes.NotFound},
			{"UpdateUser of a missing user", "UpdateUser", User{ID: "u-missing", Email: "x@example.com"}, codes.NotFound},
			{"DeleteUser of a missing user", "DeleteUser", "u-missing", codes.NotFound},
			{"CreateUser of a taken id", "CreateUser", taken, codes.AlreadyExists},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.call(t, ctx, conn, tt.method, s.request(t, tt.method, tt.arg))
				assert.Equal(t, tt.want, status.Code(err), "%s(%+v): got %v", tt.method, tt.arg, err)
			})
		}
	})

	t.Run("internal failures are Internal, without the details", func(t *testing.T) {
		secret := errors.New("dial tcp 10.20.30.40:5432: password authentication failed for user \"billing\"")
		conn := rawConn(t, realServer(t, stubBackend{fn: func(context.Context) error { return secret }}))
		for _, call := range []struct {
			method protoreflect.Name
			arg    any
		}{
			{"GetUser", "u-1"},
			{"CreateUser", User{ID: "u-1", Email: "one@example.com"}},
			{"DeleteUser", "u-1"},
		} {
			_, err := s.call(t, ctx, conn, call.method, s.request(t, call.method, call.arg))
			assert.Equal(t, codes.Internal, status.Code(err), "%s with a failing backend: got %v", call.method, err)
			msg := status.Convert(err).Message()
			for _, leak := range []string{"10.20.30.40", "password", "billing"} {
				assert.NotContains(t, msg, leak, "%s: the status message %q shows the backend's error to the caller", call.method, msg)
			}
		}
	})

	t.Run("the client maps codes back to the domain errors", func(t *testing.T) {
		c := newClient(t, realServer(t, NewUserService()))
		_, err := c.CreateUser(ctx, alice)
		require.NoError(t, err, "precondition: CreateUser(%+v)", alice)

		_, err = c.GetUser(ctx, "u-missing")
		assert.ErrorIs(t, err, ErrNotFound, "GetUser of a missing user")
		err = c.DeleteUser(ctx, "u-missing")
		assert.ErrorIs(t, err, ErrNotFound, "DeleteUser of a missing user")
		_, err = c.UpdateUser(ctx, User{ID: "u-missing", Email: "x@example.com"})
		assert.ErrorIs(t, err, ErrNotFound, "UpdateUser of a missing user")
		_, err = c.CreateUser(ctx, alice)
		assert.ErrorIs(t, err, ErrAlreadyExists, "CreateUser of a taken id")
		_, err = c.CreateUser(ctx, User{ID: "u-bad", Email: "not-an-email"})
		assert.ErrorIs(t, err, ErrInvalidInput, "CreateUser with a bad email")
		assert.NotErrorIs(t, err, ErrNotFound, "an InvalidArgument error must not match ErrNotFound")

		ic := newClient(t, realServer(t, stubBackend{fn: func(context.Context) error { return errors.New("disk on fire") }}))
		_, err = ic.GetUser(ctx, "u-1")
		require.Error(t, err, "GetUser with a failing backend")
		assert.Equal(t, codes.Internal, status.Code(err), "an Internal error keeps its status in the chain (wrap it with %%w): got %v", err)
		for _, sentinel := range []error{ErrNotFound, ErrAlreadyExists, ErrInvalidInput, ErrUnavailable} {
			assert.NotErrorIs(t, err, sentinel, "an Internal error must not match a domain error")
		}
	})

	t.Run("deadlines propagate to the server", func(t *testing.T) {
		type seen struct {
			deadline time.Time
			ok       bool
		}
		arrived := make(chan seen, 1)
		cancelled := make(chan struct{})
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		slow := stubBackend{fn: func(ctx context.Context) error {
			d, ok := ctx.Deadline()
			arrived <- seen{d, ok}
			select {
			case <-ctx.Done():
				close(cancelled)
				return ctx.Err()
			case <-release:
				return errors.New("released by the test")
			}
		}}
		c := newClient(t, realServer(t, slow))

		callCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		deadline, _ := callCtx.Deadline()
		result := make(chan error, 1)
		go func() {
			_, err := c.GetUser(callCtx, "u-slow")
			result <- err
		}()

		var got seen
		select {
		case got = <-arrived:
		case err := <-result:
			t.Fatalf("GetUser returned before the call reached the backend: %v", err)
		case <-time.After(waitLimit):
			t.Fatal("the call never reached the backend")
		}
		require.True(t, got.ok, "the backend's context has no deadline: the client must send its context's deadline, and the server must pass its context on")
		assert.False(t, got.deadline.After(deadline.Add(100*time.Millisecond)),
			"the backend's deadline is %v after the caller's: the caller's deadline must be the one sent", got.deadline.Sub(deadline))

		select {
		case err := <-result:
			assert.ErrorIs(t, err, context.DeadlineExceeded, "a call past its deadline")
		case <-time.After(waitLimit):
			t.Fatal("the call did not return after its deadline passed")
		}
		select {
		case <-cancelled:
		case <-time.After(waitLimit):
			t.Fatal("the backend's context was not cancelled when the caller's deadline passed")
		}
	})
}

func TestMockServers(t *testing.T) {
	verifyNoLeaks(t)
	s := loadSchema(t)
	ctx := t.Context()

	// fakeClient serves handlers on a fake server and returns a client of it.
	fakeClient := func(t *testing.T, handlers map[protoreflect.Name]fakeHandler) *UserGRPCClient {
		srv := grpc.NewServer()
		s.fakeService(t, srv, handlers)
		return newClient(t, serve(t, srv))
	}

	t.Run("answers are decoded", func(t *testing.T) {
		// The handlers run on the server's goroutines, where a missing field cannot fail the
		// test: build each message here once, so that a missing field fails it now.
		s.request(t, "CreateUser", alice)
		s.request(t, "DeleteUser", alice.ID)
		s.response(t, "CreateUser", alice)
		s.response(t, "DeleteUser", alice)
		var mu sync.Mutex
		var gotID, deletedID string
		var sent User
		c := fakeClient(t, map[protoreflect.Name]fakeHandler{
			"GetUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				gotID = userIDOf(t, req)
				return s.response(t, "GetUser", alice), nil
			},
			"CreateUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				sent = userOf(t, req)
				return s.response(t, "CreateUser", sent), nil
			},
			"DeleteUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				deletedID = userIDOf(t, req)
				return s.response(t, "DeleteUser", User{}), nil
			},
		})

		u, err := c.GetUser(ctx, alice.ID)
		require.NoError(t, err, "GetUser")
		require.NotNil(t, u, "GetUser returned no user and no error")
		assert.Equal(t, alice, *u, "GetUser must decode every field of the answer")

		created, err := c.CreateUser(ctx, alice)
		require.NoError(t, err, "CreateUser")
		require.NotNil(t, created, "CreateUser returned no user and no error")
		assert.Equal(t, alice, *created, "CreateUser must return the user the server answered")

		require.NoError(t, c.DeleteUser(ctx, "u-gone"), "DeleteUser")
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, alice.ID, gotID, "the user_id GetUser sent")
		assert.Equal(t, alice, sent, "the user CreateUser sent")
		assert.Equal(t, "u-gone", deletedID, "the user_id DeleteUser sent")
	})

	t.Run("errors are mapped", func(t *testing.T) {
		tests := []struct {
			name string
			code codes.Code
			call func(c *UserGRPCClient) error
			want error
		}{
			{"GetUser NotFound", codes.NotFound, func(c *UserGRPCClient) error { _, err := c.GetUser(ctx, "u-1"); return err }, ErrNotFound},
			{"DeleteUser NotFound", codes.NotFound, func(c *UserGRPCClient) error { return c.DeleteUser(ctx, "u-1") }, ErrNotFound},
			{"CreateUser AlreadyExists", codes.AlreadyExists, func(c *UserGRPCClient) error { _, err := c.CreateUser(ctx, alice); return err }, ErrAlreadyExists},
			{"UpdateUser InvalidArgument", codes.InvalidArgument, func(c *UserGRPCClient) error { _, err := c.UpdateUser(ctx, alice); return err }, ErrInvalidInput},
			{"GetUser Unavailable", codes.Unavailable, func(c *UserGRPCClient) error { _, err := c.GetUser(ctx, "u-1"); return err }, ErrUnavailable},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := fail(tt.code, "the fake server says "+tt.code.String())
				c := fakeClient(t, map[protoreflect.Name]fakeHandler{"GetUser": h, "CreateUser": h, "UpdateUser": h, "DeleteUser": h})
				err := tt.call(c)
				assert.ErrorIs(t, err, tt.want, "a %s answer", tt.code)
				for _, other := range []error{ErrNotFound, ErrAlreadyExists, ErrInvalidInput, ErrUnavailable} {
					if other != tt.want {
						assert.NotErrorIs(t, err, other, "a %s answer", tt.code)
					}
				}
			})
		}
	})

	t.Run("a slow answer ends at the caller's deadline", func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		cancelled := make(chan struct{})
		c := fakeClient(t, map[protoreflect.Name]fakeHandler{
			"GetUser": func(ctx context.Context, _ *dynamicpb.Message) (proto.Message, error) {
				select {
				case <-ctx.Done():
					close(cancelled)
					return nil, status.FromContextError(ctx.Err()).Err()
				case <-release:
					return nil, status.Error(codes.Aborted, "released by the test")
				}
			},
		})
		callCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		result := make(chan error, 1)
		go func() {
			_, err := c.GetUser(callCtx, alice.ID)
			result <- err
		}()
		select {
		case err := <-result:
			require.ErrorIs(t, err, context.DeadlineExceeded, "a call that outlived its deadline")
		case <-time.After(waitLimit):
			t.Fatal("GetUser did not return after its context's deadline passed")
		}
		select {
		case <-cancelled:
		case <-time.After(waitLimit):
			t.Fatal("the server never saw the call cancelled")
		}
	})

	t.Run("a server that is down is Unavailable", func(t *testing.T) {
		lis := bufconn.Listen(bufSize)
		require.NoError(t, lis.Close(), "closing the listener")
		c := newClient(t, lis)
		callCtx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		_, err := c.GetUser(callCtx, alice.ID)
		assert.ErrorIs(t, err, ErrUnavailable, "GetUser with no server listening must fail fast with ErrUnavailable")
	})
}
