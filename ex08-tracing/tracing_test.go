package tracing

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Quick tests of the system the exercise traces. Most of them pass on the starter already:
// the services work, they are just not traced yet. criteria_test.go holds the criteria.

func TestSeedCalls(t *testing.T) {
	rec, tp := newRecorder(t)
	tracer := tp.Tracer("test")

	// The seed's calls: a middleware from a tracer, a traced service from its fields.
	svc := &TracedUserService{service: testUserService(), tracer: tracer}
	u, err := svc.GetUser(context.Background(), knownUserID)
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", u.Email)

	h := TracingMiddleware(tracer)(NewAPIHandler(svc, nil, nil))
	resp := serveRequest(h, http.MethodGet, "/users/"+knownUserID, nil)
	assert.Equal(t, http.StatusOK, resp.Code, "the middleware passes the request on")
	assert.NotEmpty(t, rec.Ended(), "spans recorded by the middleware and the service (see TestSpansForEachOperation)")
}

func TestUserService(t *testing.T) {
	ctx := context.Background()
	svc := testUserService()
	for name, tc := range map[string]struct {
		id      string
		wantErr error
	}{
		"known user":   {id: knownUserID},
		"unknown user": {id: unknownUserID, wantErr: ErrUserNotFound},
		"empty id":     {id: "", wantErr: ErrInvalidUserID},
	} {
		t.Run(name, func(t *testing.T) {
			u, err := svc.GetUser(ctx, tc.id)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, u.ID)
		})
	}
}

func TestAPIHandler(t *testing.T) {
	api := NewAPIHandler(testUserService(), nil, nil)

	resp := serveRequest(api, http.MethodGet, "/users/"+knownUserID, nil)
	require.Equal(t, http.StatusOK, resp.Code)
	var got map[string]any
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &got))
	assert.Equal(t, "Ada Lovelace", got["name"])
	assert.NotContains(t, resp.Body.String(), secretPasswordHash, "the password hash never leaves the service")

	assert.Equal(t, http.StatusNotFound, serveRequest(api, http.MethodGet, "/users/"+unknownUserID, nil).Code)
}

func TestGRPCUserDirectory(t *testing.T) {
	_, tp := newRecorder(t)
	tel := testTelemetry(tp)
	dial := serveGRPC(t, NewGRPCServer(testUserService(), tel, nil))
	client, err := DialUserDirectory("passthrough:///bufnet", tel, dial)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	u, err := client.GetUser(ctx, knownUserID)
	require.NoError(t, err)
	assert.Equal(t, "Ada Lovelace", u.Name)
	assert.Empty(t, u.PasswordHash, "the password hash does not cross the wire")

	_, err = client.GetUser(ctx, unknownUserID)
	assert.ErrorIs(t, err, ErrUserNotFound, "NotFound comes back as ErrUserNotFound")
}

func TestEvents(t *testing.T) {
	_, tp := newRecorder(t)
	tel := testTelemetry(tp)
	_, nc := runNATS(t)

	got := make(chan string, 1)
	sub, err := Subscribe(nc, UserViewedSubject, tel, func(_ context.Context, msg *nats.Msg) { got <- string(msg.Data) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())

	require.NoError(t, NewEventPublisher(nc, tel).Publish(context.Background(), UserViewedSubject, []byte(knownUserID)))
	select {
	case data := <-got:
		assert.Equal(t, knownUserID, data)
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %v", waitTimeout)
	}
}
