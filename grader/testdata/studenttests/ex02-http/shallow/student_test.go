package httpcomm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A shallow suite: happy paths only, against a fake that accepts whatever it is sent. It must
// not meet ex02.httptest-integration.

func TestMyHappyPaths(t *testing.T) {
	var mu sync.Mutex
	stored := map[string]json.RawMessage{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			var body json.RawMessage
			_ = json.NewDecoder(r.Body).Decode(&body)
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &head)
			stored[r.URL.Path+"/"+head.ID] = body
			w.WriteHeader(http.StatusCreated)
			return
		}
		_, _ = w.Write(stored[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()

	users := NewUserServiceClient(srv.URL)
	require.NoError(t, users.CreateUser(ctx, User{ID: "u1", Email: "ada@example.com"}))
	user, err := users.GetUser(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", user.Email)

	products := NewProductServiceClient(srv.URL)
	require.NoError(t, products.CreateProduct(ctx, Product{ID: "p1", Name: "Mug", Price: 8.5}))
	product, err := products.GetProduct(ctx, "p1")
	require.NoError(t, err)
	assert.Equal(t, "Mug", product.Name)
}
