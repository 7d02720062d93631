// Command loadgen places orders through the gateway of a system it starts in this process, and
// reports orders per second, latency percentiles, and how many orders were lost or duplicated.
//
//	go run ./ex10-system/cmd/loadgen -orders 5000 -concurrency 16
//	go run ./ex10-system/cmd/loadgen -orders 5000 -concurrency 16 -stop-payment
//
// Each of -concurrency workers is one customer who places orders of one item, one after the
// other, and never retries. The run stops after -orders orders or -duration, whichever comes
// first. With -stop-payment one payment instance is stopped when half the orders are placed.
// Afterwards loadgen reads every service's data back through the gateway: an order answered 201
// is lost when it is not paid, reserved and notified; it is duplicated when it was charged,
// reserved or notified more than once, or when more orders exist than were answered 201.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	system "github.com/microservices-workbook/workbook/ex10-system"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	orders      int
	concurrency int
	duration    time.Duration
	stopPayment bool
}

func run() error {
	var o options
	flag.IntVar(&o.orders, "orders", 5000, "orders to place at most")
	flag.IntVar(&o.concurrency, "concurrency", 16, "customers placing orders at once")
	flag.DurationVar(&o.duration, "duration", time.Minute, "longest time to place orders")
	flag.BoolVar(&o.stopPayment, "stop-payment", false, "stop one payment instance when half the orders are placed")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if o.orders < 1 || o.concurrency < 1 || o.duration <= 0 {
		return errors.New("-orders, -concurrency and -duration must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sys, err := system.Start(ctx, system.Config{
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sys.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: shutdown:", err)
		}
	}()
	gw := sys.GatewayURL()
	c := &client{http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency}}, base: gw}
	if err := c.waitReady(ctx); err != nil {
		return err
	}

	// The catalogue: one customer per worker, one product with enough stock for every order.
	var product struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/products", map[string]any{"name": "Mug", "price_cents": 1250}, &product, http.StatusCreated); err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPut, "/api/inventory/"+product.ID, map[string]int{"available": o.orders}, nil, http.StatusOK); err != nil {
		return err
	}
	users := make([]user, o.concurrency)
	for i := range users {
		if err := c.do(ctx, http.MethodPost, "/api/users", map[string]string{"name": fmt.Sprint("Customer ", i), "email": fmt.Sprintf("customer%d@example.com", i)}, &users[i], http.StatusCreated); err != nil {
			return err
		}
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("placing up to %d orders with %d customers through %s\n", o.orders, o.concurrency, gw)
	res := place(ctx, c, o, users, product.ID, func() {
		victim := ""
		for _, in := range sys.Instances() {
			if in.Service == system.PaymentService {
				victim = in.ID
				break
			}
		}
		fmt.Printf("stopping %s with %d orders placed\n", victim, o.orders/2)
		if err := sys.StopInstance(ctx, victim); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: stop:", err)
		}
	})
	res.report()
	lost, duplicated, err := check(ctx, c, users, product.ID, res)
	if err != nil {
		return err
	}
	fmt.Printf("lost: %d, duplicated: %d\n", lost, duplicated)
	if lost+duplicated > 0 {
		return errors.New("orders were lost or duplicated")
	}
	return nil
}

type user struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// results is what the workers saw.
type results struct {
	elapsed   time.Duration
	latencies []time.Duration
	statuses  map[int]int
	accepted  map[string][]string // by user id: the ids of the orders answered 201
}

// place runs the workers and calls midway once half the orders are placed, when -stop-payment
// asks for it.
func place(ctx context.Context, c *client, o options, users []user, productID string, midway func()) *results {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := &results{statuses: map[int]int{}, accepted: map[string][]string{}}
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > int64(o.orders) {
					return
				}
				if o.stopPayment && n == int64(o.orders/2) {
					once.Do(midway)
				}
				var created struct {
					ID string `json:"id"`
				}
				t0 := time.Now()
				status, err := c.send(ctx, http.MethodPost, "/api/orders", map[string]any{"user_id": u.ID, "product_id": productID, "quantity": 1}, &created)
				took := time.Since(t0)
				mu.Lock()
				res.latencies = append(res.latencies, took)
				if err != nil {
					status = 0
				}
				res.statuses[status]++
				if status == http.StatusCreated {
					res.accepted[u.ID] = append(res.accepted[u.ID], created.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func (r *results) report() {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	ok := r.statuses[http.StatusCreated]
	fmt.Printf("orders: %d in %v, %d answered 201: %.0f orders/s\n", len(r.latencies), r.elapsed.Round(time.Millisecond), ok, float64(ok)/r.elapsed.Seconds())
	fmt.Printf("latency: p50 %v, p99 %v, max %v\n", pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	fmt.Printf("statuses: %v (0: no answer)\n", r.statuses)
}

// check reads the orders, payments, stock and notifications back, once the events have been
// handled, and counts the lost and duplicated orders.
func check(ctx context.Context, c *client, users []user, productID string, res *results) (lost, duplicated int, err error) {
	accepted := 0
	for _, ids := range res.accepted {
		accepted += len(ids)
	}
	var item struct {
		Reserved int `json:"reserved"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.do(ctx, http.MethodGet, "/api/inventory/"+productID, nil, &item, http.StatusOK); err != nil {
			return 0, 0, err
		}
		if item.Reserved >= accepted || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the consumers are still at work: poll
	}
	lost += max(0, accepted-item.Reserved)
	duplicated += max(0, item.Reserved-accepted)

	var payments []struct {
		OrderID string `json:"order_id"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/payments", nil, &payments, http.StatusOK); err != nil {
		return 0, 0, err
	}
	charged := map[string]int{}
	for _, p := range payments {
		charged[p.OrderID]++
	}
	for _, u := range users {
		var orders []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/orders?user_id="+u.ID, nil, &orders, http.StatusOK); err != nil {
			return 0, 0, err
		}
		paid := map[string]bool{}
		for _, o := range orders {
			if o.Status == system.OrderPaid {
				paid[o.ID] = true
			}
		}
		var notes []struct {
			OrderID string `json:"order_id"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/notifications?to="+u.Email, nil, &notes, http.StatusOK); err != nil {
			return 0, 0, err
		}
		notified := map[string]int{}
		for _, n := range notes {
			notified[n.OrderID]++
		}
		duplicated += max(0, len(paid)-len(res.accepted[u.ID]))
		for _, id := range res.accepted[u.ID] {
			if !paid[id] || charged[id] == 0 || notified[id] == 0 {
				lost++
			}
			if charged[id] > 1 || notified[id] > 1 {
				duplicated++
			}
		}
	}
	return lost, duplicated, nil
}

// client sends JSON requests to the gateway.
type client struct {
	http *http.Client
	base string
}

func (c *client) waitReady(ctx context.Context) error {
	for range 100 {
		if status, err := c.send(ctx, http.MethodGet, "/ready", nil, nil); err == nil && status == http.StatusOK {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the gateway did not get ready")
}

// do sends a request and fails unless the answer has the status want.
func (c *client) do(ctx context.Context, method, path string, in, out any, want int) error {
	status, err := c.send(ctx, method, path, in, out)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, path, status, want)
	}
	return nil
}

// send sends a request and decodes a 2xx answer into out.
func (c *client) send(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 && out != nil {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
