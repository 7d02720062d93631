package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	probeOnce sync.Once
	probePath string
	probeErr  error
)

// probe builds testdata/probe once and returns its path, readable by every user.
func probe(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sandbox-probe-")
		if err != nil {
			probeErr = err
			return
		}
		probePath = filepath.Join(dir, "probe")
		out, err := exec.Command("go", "build", "-o", probePath, "./testdata/probe").CombinedOutput()
		if err != nil {
			probeErr = err
			probePath = string(out)
			return
		}
		probeErr = MakeReadable(dir)
	})
	require.NoError(t, probeErr, probePath)
	return probePath
}

// bubblewrap returns a bubblewrap sandbox, or skips the test when bwrap cannot run here.
func bubblewrap(t *testing.T, lim Limits) *Sandbox {
	t.Helper()
	s, err := New(context.Background(), Config{Kind: Bubblewrap, Limits: lim})
	if err != nil {
		t.Skipf("needs bwrap (bubblewrap) and prlimit: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func run(t *testing.T, s *Sandbox, spec Spec) (Result, string) {
	t.Helper()
	var out strings.Builder
	spec.Stdout = &syncWriter{w: &out}
	if spec.Executable == "" {
		spec.Executable = probe(t)
	}
	res, err := s.Run(context.Background(), spec)
	require.NoError(t, err)
	return res, out.String()
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// tree makes a small module tree: go.mod and ex/a.txt.
func tree(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "sandbox-tree-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module m\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "ex"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "ex", "a.txt"), []byte("a"), 0o644))
	require.NoError(t, MakeReadable(root))
	return root
}

func TestBubblewrapIsolation(t *testing.T) {
	s := bubblewrap(t, Limits{})
	root := tree(t)
	t.Setenv("WORKBOOK_SECRET_FOR_TEST", "hunter2")

	t.Run("identity and working directory", func(t *testing.T) {
		_, out := run(t, s, Spec{Root: root, Dir: "ex", Args: []string{"id"}})
		assert.Contains(t, out, "uid 65534 ")
		assert.Contains(t, out, "wd /work/ex")
		assert.NotContains(t, out, "pid 1 ", "the program runs under a reaper, in its own PID namespace")
	})
	t.Run("environment", func(t *testing.T) {
		_, out := run(t, s, Spec{Args: []string{"env"}, Env: []string{"GOTRACEBACK=all"}})
		assert.NotContains(t, out, "hunter2", "the grader's environment must not reach the sandbox")
		assert.Contains(t, out, "env HOME=/tmp")
		assert.Contains(t, out, "env GOTRACEBACK=all")
	})
	t.Run("files", func(t *testing.T) {
		wd, err := os.Getwd()
		require.NoError(t, err)
		_, out := run(t, s, Spec{Root: root, Dir: "ex", Args: []string{"read",
			"/work/ex/a.txt", "/work/go.mod", filepath.Join(wd, "sandbox.go"), "/etc/shadow", "/root/.bashrc",
			"/usr/local/go/VERSION", "/proc/self/status"}})
		assert.Contains(t, out, "read /work/ex/a.txt true")
		assert.Contains(t, out, "read /work/go.mod true")
		assert.Contains(t, out, "read "+filepath.Join(wd, "sandbox.go")+" false", "the grader's files must be out of sight")
		assert.Contains(t, out, "read /etc/shadow false")
		assert.Contains(t, out, "read /root/.bashrc false")
		assert.Contains(t, out, "read /usr/local/go/VERSION false")
		assert.Contains(t, out, "read /proc/self/status true")
	})
	t.Run("writes", func(t *testing.T) {
		_, out := run(t, s, Spec{Root: root, Dir: "ex", Args: []string{"write",
			"/work/ex/a.txt", "/work/ex/new.txt", "/tmp/x", "/usr/bin/x", "/etc/hosts", "/work/go.mod"}})
		assert.Contains(t, out, "write /work/ex/a.txt false", "the module tree's files are read-only")
		assert.Contains(t, out, "write /work/go.mod false")
		assert.Contains(t, out, "write /work/ex/new.txt true", "new files may be written beside them")
		assert.Contains(t, out, "write /tmp/x true")
		assert.Contains(t, out, "write /usr/bin/x false")
		assert.Contains(t, out, "write /etc/hosts false")
		data, err := os.ReadFile(filepath.Join(root, "ex", "a.txt"))
		require.NoError(t, err)
		assert.Equal(t, "a", string(data))
		assert.NoFileExists(t, filepath.Join(root, "ex", "new.txt"), "what a run writes stays in the run")
	})
	t.Run("network", func(t *testing.T) {
		_, out := run(t, s, Spec{Args: []string{"net"}})
		assert.Contains(t, out, "listen true")
		assert.Contains(t, out, "loopback true")
		assert.Contains(t, out, "outside false")
	})
	t.Run("descriptors", func(t *testing.T) {
		inR, inW, err := os.Pipe()
		require.NoError(t, err)
		outR, outW, err := os.Pipe()
		require.NoError(t, err)
		_, err = inW.WriteString("secret")
		require.NoError(t, err)
		require.NoError(t, inW.Close())
		_, _ = run(t, s, Spec{Args: []string{"fds"}, ExtraFiles: []*os.File{inR, outW}})
		require.NoError(t, inR.Close())
		require.NoError(t, outW.Close())
		got, err := readAll(outR)
		require.NoError(t, err)
		assert.Equal(t, "got secret", got)
	})
}

// TestProgramsOutOfTheSandboxUsersReach runs, as root, a program installed where only root may
// look (go install puts them in /root/go/bin): the sandbox's user must still be able to run it.
func TestProgramsOutOfTheSandboxUsersReach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs as root only: the sandbox runs programs as nobody when the grader is root")
	}
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	hidden := filepath.Join(private, "hidden")
	require.NoError(t, copyExecutable(hidden, probe(t)))
	require.NoError(t, os.Chmod(hidden, 0o700))
	bubblewrap(t, Limits{}) // skips when bubblewrap cannot run here at all
	s, err := New(context.Background(), Config{Kind: Bubblewrap, Programs: map[string]string{"hidden": hidden}})
	require.NoError(t, err, "a program only root can reach must not make the sandbox unavailable")
	t.Cleanup(func() { s.Close() })
	_, out := run(t, s, Spec{Args: []string{"run", "hidden", "id"}})
	assert.Contains(t, out, "run hidden: uid 65534 ", "a program under a directory only root can traverse must run in the sandbox")
	info, err := os.Stat(hidden)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "the installed program itself is left as it was")
}

func TestBubblewrapLimits(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		s := bubblewrap(t, Limits{Memory: 256 << 20})
		res, out := run(t, s, Spec{Args: []string{"hog"}, Timeout: time.Minute})
		assert.Equal(t, KilledMemory, res.Killed, out)
	})
	t.Run("tasks", func(t *testing.T) {
		s := bubblewrap(t, Limits{Tasks: 64})
		_, out := run(t, s, Spec{Args: []string{"fork"}, Timeout: time.Minute})
		assert.Regexp(t, `started [0-9]\b|started [1-5][0-9]\b|started 6[0-3]\b`, out, "at most 64 tasks, threads included")
	})
	t.Run("file size", func(t *testing.T) {
		s := bubblewrap(t, Limits{FileSize: 4 << 20})
		_, out := run(t, s, Spec{Args: []string{"bigfile", "/tmp/big"}})
		assert.NotContains(t, out, "wrote MiB 64", "a file may not grow past the limit")
	})
}

// TestNothingOutlivesARun starts a process that leaves a detached child holding the output
// pipe: the run ends at once, within its timeout, and the child is gone.
func TestNothingOutlivesARun(t *testing.T) {
	for _, kind := range []Kind{Bubblewrap, None} {
		t.Run(string(kind), func(t *testing.T) {
			var s *Sandbox
			if kind == Bubblewrap {
				s = bubblewrap(t, Limits{})
			} else {
				var err error
				s, err = New(context.Background(), Config{Kind: None})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
			}
			marker := randomMarker(t)
			res, out := run(t, s, Spec{Args: []string{"detach", marker}, Timeout: 30 * time.Second})
			assert.Contains(t, out, "detached")
			assert.Less(t, res.Elapsed, 10*time.Second, "a detached child holding the pipe must not hold the run")
			if kind == None {
				t.Skip("without a sandbox a child in its own session can outlive the run (documented)")
			}
			assert.Empty(t, processesWith(t, marker), "a process of the run is still alive")
		})
	}
}

func TestTimeout(t *testing.T) {
	s := bubblewrap(t, Limits{})
	marker := randomMarker(t)
	res, _ := run(t, s, Spec{Args: []string{"sleep", marker}, Timeout: 500 * time.Millisecond})
	assert.Equal(t, KilledTimeout, res.Killed)
	assert.Less(t, res.Elapsed, 5*time.Second)
	assert.Empty(t, processesWith(t, marker))
}

func TestDirect(t *testing.T) {
	s, err := New(context.Background(), Config{Kind: None})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	t.Setenv("WORKBOOK_SECRET_FOR_TEST", "hunter2")
	root := tree(t)
	_, out := run(t, s, Spec{Root: root, Dir: "ex", Args: []string{"write", "a.txt"}})
	assert.Contains(t, out, "write a.txt true", "a run gets a fresh copy of its tree")
	data, err := os.ReadFile(filepath.Join(root, "ex", "a.txt"))
	require.NoError(t, err)
	assert.Equal(t, "a", string(data), "the run's copy, not the tree, was written")
	_, out = run(t, s, Spec{Args: []string{"env"}})
	assert.NotContains(t, out, "hunter2")
}

func randomMarker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "marker-" + hex.EncodeToString(b)
}

// processesWith returns the host processes whose command line contains marker.
func processesWith(t *testing.T, marker string) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var found []string
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && strings.Contains(string(data), marker) {
			found = append(found, filepath.Base(d))
		}
	}
	return found
}

func readAll(f *os.File) (string, error) {
	defer f.Close()
	data, err := io.ReadAll(f)
	return string(data), err
}
