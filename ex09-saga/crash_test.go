package saga

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash test runs a saga in a child process (this test binary, running
// TestSagaCrashHelperProcess) whose steps call the real services here, over HTTP. When the child
// reaches the step where it must die, it is killed with SIGKILL; this process then reopens the
// bbolt file and calls Recover.

const crashEnv = "EX09_SAGA_CRASH_CHILD"

// crashPoint is one phase ("action" or "compensate") of one step (by index) of the order saga.
type crashPoint struct {
	step   int
	phase  string
	effect bool // for the kill point: apply the step's effect before dying
}

// crashRig runs the steps the child asks for on the real services.
type crashRig struct {
	shop     *shop
	saga     *Saga // the order saga whose steps are run for the child
	kill     crashPoint
	fail     crashPoint
	reached  chan struct{} // closed when the child reaches the kill point
	stop     chan struct{} // closed when the test ends
	reachOne sync.Once
}

func (c *crashRig) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.URL.Query().Get("step"))
	if err != nil || i < 0 || i >= len(c.saga.Steps) {
		http.Error(w, "bad step", http.StatusBadRequest)
		return
	}
	phase, step := r.URL.Query().Get("phase"), c.saga.Steps[i]
	fn := step.Action
	if phase == "compensate" {
		fn = step.Compensate
	}
	switch (crashPoint{i, phase, false}) {
	case crashPoint{c.fail.step, c.fail.phase, false}:
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	case crashPoint{c.kill.step, c.kill.phase, false}:
		if c.kill.effect {
			_ = fn(context.WithoutCancel(r.Context()), c.saga.Data)
		}
		c.reachOne.Do(func() { close(c.reached) })
		select { // hold the child in the step until it is killed
		case <-r.Context().Done():
		case <-c.stop:
		}
		return
	}
	if err := fn(r.Context(), c.saga.Data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// runCrash starts the child, kills it at kill, recovers, and checks the outcome.
func runCrash(t *testing.T, kill, fail crashPoint) {
	const id = "saga-crash"
	shop := newShop(map[string]int{"sku-1": 10})
	rig := &crashRig{shop: shop, saga: shop.saga(id, anOrder, newFakeClock()), kill: kill, fail: fail,
		reached: make(chan struct{}), stop: make(chan struct{})}
	require.Len(t, rig.saga.Steps, 3, "the order saga's steps")
	srv := httptest.NewServer(rig)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(rig.stop) })

	db := filepath.Join(t.TempDir(), "sagas.db")
	order, err := json.Marshal(anOrder)
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSagaCrashHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"=1", "EX09_SAGA_URL="+srv.URL, "EX09_SAGA_DB="+db,
		"EX09_SAGA_ID="+id, "EX09_SAGA_ORDER="+string(order))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start(), "starting the child process")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var exitErr error
	waited := false
	wait := func() {
		if !waited {
			exitErr, waited = <-exited, true
		}
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); wait() })

	select {
	case <-rig.reached:
	case exitErr = <-exited:
		waited = true
		require.FailNow(t, "the child ended before reaching the step where it is killed", "exit: %v\n%s", exitErr, out.String())
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the child did not reach the step where it is killed within 30s")
	}
	require.NoError(t, cmd.Process.Kill(), "SIGKILL to the child")
	wait()
	require.Error(t, exitErr, "the child must have been killed")

	store, err := OpenBoltStore(db)
	require.NoError(t, err, "reopening the bbolt file the killed child wrote")
	require.NotNil(t, store, "OpenBoltStore must return the store")
	t.Cleanup(func() { _ = store.Close() })
	unfinished, err := store.List(t.Context())
	require.NoError(t, err, "List")
	require.Len(t, unfinished, 1, "the killed child's saga must be listed as unfinished")
	require.Equal(t, id, unfinished[0].ID)

	sagas, recErr := Recover(t.Context(), store, func(rec Record) (*Saga, error) {
		var data OrderData
		if err := json.Unmarshal(rec.Data, &data); err != nil {
			return nil, fmt.Errorf("decoding the order: %w", err)
		}
		return shop.saga(rec.ID, data, newFakeClock()), nil
	})
	require.Len(t, sagas, 1, "Recover must resume the one unfinished saga (error: %v)", recErr)
	state := sagas[0].State
	rec, err := store.Load(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, state, rec.State, "the store must hold the recovered saga's final state")
	confirmed := shop.confirmed()
	switch state {
	case SagaStateCompleted:
		assert.Contains(t, confirmed, anOrder.OrderID, "a completed saga's order must be confirmed")
		assert.Equal(t, 7, shop.inventory.Available("sku-1"), "a completed saga reserves its 3 items once")
	case SagaStateCompensated:
		assert.Empty(t, confirmed, "a compensated saga's order must not be confirmed")
		assert.Equal(t, 10, shop.inventory.Available("sku-1"), "a compensated saga gives its items back")
	default:
		assert.Fail(t, "saga not finished", "after Recover the saga is %v; want completed or compensated", state)
	}
	if fail.step >= 0 {
		assert.Equal(t, SagaStateCompensated, state, "the saga whose confirm_order failed must end compensated")
	}
	assert.LessOrEqual(t, len(shop.payments.Payments()), 1, "never charge twice: %+v", shop.payments.Payments())
	shop.assertInvariants(t)
	list, err := store.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, list, "no saga left unfinished after Recover")
}

// TestSagaCrashHelperProcess is the child process of the crash tests: it runs the order saga
// with a bbolt store and steps that call the parent's services over HTTP, until it is killed. It
// does nothing unless started by runCrash.
func TestSagaCrashHelperProcess(t *testing.T) {
	if os.Getenv(crashEnv) == "" {
		return
	}
	var order OrderData
	require.NoError(t, json.Unmarshal([]byte(os.Getenv("EX09_SAGA_ORDER")), &order))
	store, err := OpenBoltStore(os.Getenv("EX09_SAGA_DB"))
	require.NoError(t, err)
	s := CreateOrderSaga(NewOrderService(), NewPaymentService(), NewInventoryService(nil))
	require.NotNil(t, s)
	base := os.Getenv("EX09_SAGA_URL")
	call := func(i int, phase string) func(context.Context, any) error {
		return func(ctx context.Context, _ any) error {
			url := fmt.Sprintf("%s/?step=%d&phase=%s", base, i, phase)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s %s: %s", s.Steps[i].Name, phase, body)
			}
			return nil
		}
	}
	for i := range s.Steps {
		s.Steps[i].Action, s.Steps[i].Compensate = call(i, "action"), call(i, "compensate")
	}
	s.ID, s.Data, s.Store, s.StepTimeout = os.Getenv("EX09_SAGA_ID"), order, store, time.Minute
	err = s.Execute(context.Background())
	t.Fatalf("the saga ended instead of being killed: %v (state %v)", err, s.State)
}
