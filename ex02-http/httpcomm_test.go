package httpcomm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests give quick feedback while you work. The graded criteria are in criteria_test.go.

// TestHTTPServiceCommunication is the exercise's original test. The only change: a
// require.NoError before user is dereferenced, so that an unfinished GetUser fails the test
// instead of crashing it.
func TestHTTPServiceCommunication(t *testing.T) {
	// Mock server for testing
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/users/u1":
			json.NewEncoder(w).Encode(User{ID: "u1", Email: "test@example.com"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer server.Close()

	client := NewUserServiceClient(server.URL)

	user, err := client.GetUser(context.Background(), "u1")
	require.NoError(t, err)
	assert.Equal(t, "test@example.com", user.Email)
}

// TestUserRoundTrip creates a user through the provided user service and reads it back.
func TestUserRoundTrip(t *testing.T) {
	sys := newSystem(t)
	ctx := t.Context()

	require.NoError(t, sys.userClient.CreateUser(ctx, User{ID: "ada", Email: "ada@example.com", Name: "Ada"}))
	got, err := sys.userClient.GetUser(ctx, "ada")
	require.NoError(t, err)
	assert.Equal(t, User{ID: "ada", Email: "ada@example.com", Name: "Ada"}, *got)
}

// TestErrorsAreMatchable shows how a caller tells failures apart: errors.Is and errors.As,
// never the text of the error.
func TestErrorsAreMatchable(t *testing.T) {
	sys := newSystem(t)
	ctx := t.Context()

	_, err := sys.userClient.GetUser(ctx, "nobody")
	assert.ErrorIs(t, err, ErrNotFound, "GET of an unknown user answers 404")

	err = sys.userClient.CreateUser(ctx, User{ID: "bob"}) // no email
	assert.ErrorIs(t, err, ErrValidation, "the user service answers 422 for a user without an email")
	var verr *ValidationError
	if assert.ErrorAs(t, err, &verr) {
		assert.Equal(t, "email is required", verr.Message, "the ValidationError carries the service's message")
	}
}

// TestRetriesWithoutSleeping shows how to watch the retries: inject a Sleeper that records the
// waits instead of sleeping.
func TestRetriesWithoutSleeping(t *testing.T) {
	srv := newScriptedServer(t, step{status: http.StatusServiceUnavailable}, step{status: http.StatusOK, body: `{"id":"u1","email":"a@example.com"}`})
	sleeper := &sleepRecorder{}
	client := NewUserServiceClient(srv.URL, WithSleeper(sleeper.sleep), WithRand(func() float64 { return 0 }))

	user, err := client.GetUser(t.Context(), "u1")
	require.NoError(t, err, "a 503 and then a 200: the retry must succeed")
	assert.Equal(t, "a@example.com", user.Email)
	assert.EqualValues(t, 2, srv.hits.Load(), "one failed attempt and one retry")
	assert.Len(t, sleeper.get(), 1, "one wait between the two attempts")
}
