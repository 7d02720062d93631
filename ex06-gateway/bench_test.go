package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
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
// The client, the proxies and the upstream all run in the benchmark's process. The README states
// the figures measured on the reference solution.
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

	// Each alone, for the allocations per request.
	for _, s := range []struct{ name, url string }{{"bare-proxy", bare.URL}, {"gateway", full.URL}} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get(b, s.url)
			}
		})
	}
	// Both in turn, for their ratio: on a busy machine the two then share the same slowdowns,
	// and the medians leave out the requests that waited for a CPU. throughput-ratio is the
	// gateway's requests per second over the bare proxy's, from the median times.
	b.Run("interleaved", func(b *testing.B) {
		var bareTimes, gwTimes []time.Duration
		for b.Loop() {
			bareTimes = append(bareTimes, timed(func() { get(b, bare.URL) }))
			gwTimes = append(gwTimes, timed(func() { get(b, full.URL) }))
		}
		reportMedians(b, bareTimes, gwTimes)
	})
	b.Run("interleaved-parallel", func(b *testing.B) {
		var mu sync.Mutex
		var bareTimes, gwTimes []time.Duration
		b.RunParallel(func(pb *testing.PB) {
			var bt, gt []time.Duration
			for pb.Next() {
				bt = append(bt, timed(func() { get(b, bare.URL) }))
				gt = append(gt, timed(func() { get(b, full.URL) }))
			}
			mu.Lock()
			defer mu.Unlock()
			bareTimes, gwTimes = append(bareTimes, bt...), append(gwTimes, gt...)
		})
		reportMedians(b, bareTimes, gwTimes)
	})
}

// timed returns how long f took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// reportMedians reports the median time of a request through each proxy, and their ratio.
func reportMedians(b *testing.B, bareTimes, gwTimes []time.Duration) {
	if len(bareTimes) == 0 || len(gwTimes) == 0 {
		return
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	bareMedian, gwMedian := median(bareTimes), median(gwTimes)
	b.ReportMetric(float64(bareMedian.Nanoseconds()), "bare-p50-ns")
	b.ReportMetric(float64(gwMedian.Nanoseconds()), "gateway-p50-ns")
	b.ReportMetric(float64(bareMedian)/float64(gwMedian), "throughput-ratio")
}
