package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkGateway measures what the gateway costs: the same GET to the same loopback upstream,
// once through a bare httputil.ReverseProxy and once through the whole gateway (route match, JWT
// check, rate limit, round robin over the registry, metrics and a JSON access log). Run it with
//
//	go test -bench Gateway -run '^$' ./ex06-gateway/
//
// and compare the ns/op of the two: the README states the ratio measured on the reference
// solution. The client, the proxy and the upstream all run in the benchmark's process.
func BenchmarkGateway(b *testing.B) {
	up := startUpstream(b, "users-1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"42","name":"Ada"}`)
	})
	target, err := url.Parse(up.srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
	})
	b.Cleanup(bare.Close)

	registry := NewMemoryRegistry()
	register(b, registry, up.info(b, "users"))
	gw, err := NewAPIGateway(Config{
		Routes:   []RouteConfig{{ServiceName: "users", Path: "/users", Methods: []string{"GET"}, Auth: true, RateLimit: &RateLimit{RequestsPerSecond: 1e9}}},
		Registry: registry,
		JWT:      jwtConfig(),
		Metrics:  prometheus.NewRegistry(),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	full := httptest.NewServer(gw)
	b.Cleanup(full.Close)
	token := sign(b, testKeys().current, claimsFor("alice", time.Now()))

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	get := func(b *testing.B, base string) {
		req, err := http.NewRequest(http.MethodGet, base+"/users/42", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s/users/42: %s", base, resp.Status)
		}
	}

	for _, s := range []struct{ name, url string }{{"bare-proxy", bare.URL}, {"gateway", full.URL}} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get(b, s.url)
			}
		})
		b.Run(s.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, s.url)
				}
			})
		})
	}
}
