package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test doubles shared by the tests of this package.

// errInjected is what a step made to fail returns in these tests.
var errInjected = errors.New("injected failure")

// fakeClock is a Clock that moves only when the test advances it or when the code under test
// sleeps on it: Sleep returns at once, after moving the clock and recording the wait.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

// newFakeClock returns a clock set far from the real time, so that code reading time.Now instead
// of its Clock is caught.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

// Waits returns the durations the code under test slept, in order.
func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// quietLogger discards what the code under test logs.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// callLog records the calls of the steps that it builds, in order: "do <name>" for an action,
// "undo <name>" for a compensation.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(call string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, call)
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// steps returns steps with the given names whose actions and compensations succeed and record
// their calls.
func (l *callLog) steps(names ...string) []SagaStep {
	steps := make([]SagaStep, len(names))
	for i, name := range names {
		steps[i] = SagaStep{
			Name:       name,
			Action:     func(context.Context, any) error { l.add("do " + name); return nil },
			Compensate: func(context.Context, any) error { l.add("undo " + name); return nil },
		}
	}
	return steps
}

// failing returns an action that records its call and returns err.
func (l *callLog) failing(name string, err error) func(context.Context, any) error {
	return func(context.Context, any) error { l.add("do " + name); return err }
}

// flaky returns a compensation that records its call and fails its first failures calls.
func (l *callLog) flaky(name string, failures int, err error) func(context.Context, any) error {
	var mu sync.Mutex
	calls := 0
	return func(context.Context, any) error {
		l.add("undo " + name)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= failures {
			return fmt.Errorf("attempt %d: %w", calls, err)
		}
		return nil
	}
}

// newSaga returns a saga with the given steps on a fake clock, with a discarded log.
func newSaga(id string, steps []SagaStep) (*Saga, *fakeClock) {
	clock := newFakeClock()
	return &Saga{ID: id, Steps: steps, Data: map[string]string{"saga": id}, Clock: clock, Logger: quietLogger()}, clock
}

// executeWithin runs s.Execute(ctx) and returns its error, failing the test when it has not
// returned within the given time.
func executeWithin(t *testing.T, ctx context.Context, s *Saga, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Execute(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		require.FailNow(t, "Execute did not return", "saga %q still running after %v: does it wait for a step past its timeout, or sleep on time instead of its Clock?", s.ID, within)
		return nil
	}
}

// logRecorder is a slog.Handler that keeps every record's attributes, groups flattened to
// their last key, values as strings.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]map[string]string
	attrs   []slog.Attr
}

func newLogRecorder() logRecorder {
	return logRecorder{mu: &sync.Mutex{}, records: &[]map[string]string{}}
}

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := map[string]string{}
	var add func(a slog.Attr)
	add = func(a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				add(g)
			}
			return
		}
		rec[a.Key] = a.Value.Resolve().String()
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(slices.Clone(h.attrs), attrs...)
	return h
}

func (h logRecorder) WithGroup(string) slog.Handler { return h }

// sagaStates are the names of the saga states, as logged.
var sagaStates = []string{"pending", "completed", "failed", "compensating", "compensated"}

// transitions returns the logged transitions of saga id between saga states, as "from -> to".
func (h logRecorder) transitions(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var got []string
	for _, rec := range *h.records {
		from, to := rec["from"], rec["to"]
		if rec["saga"] == id && slices.Contains(sagaStates, from) && slices.Contains(sagaStates, to) {
			got = append(got, from+" -> "+to)
		}
	}
	return got
}

// transitionStep returns the step attribute of the logged transition of saga id to state to.
func (h logRecorder) transitionStep(id, to string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rec := range *h.records {
		if rec["saga"] == id && rec["to"] == to {
			return rec["step"]
		}
	}
	return ""
}

// shop is the three services of the order saga, with the stock they started with.
type shop struct {
	orders    *OrderService
	payments  *PaymentService
	inventory *InventoryService
	initial   map[string]int
}

func newShop(stock map[string]int) *shop {
	return &shop{
		orders:    NewOrderService(),
		payments:  NewPaymentService(),
		inventory: NewInventoryService(stock),
		initial:   stock,
	}
}

// saga returns the order saga for order under the given id, on clock, with a discarded log.
func (s *shop) saga(id string, order OrderData, clock Clock) *Saga {
	sg := CreateOrderSaga(s.orders, s.payments, s.inventory)
	if sg == nil {
		return &Saga{ID: id}
	}
	sg.ID, sg.Data, sg.Clock, sg.Logger = id, order, clock, quietLogger()
	return sg
}

// confirmed returns the confirmed orders by order id.
func (s *shop) confirmed() map[string]Order {
	confirmed := map[string]Order{}
	for _, o := range s.orders.Orders() {
		if o.Status == OrderConfirmed {
			confirmed[o.OrderID] = o
		}
	}
	return confirmed
}

// assertInvariants checks what must hold once every saga has finished: stock never negative and
// equal to the initial stock minus the confirmed orders; every charge not refunded belongs to a
// confirmed order, and each confirmed order was charged exactly once, its amount.
func (s *shop) assertInvariants(t *testing.T) {
	t.Helper()
	confirmed := s.confirmed()
	taken := map[string]int{}
	for _, o := range s.orders.Orders() {
		if o.Status == OrderConfirmed {
			taken[o.ProductID] += o.Quantity
		}
	}
	for product, initial := range s.initial {
		got := s.inventory.Available(product)
		assert.GreaterOrEqual(t, got, 0, "stock of %q is negative", product)
		assert.Equal(t, initial-taken[product], got,
			"stock of %q: want the initial %d minus the %d items of confirmed orders", product, initial, taken[product])
	}
	charged := map[string]int{}
	for _, p := range s.payments.Payments() {
		if p.Refunded {
			continue
		}
		charged[p.OrderID]++
		o, ok := confirmed[p.OrderID]
		if assert.True(t, ok, "payment %q (%d cents) for order %q is neither refunded nor for a confirmed order", p.Key, p.Amount, p.OrderID) {
			assert.Equal(t, o.Amount, p.Amount, "payment %q charged a different amount than order %q", p.Key, p.OrderID)
		}
	}
	for id := range confirmed {
		assert.Equal(t, 1, charged[id], "confirmed order %q must be charged exactly once (charges not refunded)", id)
	}
}

// recordingStore is a Store for the tests of other criteria than persistence: it keeps every
// record saved, so that those tests do not depend on the exercise's own stores.
type recordingStore struct {
	mu    sync.Mutex
	saves map[string][]Record
}

func newRecordingStore() *recordingStore { return &recordingStore{saves: map[string][]Record{}} }

func (s *recordingStore) Save(_ context.Context, rec Record) error {
	if rec.ID == "" {
		return ErrInvalidInput
	}
	rec.Steps, rec.Data = slices.Clone(rec.Steps), slices.Clone(rec.Data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves[rec.ID] = append(s.saves[rec.ID], rec)
	return nil
}

func (s *recordingStore) Load(_ context.Context, id string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	saves := s.saves[id]
	if len(saves) == 0 {
		return Record{}, ErrSagaNotFound
	}
	return saves[len(saves)-1], nil
}

func (s *recordingStore) List(context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []Record
	for _, saves := range s.saves {
		if last := saves[len(saves)-1]; !last.State.Final() {
			recs = append(recs, last)
		}
	}
	slices.SortFunc(recs, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return recs, nil
}

// count returns how many records were saved, for every saga.
func (s *recordingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, saves := range s.saves {
		n += len(saves)
	}
	return n
}

// stepErrors returns every *StepError in err's tree.
func stepErrors(err error) []*StepError {
	var found []*StepError
	var walk func(err error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if se, ok := err.(*StepError); ok {
			found = append(found, se)
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return found
}
