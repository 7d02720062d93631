package httpcomm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Your own tests of the clients: they decide criterion ex02.httptest-integration. Write them in
// this file or in any new _test.go file of this directory, and give them names that the
// workbook's test files do not use (a TestMy… prefix is a good habit). The grader runs them
// against your code and against the reference solution, where they must pass, and against wrong
// implementations of the clients, most of which they should catch. The README says what a good
// suite covers.

// TestMyGetUserAgainstAFakeService shows the style: an httptest server plays the user service,
// a client is pointed at it, and the test checks both what the client returns and what the
// server received.
func TestMyGetUserAgainstAFakeService(t *testing.T) {
	paths := make(chan string, 10) // the handler runs on the server's goroutines: report through a channel
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.EscapedPath()
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != "u1" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "no such user"})
			return
		}
		_ = json.NewEncoder(w).Encode(User{ID: "u1", Email: "ada@example.com", Name: "Ada"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := NewUserServiceClient(srv.URL, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	t.Cleanup(client.CloseIdleConnections)

	user, err := client.GetUser(t.Context(), "u1")
	require.NoError(t, err, "GetUser of a user the server knows")
	assert.Equal(t, &User{ID: "u1", Email: "ada@example.com", Name: "Ada"}, user)
	select {
	case path := <-paths: // sent before the server answered, so it is there already
		assert.Equal(t, "/users/u1", path, "the path GetUser asked for")
	default:
		t.Error("GetUser returned a user, but the server received no request")
	}

	user, err = client.GetUser(t.Context(), "nobody")
	assert.ErrorIs(t, err, ErrNotFound, "the server answered 404")
	assert.Nil(t, user, "a failed GetUser returns no user")
}
