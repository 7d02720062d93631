package gotest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
)

// fixture is one of testdata's packages, built as the grader builds an exercise.
type fixture struct {
	root    string
	binary  string
	wrapper string
	build   *Build
}

// buildFixture builds testdata/<name> as package fx of a module with the workbook's go.mod,
// with a wrapper that can run tests.
func buildFixture(t *testing.T, name string, race bool, tests ...string) *fixture {
	t.Helper()
	base, err := os.MkdirTemp("", "gotest-fixture-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "mod")
	pkg := filepath.Join(root, "fx")
	require.NoError(t, os.MkdirAll(pkg, 0o755))
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, f), data, 0o644))
	}
	files, err := filepath.Glob(filepath.Join("testdata", name, "*.go"))
	require.NoError(t, err)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(pkg, filepath.Base(f)), data, 0o644))
	}
	w, err := WriteWrapper(pkg, "fx", tests)
	require.NoError(t, err)
	fx := &fixture{root: root, wrapper: w.Name}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if race {
		env = append(env, "CGO_ENABLED=1")
	}
	fx.build, err = BuildTest(context.Background(), BuildOptions{
		Dir: root, Packages: []string{"./fx"}, OutDir: base, Race: race, Env: env, Check: true,
	})
	require.NoError(t, err)
	fx.binary = fx.build.Binary
	require.NoError(t, sandbox.MakeReadable(base))
	return fx
}

func newSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.New(context.Background(), sandbox.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func (fx *fixture) exec(t *testing.T, s *sandbox.Sandbox, timeout time.Duration, tests ...string) *Run {
	t.Helper()
	require.False(t, fx.build.Failed, fx.build.Output)
	run, err := Exec(context.Background(), Options{
		Binary: fx.binary, Wrapper: fx.wrapper, Tests: tests, Sandbox: s,
		Root: fx.root, Dir: "fx", Timeout: timeout, OutputCap: 8 << 10,
	})
	require.NoError(t, err)
	return run
}

func statuses(run *Run) map[string]Status {
	got := map[string]Status{}
	for name, r := range run.Results {
		got[name] = r.Status
	}
	return got
}

func TestVerdicts(t *testing.T) {
	t.Parallel()
	tests := []string{"TestPass", "TestFail", "TestSkip", "TestSub", "TestParallel", "TestPanic", "TestLater"}
	fx := buildFixture(t, "verdicts", true, tests...)
	run := fx.exec(t, newSandbox(t), time.Minute, tests...)
	assert.Equal(t, map[string]Status{
		"TestPass": Pass, "TestFail": Fail, "TestSkip": Skip, "TestSub": Fail,
		"TestParallel": Fail, "TestPanic": Panic, "TestLater": Pass,
	}, statuses(run), "TestLater never starts in the first run (TestPanic kills the binary) and passes when run again alone")
	assert.Equal(t, 2, run.Runs)
	assert.Zero(t, run.Forged)

	fail := run.Results["TestFail"]
	require.NotEmpty(t, fail.Failures, fail.Output)
	assert.Equal(t, "expected Add(1, 2) to count the carry", fail.Failures[0].Messages,
		"an assertion's Messages must be found even after the code under test logged")
	assert.Contains(t, fail.Failures[0].Error, "Not equal")
	assert.Regexp(t, `^fx_test\.go:[0-9]+$`, fail.Failures[0].Location)

	sub := run.Results["TestSub"]
	assert.Equal(t, []string{"TestSub/bad/deeper"}, sub.FailedTests, "the deepest failing subtest is named")
	require.Len(t, sub.Failures, 1)
	assert.Equal(t, "Add(2, 2) = 4, want 5", sub.Failures[0].Error)
	assert.Equal(t, "TestSub/bad/deeper", sub.Failures[0].Test)

	assert.Equal(t, []string{"TestParallel/two"}, run.Results["TestParallel"].FailedTests,
		"a parallel subtest's verdict is waited for")
	assert.Contains(t, run.Results["TestPanic"].Output, "assignment to entry in nil map")
}

func TestHangIsATimeout(t *testing.T) {
	t.Parallel()
	tests := []string{"TestQuick", "TestHang", "TestLater"}
	fx := buildFixture(t, "hang", false, tests...)
	run := fx.exec(t, newSandbox(t), 2*time.Second, tests...)
	assert.Equal(t, map[string]Status{"TestQuick": Pass, "TestHang": Timeout, "TestLater": Pass}, statuses(run))
}

// TestForgedOutputDecidesNothing runs code that prints passes in every format and writes a
// line of its own on the verdict channel: the verdicts stand, and the line is reported.
func TestForgedOutputDecidesNothing(t *testing.T) {
	t.Parallel()
	fx := buildFixture(t, "forge", false, "TestA", "TestB")
	run := fx.exec(t, newSandbox(t), time.Minute, "TestA", "TestB")
	assert.Equal(t, map[string]Status{"TestA": Fail, "TestB": Fail}, statuses(run))
	assert.Positive(t, run.Forged, "the forger's line does not verify")
}

// TestStolenKeyIsReported runs code that takes the channel's key before the wrapper (through
// os.NewFile, which the review check flags) and writes a whole transcript with it: the
// wrapper, finding the key gone, says so, and the run is reported as forged.
func TestStolenKeyIsReported(t *testing.T) {
	t.Parallel()
	fx := buildFixture(t, "steal", false, "TestA", "TestB")
	run := fx.exec(t, newSandbox(t), time.Minute, "TestA", "TestB")
	assert.Positive(t, run.Forged, "the wrapper's complaint must reach the grader")
}

func TestBuildFailures(t *testing.T) {
	t.Parallel()
	for name, says := range map[string]string{
		"build":   "cannot use",
		"testref": "undefined: want",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := buildFixture(t, name, false, "TestAnswer", "TestExpected")
			assert.True(t, fx.build.Failed)
			assert.Contains(t, fx.build.Output, says)
		})
	}
}

// TestBuildsTogether builds several packages with one go command: each gets its binary, and a
// package that does not compile gets its own compiler messages.
func TestBuildsTogether(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	write := func(rel, src string) {
		p := filepath.Join(base, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	write("go.mod", "module m\n\ngo 1.26\n")
	for _, name := range []string{"one", "two"} {
		write(name+"/x.go", "package x\n\n// F is fine.\nfunc F() int { return 1 }\n")
		write(name+"/x_test.go", "package x\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) {}\n")
	}
	write("bad/x.go", "package x\n\n// F is not.\nfunc F() int { return \"one\" }\n")
	builds, err := BuildTests(context.Background(), BuildOptions{
		Dir: base, Packages: []string{"./one", "./bad", "./two"}, OutDir: filepath.Join(base, "bin"),
		Env: append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0"),
	})
	require.NoError(t, err)
	assert.FileExists(t, builds["./one"].Binary)
	assert.FileExists(t, builds["./two"].Binary)
	assert.True(t, builds["./bad"].Failed)
	assert.Contains(t, builds["./bad"].Output, "bad/x.go")
	assert.NotContains(t, builds["./bad"].Output, "one/", "a package's messages are its own")
}

func TestWrapperNames(t *testing.T) {
	dir := t.TempDir()
	w1, err := WriteWrapper(dir, "fx", []string{"TestA"})
	require.NoError(t, err)
	w2, err := WriteWrapper(dir, "fx", []string{"TestA"})
	require.NoError(t, err)
	assert.Equal(t, w1.Name, w2.Name, "the same tests, the same wrapper: the go command's cache can keep the build")
	w3, err := WriteWrapper(dir, "fx", []string{"TestA", "TestB"})
	require.NoError(t, err)
	assert.NotEqual(t, w1.Name, w3.Name)
	assert.True(t, strings.HasSuffix(w1.File, "_test.go"))
	_, err = WriteWrapper(dir, "fx", []string{"TestA); os.Exit(0); //"})
	assert.Error(t, err)
	_, err = exec.LookPath("go")
	require.NoError(t, err)
}
