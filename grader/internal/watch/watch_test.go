package watch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// screens records what each grading wrote, and hands each screen to the test.
type screens struct {
	mu   sync.Mutex
	buf  strings.Builder
	done chan string
}

func (s *screens) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// graded is Config.Graded: it hands the screen written since the last one to the test.
func (s *screens) graded() {
	s.mu.Lock()
	screen := s.buf.String()
	s.buf.Reset()
	s.mu.Unlock()
	s.done <- screen
}

func (s *screens) next(t *testing.T) string {
	t.Helper()
	select {
	case screen := <-s.done:
		return screen
	case <-time.After(30 * time.Second):
		t.Fatal("no grading within 30s")
		return ""
	}
}

func TestRunGradesOnceThenOnEveryChange(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &screens{done: make(chan string, 16)}
	var (
		mu    sync.Mutex
		count int
	)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{
			Dirs: []string{dir}, Out: out, Lang: i18n.English, Debounce: 20 * time.Millisecond, Graded: out.graded,
			Grade: func(ctx context.Context, w io.Writer) error {
				mu.Lock()
				count++
				n := count
				mu.Unlock()
				fmt.Fprintf(w, "grading %d\n", n)
				return nil
			},
		})
	}()
	first := out.next(t)
	assert.Contains(t, first, "grading 1")
	assert.Contains(t, first, "watching "+filepath.Base(dir)+"/ for changes; Ctrl-C to stop")
	assert.NotContains(t, first, "changed:", "the first grading is not for a change")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "breaker.go"), []byte("package breaker\n"), 0o644))
	second := out.next(t)
	assert.Contains(t, second, "changed: "+filepath.Join(filepath.Base(dir), "breaker.go"))
	assert.Contains(t, second, "grading 2")

	// A directory made after the watch started is watched too.
	sub := filepath.Join(dir, "internal")
	require.NoError(t, os.Mkdir(sub, 0o755))
	out.next(t)
	require.NoError(t, os.WriteFile(filepath.Join(sub, "store.go"), []byte("package internal\n"), 0o644))
	assert.Contains(t, out.next(t), "changed: "+filepath.Join(filepath.Base(dir), "internal", "store.go"))

	cancel()
	select {
	case err := <-errc:
		assert.NoError(t, err, "stopping the watch is not an error")
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

func TestRunStopsDuringAGrading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Dirs: []string{t.TempDir()}, Out: io.Discard, Grade: func(ctx context.Context, _ io.Writer) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}})
	}()
	<-started
	cancel()
	select {
	case err := <-errc:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended during a grading")
	}
}

func TestRelevant(t *testing.T) {
	cases := []struct {
		name string
		ev   fsnotify.Event
		want bool
	}{
		{"a Go file written", fsnotify.Event{Name: "/w/ex07-breaker/breaker.go", Op: fsnotify.Write}, true},
		{"a file removed", fsnotify.Event{Name: "/w/ex07-breaker/old.go", Op: fsnotify.Remove}, true},
		{"a file renamed into place", fsnotify.Event{Name: "/w/ex07-breaker/breaker.go", Op: fsnotify.Create}, true},
		{"a change of mode", fsnotify.Event{Name: "/w/ex07-breaker/breaker.go", Op: fsnotify.Chmod}, false},
		{"vim's swap file", fsnotify.Event{Name: "/w/ex07-breaker/.breaker.go.swp", Op: fsnotify.Write}, false},
		{"vim's probe", fsnotify.Event{Name: "/w/ex07-breaker/4913", Op: fsnotify.Create}, false},
		{"a backup", fsnotify.Event{Name: "/w/ex07-breaker/breaker.go~", Op: fsnotify.Create}, false},
		{"emacs's lock", fsnotify.Event{Name: "/w/ex07-breaker/#breaker.go#", Op: fsnotify.Create}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, relevant(tc.ev)) })
	}
}
