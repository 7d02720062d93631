package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
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
	"google.golang.org/grpc/keepalive"
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

// TestProtoDefinitions decides ex03.proto.
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
	t.Run("the generated code matches the .proto", func(t *testing.T) {
		path := filepath.Join("proto", filepath.FromSlash(fd.Path()))
		src, err := os.ReadFile(path)
		require.NoError(t, err, "reading %s, the schema that userpb/ was generated from", path)
		declared := protoMessages(string(src))
		require.NotEmpty(t, declared, "found no message in %s", path)
		for name, fields := range declared {
			md := fd.Messages().ByName(protoreflect.Name(name))
			if !assert.NotNil(t, md, "%s declares message %s, but the generated code has none: regenerate with go generate ./ex03-grpc/", path, name) {
				continue
			}
			for fname, f := range fields {
				gen := md.Fields().ByName(protoreflect.Name(fname))
				if !assert.NotNil(t, gen, "%s declares %s.%s, but the generated code has no such field: regenerate with go generate ./ex03-grpc/", path, name, fname) {
					continue
				}
				typ := gen.Kind().String()
				if gen.Message() != nil {
					typ = string(gen.Message().Name())
				}
				assert.Equal(t, f, protoField{typ: typ, number: int(gen.Number())},
					"%s declares %s.%s as %s = %d, the generated code as %s = %d: regenerate with go generate ./ex03-grpc/", path, name, fname, f.typ, f.number, typ, gen.Number())
			}
			assert.Equal(t, len(fields), md.Fields().Len(), "%s declares %d fields in %s, the generated code has %d: regenerate with go generate ./ex03-grpc/", path, len(fields), name, md.Fields().Len())
		}
	})

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

// protoField is a field as the .proto declares it.
type protoField struct {
	typ    string
	number int
}

// protoMessages reads the fields of each message declared in the .proto source src: a small
// reader for the plain proto3 of this exercise (no nested messages, no maps or oneofs).
func protoMessages(src string) map[string]map[string]protoField {
	src = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(src, "")
	src = regexp.MustCompile(`//[^\n]*`).ReplaceAllString(src, "")
	messages := map[string]map[string]protoField{}
	fieldRE := regexp.MustCompile(`^\s*(?:repeated\s+|optional\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)`)
	for _, m := range regexp.MustCompile(`message\s+(\w+)\s*\{([^}]*)\}`).FindAllStringSubmatch(src, -1) {
		fields := map[string]protoField{}
		for stmt := range strings.SplitSeq(m[2], ";") {
			if f := fieldRE.FindStringSubmatch(stmt); f != nil && f[1] != "reserved" && f[1] != "option" {
				n, _ := strconv.Atoi(f[3])
				fields[f[2]] = protoField{typ: f[1], number: n}
			}
		}
		messages[m[1]] = fields
	}
	return messages
}

// TestGRPCServer decides ex03.server.
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
			{"CreateUser with a display name in the email", "CreateUser", User{ID: "u-bob", Email: "Bob <bob@example.com>"}},
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

		// UpdateUser checks the email as CreateUser does, for a user that exists.
		for _, bad := range []string{"", "bob.example.com", "Bob <bob@example.com>"} {
			u := User{ID: "u-bob", Email: bad}
			_, err := s.call(t, ctx, conn, "UpdateUser", s.request(t, "UpdateUser", u))
			assert.Error(t, err, "UpdateUser(%+v) of an existing user must reject the email", u)
		}
		got, err := s.call(t, ctx, conn, "GetUser", s.request(t, "GetUser", "u-bob"))
		if assert.NoError(t, err, "GetUser(u-bob)") {
			assert.Equal(t, "bob@example.com", userOf(t, got).Email, "a rejected UpdateUser must leave the user as it was")
		}
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

// findClientConn looks for a *grpc.ClientConn in v, its fields and what they point to, to a
// small depth.
func findClientConn(v reflect.Value, depth int, seen map[uintptr]bool) (reflect.Value, bool) {
	if depth > 6 || !v.IsValid() {
		return reflect.Value{}, false
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return reflect.Value{}, false
		}
		seen[v.Pointer()] = true
		if v.Type() == reflect.TypeFor[*grpc.ClientConn]() {
			return v, true
		}
		return findClientConn(v.Elem(), depth+1, seen)
	case reflect.Interface:
		return findClientConn(v.Elem(), depth+1, seen)
	case reflect.Struct:
		for i := range v.NumField() {
			if conn, ok := findClientConn(v.Field(i), depth+1, seen); ok {
				return conn, true
			}
		}
	}
	return reflect.Value{}, false
}

// twoServers returns a target and the dial options that resolve it to the two listeners a and
// b. The resolver gives no service config of its own: the client's default one picks the
// balancer.
func twoServers(a, b *bufconn.Listener) (string, []grpc.DialOption) {
	listeners := map[string]*bufconn.Listener{"server-a": a, "server-b": b}
	r := manual.NewBuilderWithScheme("ex03-test")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: "server-a"}, {Addr: "server-b"}}})
	return r.Scheme() + ":///users", []grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			lis, ok := listeners[addr]
			if !ok {
				return nil, fmt.Errorf("no test server at %q", addr)
			}
			return lis.DialContext(ctx)
		}),
	}
}

// TestClientConnectionPooling decides ex03.client-pooling.
func TestClientConnectionPooling(t *testing.T) {
	verifyNoLeaks(t)
	s := loadSchema(t)
	ctx := t.Context()

	// countingServer serves a fake UserService that counts its calls and answers alice.
	countingServer := func(t *testing.T, calls *atomic.Int32) *bufconn.Listener {
		handlers := map[protoreflect.Name]fakeHandler{}
		for _, method := range []protoreflect.Name{"GetUser", "CreateUser", "UpdateUser", "DeleteUser"} {
			resp := s.response(t, method, alice)
			handlers[method] = func(context.Context, *dynamicpb.Message) (proto.Message, error) {
				calls.Add(1)
				return resp, nil
			}
		}
		srv := grpc.NewServer()
		s.fakeService(t, srv, handlers)
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
			var err error
			switch i % 4 {
			case 0:
				_, err = c.GetUser(ctx, alice.ID)
			case 1:
				_, err = c.CreateUser(ctx, alice)
			case 2:
				_, err = c.UpdateUser(ctx, alice)
			case 3:
				err = c.DeleteUser(ctx, alice.ID)
			}
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
			"30 calls of the four methods, 20 of them concurrent, opened %d connections; want 1 long-lived connection, shared by every call", dials.Load())
	})

	t.Run("every field crosses the wire, both ways", func(t *testing.T) {
		// The handlers run on the server's goroutines, where a missing field cannot fail the
		// test: build each message here once, so that a missing field fails it now.
		s.request(t, "CreateUser", alice)
		s.request(t, "DeleteUser", alice.ID)
		s.response(t, "DeleteUser", alice)
		// The server answers a user that differs from the one sent: the client must return the
		// server's answer, not what it sent.
		stored := User{ID: alice.ID, Email: "alice@example.org", Name: "Alice L.", Address: Address{Street: "2 Side St", City: "Shelbyville", Country: "US", PostalCode: "54321"}}
		var mu sync.Mutex
		var gotID, deletedID string
		var created, updated User
		srv := grpc.NewServer()
		s.fakeService(t, srv, map[protoreflect.Name]fakeHandler{
			"GetUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				gotID = userIDOf(t, req)
				return s.response(t, "GetUser", alice), nil
			},
			"CreateUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				created = userOf(t, req)
				return s.response(t, "CreateUser", stored), nil
			},
			"UpdateUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				updated = userOf(t, req)
				return s.response(t, "UpdateUser", stored), nil
			},
			"DeleteUser": func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
				mu.Lock()
				defer mu.Unlock()
				deletedID = userIDOf(t, req)
				return s.response(t, "DeleteUser", User{}), nil
			},
		})
		c := newClient(t, serve(t, srv))

		u, err := c.GetUser(ctx, alice.ID)
		require.NoError(t, err, "GetUser")
		require.NotNil(t, u, "GetUser returned no user and no error")
		assert.Equal(t, alice, *u, "GetUser must decode every field of the answer")

		got, err := c.CreateUser(ctx, alice)
		require.NoError(t, err, "CreateUser")
		require.NotNil(t, got, "CreateUser returned no user and no error")
		assert.Equal(t, stored, *got, "CreateUser must return the user the server answered, every field decoded")

		got, err = c.UpdateUser(ctx, alice)
		require.NoError(t, err, "UpdateUser")
		require.NotNil(t, got, "UpdateUser returned no user and no error")
		assert.Equal(t, stored, *got, "UpdateUser must return the user the server answered, every field decoded")

		require.NoError(t, c.DeleteUser(ctx, "u-gone"), "DeleteUser")
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, alice.ID, gotID, "the user_id GetUser sent")
		assert.Equal(t, alice, created, "the user CreateUser sent: every field")
		assert.Equal(t, alice, updated, "the user UpdateUser sent: every field")
		assert.Equal(t, "u-gone", deletedID, "the user_id DeleteUser sent")
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

	t.Run("the server accepts the client's pings, and the caller's options come last", func(t *testing.T) {
		// The only way to see a server's keepalive policy without waiting out several ping
		// intervals (ten seconds at least) is to read it from the server.
		policy := func(srv *grpc.Server) (minTime time.Duration, permitWithoutStream bool) {
			p := reflect.ValueOf(srv).Elem().FieldByName("opts").FieldByName("keepalivePolicy")
			require.True(t, p.IsValid(), "this test reads the keepalive policy of a grpc-go %s server: it needs the workbook's version of grpc-go", grpc.Version)
			return time.Duration(p.FieldByName("MinTime").Int()), p.FieldByName("PermitWithoutStream").Bool()
		}
		srv := NewServer(nil, nil)
		require.NotNil(t, srv, "NewServer returned nil")
		minTime, permit := policy(srv)
		assert.True(t, minTime > 0 && minTime <= DefaultKeepalive.Time,
			"NewServer's keepalive.EnforcementPolicy lets clients ping every %v at most; the client pings every %v (DefaultKeepalive.Time), so the server would close its connections with \"too many pings\"", minTime, DefaultKeepalive.Time)
		assert.True(t, permit, "NewServer's keepalive.EnforcementPolicy must permit pings with no call in flight, as DefaultKeepalive sends them")

		const theirs = 42 * time.Second
		srv = NewServer(nil, nil, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: theirs}))
		require.NotNil(t, srv, "NewServer returned nil")
		minTime, _ = policy(srv)
		assert.Equal(t, theirs, minTime, "NewServer applies its own options first, then the caller's: a caller's keepalive policy must win")
	})

	t.Run("WithKeepalive replaces the default", func(t *testing.T) {
		// A ping interval shows only after it has passed (ten seconds at least): read the
		// setting from the client's connection instead.
		var calls atomic.Int32
		want := keepalive.ClientParameters{Time: time.Hour, Timeout: time.Minute}
		c := newClient(t, countingServer(t, &calls), WithKeepalive(want))
		_, err := c.GetUser(ctx, alice.ID)
		require.NoError(t, err, "GetUser")
		conn, ok := findClientConn(reflect.ValueOf(c), 0, map[uintptr]bool{})
		if !ok {
			t.Log("no *grpc.ClientConn found in the client's fields: WithKeepalive not checked")
			return
		}
		kp := conn.Elem().FieldByName("dopts").FieldByName("copts").FieldByName("KeepaliveParams")
		require.True(t, kp.IsValid(), "this test reads the keepalive of a grpc-go %s connection: it needs the workbook's version of grpc-go", grpc.Version)
		assert.Equal(t, want.Time, time.Duration(kp.FieldByName("Time").Int()),
			"WithKeepalive(Time: %v) must replace DefaultKeepalive: pass cfg.keepalive to grpc.WithKeepaliveParams", want.Time)
	})

	t.Run("the caller's dial options come after the client's own", func(t *testing.T) {
		var callsA, callsB atomic.Int32
		target, opts := twoServers(countingServer(t, &callsA), countingServer(t, &callsB))
		opts = append(opts, grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"pick_first": {}}]}`))
		c, err := NewUserGRPCClient(target, WithDialOptions(opts...))
		require.NoError(t, err, "NewUserGRPCClient")
		require.NotNil(t, c, "NewUserGRPCClient returned a nil client")
		t.Cleanup(func() { _ = c.Close() })
		// round_robin would use both servers once both are ready (see the next subtest), well
		// within this many calls; pick_first uses one.
		const maxCalls = 200
		for i := 0; i < maxCalls && (callsA.Load() == 0 || callsB.Load() == 0); i++ {
			_, err := c.GetUser(ctx, alice.ID)
			require.NoError(t, err, "call %d", i+1)
		}
		assert.True(t, callsA.Load() == 0 || callsB.Load() == 0,
			"the caller asked for pick_first with WithDialOptions, yet both servers answered (%d and %d calls): apply cfg.dialOptions after the client's own options, so that the caller's win",
			callsA.Load(), callsB.Load())
	})

	t.Run("calls are spread over two servers with round_robin", func(t *testing.T) {
		var callsA, callsB atomic.Int32
		target, opts := twoServers(countingServer(t, &callsA), countingServer(t, &callsB))
		c, err := NewUserGRPCClient(target, WithDialOptions(opts...))
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

// TestInterceptors decides ex03.interceptors.
func TestInterceptors(t *testing.T) {
	s := loadSchema(t)
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	require.NoError(t, err, "NewMetrics")
	require.NotNil(t, metrics, "NewMetrics returned nil")

	// Every level is recorded: a call may be logged at Debug.
	everyLevel := &slog.HandlerOptions{Level: slog.LevelDebug}
	var serverLogs, clientLogs syncBuffer
	srv := NewServer(slog.New(slog.NewJSONHandler(&serverLogs, everyLevel)), metrics)
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
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(slog.New(slog.NewJSONHandler(&clientLogs, everyLevel)), metrics)))

	get, create, del := s.fullMethod("GetUser"), s.fullMethod("CreateUser"), s.fullMethod("DeleteUser")
	start := time.Now()
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
	calling := time.Since(start) // every call, each side's part of it included

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
			var sum float64
			for method, n := range wantDurations {
				m := metric(t, reg, histogram, map[string]string{"method": method})
				if assert.NotNil(t, m, "no series %s{method=%q}", histogram, method) {
					assert.Equal(t, n, m.GetHistogram().GetSampleCount(), "observations of %s{method=%q}", histogram, method)
					sum += m.GetHistogram().GetSampleSum()
				}
			}
			assert.True(t, sum > 0 && sum <= calling.Seconds(),
				"the %s observed %g in all in %s, for calls that took %.6f seconds from first to last: observe each call's duration in seconds (elapsed.Seconds())",
				side.name, sum, histogram, calling.Seconds())
		})

		t.Run(side.name+" logs", func(t *testing.T) {
			counts := map[string]int{}
			for _, r := range side.logs.records(t) {
				attrs, method, code := callAttrs(r)
				if attrs == nil {
					continue // not a record of a call
				}
				counts[method+" "+code]++
				assert.Contains(t, attrs, "duration", "the log record of a %s call with code %s has no duration: %v", method, code, r)
			}
			for _, w := range wantCalls {
				assert.Equal(t, w.n, counts[w.method+" "+w.code],
					"log records with method=%q and code=%q; records seen by method and code: %v", w.method, w.code, counts)
			}
		})
	}

	t.Run("NewUserGRPCClient installs the client interceptor", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		metrics, err := NewMetrics(reg)
		require.NoError(t, err, "NewMetrics")
		var logs syncBuffer
		srv := grpc.NewServer()
		s.fakeService(t, srv, map[protoreflect.Name]fakeHandler{"GetUser": answer(s.response(t, "GetUser", alice))})
		c := newClient(t, serve(t, srv), WithMetrics(metrics), WithLogger(slog.New(slog.NewJSONHandler(&logs, everyLevel))))
		_, err = c.GetUser(ctx, alice.ID)
		require.NoError(t, err, "GetUser")

		m := metric(t, reg, "grpc_client_handled_total", map[string]string{"method": get, "code": "OK"})
		if assert.NotNil(t, m, "a client made with WithMetrics recorded no grpc_client_handled_total{method=%q,code=\"OK\"}: install UnaryClientInterceptor(cfg.logger, cfg.metrics) in NewUserGRPCClient", get) {
			assert.Equal(t, 1.0, m.GetCounter().GetValue(), "one GetUser call")
		}
		logged := 0
		for _, r := range logs.records(t) {
			if attrs, method, code := callAttrs(r); attrs != nil && method == get && code == "OK" {
				logged++
			}
		}
		assert.Equal(t, 1, logged, "a client made with WithLogger must log its one GetUser call (method and code): install UnaryClientInterceptor in NewUserGRPCClient")
	})

	t.Run("NewMetrics returns the registry's error", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		_, err := NewMetrics(reg)
		require.NoError(t, err, "NewMetrics on a new registry")
		_, err = NewMetrics(reg)
		assert.Error(t, err, "NewMetrics on a registry that has the series already must return reg.Register's error, not ignore it")
	})
}

// callAttrs finds the attributes method and code in a JSON log record, at its top level or in a
// group, and returns them with the group that holds them. code may be the code's name ("OK") or
// its number. It returns nil when the record has no such pair.
func callAttrs(r map[string]any) (group map[string]any, method, code string) {
	method, _ = r["method"].(string)
	switch c := r["code"].(type) {
	case string:
		code = c
	case float64:
		code = codes.Code(c).String()
	}
	if method != "" && code != "" {
		return r, method, code
	}
	for _, v := range r {
		if sub, ok := v.(map[string]any); ok {
			if g, m, c := callAttrs(sub); g != nil {
				return g, m, c
			}
		}
	}
	return nil, "", ""
}

// TestStatusCodes decides ex03.status-codes.
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
			{"UpdateUser of an existing user with a bad email", "UpdateUser", User{ID: taken.ID, Email: "not-an-email"}, codes.InvalidArgument},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.call(t, ctx, conn, tt.method, s.request(t, tt.method, tt.arg))
				assert.Equal(t, tt.want, status.Code(err), "%s(%+v): got %v", tt.method, tt.arg, err)
			})
		}
	})

	t.Run("internal failures are Internal, without the details, and logged", func(t *testing.T) {
		secret := errors.New("dial tcp 10.20.30.40:5432: password authentication failed for user \"billing\"")
		var logs syncBuffer
		srv := NewServer(nil, nil)
		require.NotNil(t, srv, "NewServer returned nil")
		Register(srv, NewUserGRPCServer(stubBackend{fn: func(context.Context) error { return secret }}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		conn := rawConn(t, serve(t, srv))
		for _, call := range []struct {
			method protoreflect.Name
			arg    any
		}{
			{"GetUser", "u-1"},
			{"CreateUser", User{ID: "u-1", Email: "one@example.com"}},
			{"UpdateUser", User{ID: "u-1", Email: "one@example.com"}},
			{"DeleteUser", "u-1"},
		} {
			_, err := s.call(t, ctx, conn, call.method, s.request(t, call.method, call.arg))
			assert.Equal(t, codes.Internal, status.Code(err), "%s with a failing backend: got %v", call.method, err)
			msg := status.Convert(err).Message()
			for _, leak := range []string{"10.20.30.40", "password", "billing"} {
				assert.NotContains(t, msg, leak, "%s: the status message %q shows the backend's error to the caller", call.method, msg)
			}
		}
		assert.GreaterOrEqual(t, strings.Count(logs.String(), "10.20.30.40"), 4,
			"the caller is told only \"internal error\", so the server's logger (NewUserGRPCServer's) must record the backend's error of each of the 4 failed calls; it logged:\n%s", logs.String())
	})

	t.Run("the server passes each call's context to the backend", func(t *testing.T) {
		deadlines := make(chan bool, 4)
		backend := stubBackend{fn: func(ctx context.Context) error {
			_, ok := ctx.Deadline()
			deadlines <- ok
			return nil
		}}
		conn := rawConn(t, realServer(t, backend))
		for _, call := range []struct {
			method protoreflect.Name
			arg    any
		}{
			{"GetUser", "u-1"},
			{"CreateUser", User{ID: "u-1", Email: "one@example.com"}},
			{"UpdateUser", User{ID: "u-1", Email: "one@example.com"}},
			{"DeleteUser", "u-1"},
		} {
			callCtx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err := s.call(t, callCtx, conn, call.method, s.request(t, call.method, call.arg))
			cancel()
			require.NoError(t, err, "%s with a backend that succeeds", call.method)
			select {
			case ok := <-deadlines:
				assert.True(t, ok, "%s called the backend with a context without the caller's deadline: pass the handler's ctx on", call.method)
			default:
				t.Errorf("%s answered without calling the backend", call.method)
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

	// fakeClient serves handlers on a fake server and returns a client of it.
	fakeClient := func(t *testing.T, handlers map[protoreflect.Name]fakeHandler, opts ...Option) *UserGRPCClient {
		srv := grpc.NewServer()
		s.fakeService(t, srv, handlers)
		return newClient(t, serve(t, srv), opts...)
	}

	t.Run("the client maps each code of a fake server, and keeps the status", func(t *testing.T) {
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
			{"GetUser DeadlineExceeded", codes.DeadlineExceeded, func(c *UserGRPCClient) error { _, err := c.GetUser(ctx, "u-1"); return err }, context.DeadlineExceeded},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := fail(tt.code, "the fake server says "+tt.code.String())
				c := fakeClient(t, map[protoreflect.Name]fakeHandler{"GetUser": h, "CreateUser": h, "UpdateUser": h, "DeleteUser": h})
				err := tt.call(c)
				assert.ErrorIs(t, err, tt.want, "a %s answer", tt.code)
				assert.Equal(t, tt.code, status.Code(err), "a %s answer: the status must stay in the chain, wrapped with %%w beside the sentinel, so that status.Code still works; got %v", tt.code, err)
				for _, other := range []error{ErrNotFound, ErrAlreadyExists, ErrInvalidInput, ErrUnavailable} {
					if other != tt.want {
						assert.NotErrorIs(t, err, other, "a %s answer", tt.code)
					}
				}
			})
		}
	})

	t.Run("a cancelled call is context.Canceled", func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		c := fakeClient(t, map[protoreflect.Name]fakeHandler{
			"GetUser": func(ctx context.Context, _ *dynamicpb.Message) (proto.Message, error) {
				arrived <- struct{}{}
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			},
		})
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		result := make(chan error, 1)
		go func() {
			_, err := c.GetUser(callCtx, alice.ID)
			result <- err
		}()
		select {
		case <-arrived:
		case <-time.After(waitLimit):
			t.Fatal("the call never reached the server")
		}
		cancel()
		select {
		case err := <-result:
			assert.ErrorIs(t, err, context.Canceled, "the caller cancelled the call (status Canceled): want an error wrapping context.Canceled")
		case <-time.After(waitLimit):
			t.Fatal("GetUser did not return after its context was cancelled")
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
			t.Fatal("the server never saw the call cancelled: call with the caller's ctx, so that its deadline is sent")
		}
	})

	t.Run("a server that is down is Unavailable at once", func(t *testing.T) {
		lis := bufconn.Listen(bufSize)
		require.NoError(t, lis.Close(), "closing the listener")
		c := newClient(t, lis)
		callCtx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		_, err := c.GetUser(callCtx, alice.ID)
		assert.ErrorIs(t, err, ErrUnavailable,
			"GetUser with no server listening must fail fast with ErrUnavailable, not wait for a connection until its deadline (no grpc.WaitForReady); got %v", err)
	})

	t.Run("a call without a deadline gets the client's timeout", func(t *testing.T) {
		deadlines := make(chan time.Duration, 1) // how far off the deadline was, as the server saw it; -1 for none
		handler := func(ctx context.Context, _ *dynamicpb.Message) (proto.Message, error) {
			d, ok := ctx.Deadline()
			if !ok {
				deadlines <- -1
			} else {
				deadlines <- time.Until(d)
			}
			return s.response(t, "GetUser", alice), nil
		}
		s.response(t, "GetUser", alice) // fails the test here, not in the handler, when the schema is wrong
		for _, tt := range []struct {
			name string
			opts []Option
			want time.Duration // -1: no deadline
		}{
			{"by default, DefaultTimeout", nil, DefaultTimeout},
			{"WithTimeout(2s)", []Option{WithTimeout(2 * time.Second)}, 2 * time.Second},
			{"WithTimeout(0): none", []Option{WithTimeout(0)}, -1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := fakeClient(t, map[protoreflect.Name]fakeHandler{"GetUser": handler}, tt.opts...)
				_, err := c.GetUser(context.Background(), alice.ID)
				require.NoError(t, err, "GetUser")
				var got time.Duration
				select {
				case got = <-deadlines:
				default:
					t.Fatal("GetUser answered without reaching the server")
				}
				if tt.want < 0 {
					assert.Equal(t, time.Duration(-1), got, "WithTimeout(0) leaves a call without a deadline unbounded, but the server saw a deadline %v away", got)
					return
				}
				assert.True(t, got > tt.want-time.Second && got <= tt.want,
					"a call whose context has no deadline must be sent with the client's timeout (%v); the server saw %s", tt.want, describeDeadline(got))
			})
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

// describeDeadline says how far off a deadline was, or that there was none (-1).
func describeDeadline(d time.Duration) string {
	if d < 0 {
		return "no deadline"
	}
	return fmt.Sprintf("a deadline %v away", d.Round(time.Millisecond))
}
