package grpcsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetUser measures the same lookup, one user by id from the same UserService, two
// ways over loopback TCP: gRPC with this exercise's client and server, and HTTP/1.1 with JSON,
// as exercise 02's client does it (a pooled transport, the body drained and closed). Run it with
//
//	go test -bench GetUser -run '^$' ./ex03-grpc/
//
// The HTTP side is written here rather than imported from ex02-http: tests import no package
// of the workbook. It does what ex02's UserServiceClient.GetUser does, without the retries.
func BenchmarkGetUser(b *testing.B) {
	svc := NewUserService()
	_, err := svc.CreateUser(context.Background(), alice)
	if err != nil {
		b.Fatal(err)
	}

	srv := NewServer(nil, nil)
	Register(srv, NewUserGRPCServer(svc, nil))
	grpcClient, err := NewUserGRPCClient(serveTCP(b, srv))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = grpcClient.Close() })

	httpServer := httptest.NewServer(userHandler(svc))
	b.Cleanup(httpServer.Close)
	httpClient := &httpUserClient{
		baseURL: httpServer.URL,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100}},
	}
	b.Cleanup(httpClient.client.CloseIdleConnections)

	lookups := []struct {
		name string
		get  func(ctx context.Context, id string) (*User, error)
	}{
		{"grpc", grpcClient.GetUser},
		{"http-json", httpClient.GetUser},
	}
	for _, l := range lookups {
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := l.get(ctx, alice.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(l.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := l.get(ctx, alice.ID); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// userJSON is the JSON form of a User, as exercise 02 sends it.
type userJSON struct {
	ID         string `json:"id"`
	Email      string `json:"email"`
	Name       string `json:"name,omitempty"`
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	Country    string `json:"country,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
}

// userHandler serves GET /users/{id} from svc as JSON.
func userHandler(svc *UserService) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		u, err := svc.GetUser(r.Context(), r.PathValue("id"))
		switch {
		case errors.Is(err, ErrNotFound):
			http.Error(w, `{"error":"user not found"}`, http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(userJSON{
			ID: u.ID, Email: u.Email, Name: u.Name, Street: u.Address.Street,
			City: u.Address.City, Country: u.Address.Country, PostalCode: u.Address.PostalCode,
		})
	})
	return mux
}

// httpUserClient is the HTTP/JSON lookup of exercise 02, reduced to GetUser.
type httpUserClient struct {
	baseURL string
	client  *http.Client
}

func (c *httpUserClient) GetUser(ctx context.Context, id string) (*User, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/users/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /users/%s: %s", id, resp.Status)
	}
	var u userJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&u); err != nil {
		return nil, err
	}
	return &User{ID: u.ID, Email: u.Email, Name: u.Name, Address: Address{
		Street: u.Street, City: u.City, Country: u.Country, PostalCode: u.PostalCode,
	}}, nil
}
