package httpcomm

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A broken suite: it expects what the statement does not say (a 409 reported as a validation
// error), so it fails against the reference solution. It must not meet
// ex02.httptest-integration, however many wrong implementations it fails against.

func TestMyConflictIsAValidationError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"u1 exists already"}`))
	}))
	t.Cleanup(srv.Close)

	err := NewUserServiceClient(srv.URL).CreateUser(t.Context(), User{ID: "u1", Email: "ada@example.com"})
	assert.ErrorIs(t, err, ErrValidation, "a taken id is invalid input")
}
