package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// screen collects what watch mode writes and lets a test wait for it.
type screen struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newScreen() *screen { return &screen{written: make(chan struct{}, 1)} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	select {
	case s.written <- struct{}{}:
	default:
	}
	return n, err
}

// since returns what was written after offset, and the length so far.
func (s *screen) since(offset int) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()[offset:], s.buf.Len()
}

// waitFor waits until what is written after offset holds every one of want, and returns the
// length at that point; it fails the test after limit.
func (s *screen) waitFor(t *testing.T, offset int, limit time.Duration, want ...string) int {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		text, n := s.since(offset)
		done := true
		for _, w := range want {
			done = done && strings.Contains(text, w)
		}
		if done {
			return n
		}
		select {
		case <-s.written:
		case <-deadline.C:
			t.Fatalf("after %s, still no %q in watch mode's output:\n%s", limit, want, text)
		}
	}
}

// TestWatchGradesEverySave drives watch mode on a copy of the starter: it grades once, sees a
// fix saved and the criterion turn met, then sees a syntax error saved and shows the
// compiler's message, and stops cleanly when its context ends.
func TestWatchGradesEverySave(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errs := newScreen(), newScreen()
	exited := make(chan int, 1)
	go func() {
		exited <- runIn(ctx, dir, []string{"-watch", "-no-cache", "-lang", "en", "ex07.state-machine"}, out, errs)
	}()
	const limit = 4 * time.Minute
	const unmet = "❌ Closed, open and half-open state machine"
	const met = "✅ Closed, open and half-open state machine"
	n := out.waitFor(t, 0, limit, "next: "+unmet, "watching ex07-breaker/ for changes")

	solve(t, dir, "ex07-breaker")
	n = out.waitFor(t, n, limit, "changed: ex07-breaker/", met, "watching ex07-breaker/")

	src := readFile(t, dir, "ex07-breaker/breaker.go")
	writeFile(t, dir, "ex07-breaker/breaker.go", strings.Replace(src, "package breaker", "package breaker\n\nfunc (", 1))
	out.waitFor(t, n, limit, "build failed; the compiler says:", "| ex07-breaker/breaker.go:", "watching ex07-breaker/")

	cancel()
	select {
	case code := <-exited:
		require.Equal(t, exitOK, code, "Ctrl-C ends watch mode cleanly; stderr: %s", errs.buf.String())
	case <-time.After(30 * time.Second):
		t.Fatal("watch mode did not stop when its context ended")
	}
}
