// Package gotest builds an exercise's test binary and runs it in a sandbox, one verdict per
// requested test. Verdicts come only from the grader's authenticated channel (see verdict.go):
// a test counts as passed only when the channel reports an explicit pass for it. A panic, a
// timeout or a build failure is reported as such, never as a pass. What the binary prints is
// kept, capped, to explain failures; it decides nothing.
package gotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
)

// Status is the verdict on one test.
type Status string

// The verdicts.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Skip    Status = "skip"
	Panic   Status = "panic"   // the test started and the binary died before its verdict
	Timeout Status = "timeout" // the binary's time limit expired while the test ran
	NotRun  Status = "not_run" // the test never started
)

// Result is the verdict on one top-level test, with what it printed (capped).
type Result struct {
	Test   string
	Status Status
	// Output is what the test and its subtests printed.
	Output string
	// FailedTests are the deepest (sub)tests that failed.
	FailedTests []string
	// Failures are the failed checks found in Output.
	Failures []Failure
}

// Run is the outcome of running a test binary, reruns included.
type Run struct {
	// Results holds a verdict for each requested test.
	Results map[string]*Result
	// Race is set when the race detector reported a data race.
	Race bool
	// Output is what the binary printed outside any test (capped).
	Output string
	// Forged counts lines on the verdict channel that did not verify; ForgedLine is the
	// first. Honest code never writes there.
	Forged     int
	ForgedLine string
	// Killed says why the sandbox stopped a run, if it did ("timeout", "memory").
	Killed string
	// Runs is how many times the binary was run.
	Runs int
}

// BuildOptions configure a build.
type BuildOptions struct {
	// Dir is the module root of the tree to build in.
	Dir string
	// Packages are the packages to test, relative to Dir ("./ex07-breaker"). The last
	// elements of their paths must differ: they name the binaries.
	Packages []string
	// OutDir is the directory the test binaries are written to, one per package, named
	// after the package's directory: OutDir/ex07-breaker.test.
	OutDir string
	// Race builds with the race detector (which needs cgo).
	Race bool
	// Env is the go command's complete environment.
	Env []string
	// OutputCap bounds the compiler output kept. Default 16 KiB.
	OutputCap int
	// Go is the go command. Default "go".
	Go string
	// Check also builds the packages and their subpackages without their test files first.
	Check bool
}

// Build is the outcome of building one package's test binary.
type Build struct {
	// Failed is set when the package, its subpackages or its tests did not compile.
	Failed bool
	// Output holds the compiler's messages (capped).
	Output string
	// Binary is the test binary's path, when it was built.
	Binary string
}

// BuildTests compiles, with Check, the packages' non-test code and subpackages (so that code
// referring to identifiers that only test files declare is refused, as `go build` would), then
// their test binaries, with one go command for all of them. No code of the packages runs: the
// build runs no cgo (callers refuse packages that use it) and no generators. The result maps
// each of opts.Packages to its build.
func BuildTests(ctx context.Context, opts BuildOptions) (map[string]*Build, error) {
	if opts.OutputCap <= 0 {
		opts.OutputCap = 16 << 10
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	out := map[string]*Build{}
	for _, p := range opts.Packages {
		out[p] = &Build{}
	}
	// Every step builds with the same flags, so that they share the build cache: -trimpath
	// keeps the throwaway tree's path out of its keys, so that code built before (the same
	// solution, the same dependencies) is not compiled again.
	flags := BuildFlags(opts.Race)
	if opts.Check {
		var all []string
		for _, p := range opts.Packages {
			all = append(all, p+"/...")
		}
		text, failed, err := goCommand(ctx, opts, append(append(append([]string{"build"}, flags...), "-o", os.DevNull), all...))
		if err != nil {
			return nil, err
		}
		if failed {
			for _, b := range out {
				b.Failed, b.Output = true, text
			}
			return out, nil
		}
	}
	// The binaries need no debugging information (stack traces come from the symbol table),
	// and link faster without it.
	args := append(append(append([]string{"test", "-c"}, flags...), "-ldflags=-s -w", "-vet=off", "-o", opts.OutDir+string(os.PathSeparator)), opts.Packages...)
	text, failed, err := goCommand(ctx, opts, args)
	if err != nil {
		return nil, err
	}
	for _, p := range opts.Packages {
		bin := filepath.Join(opts.OutDir, path.Base(filepath.ToSlash(p))+".test")
		if _, err := os.Stat(bin); err == nil {
			out[p].Binary = bin
			continue
		}
		out[p].Failed = true
		out[p].Output = sectionOf(text, p)
		if !failed && out[p].Output == "" {
			out[p].Output = "the go command wrote no test binary for " + p
		}
	}
	return out, nil
}

// BuildTest builds one package's test binary (see BuildTests).
func BuildTest(ctx context.Context, opts BuildOptions) (*Build, error) {
	if len(opts.Packages) != 1 {
		return nil, errors.New("gotest: BuildTest builds one package")
	}
	builds, err := BuildTests(ctx, opts)
	if err != nil {
		return nil, err
	}
	return builds[opts.Packages[0]], nil
}

// goCommand runs the go command; failed reports a non-zero exit, err a command that could not
// run or a context that ended.
func goCommand(ctx context.Context, opts BuildOptions, args []string) (text string, failed bool, err error) {
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir = opts.Dir
	cmd.Env = opts.Env
	cmd.WaitDelay = 5 * time.Second
	out := &capped{max: opts.OutputCap}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return strings.TrimSpace(out.String()), true, nil
	case err != nil:
		return "", false, fmt.Errorf("go %s: %w", args[0], err)
	}
	return strings.TrimSpace(out.String()), false, nil
}

// sectionOf returns the part of a go command's output about the package in dir ("./x/y"): the
// sections whose "# import/path" header names it; all of it when none does.
func sectionOf(text, dir string) string {
	suffix := strings.TrimPrefix(filepath.ToSlash(dir), ".")
	var keep []string
	in, found := false, false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "# ") {
			header, _, _ := strings.Cut(strings.TrimPrefix(line, "# "), " ")
			in = strings.HasSuffix(header, suffix)
			found = found || in
		}
		if in {
			keep = append(keep, line)
		}
	}
	if !found {
		return text
	}
	return strings.Join(keep, "\n")
}

// BuildFlags returns the build flags every build and vet of one grading shares.
func BuildFlags(race bool) []string {
	if race {
		return []string{"-trimpath", "-race"}
	}
	return []string{"-trimpath"}
}

// Options configure a run of a test binary.
type Options struct {
	// Binary is the test binary, built with the wrapper.
	Binary string
	// Wrapper is the name of the wrapper test written into the build.
	Wrapper string
	// Tests are the top-level tests to run; only these are run and reported.
	Tests []string
	// Sandbox runs the binary.
	Sandbox *sandbox.Sandbox
	// Root is the module tree the binary sees (its package's files), or empty for none.
	Root string
	// Dir is the binary's working directory, relative to Root.
	Dir string
	// Timeout is the binary's -test.timeout; the sandbox allows a little more. Default 2
	// minutes.
	Timeout time.Duration
	// OutputCap bounds the output kept per test and for the package. Default 16 KiB.
	OutputCap int
	// FailFast stops at the first failed test (-test.failfast); later tests are not run,
	// and not run again.
	FailFast bool
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.OutputCap <= 0 {
		o.OutputCap = 16 << 10
	}
}

// Exec runs the requested tests. Tests that did not start because the binary died early (a
// panic in another test, os.Exit) are run again one at a time, so that one crash does not sink
// the tests that never got their turn. It returns an error only when the binary could not be
// run at all or ctx ended.
func Exec(ctx context.Context, opts Options) (*Run, error) {
	opts.defaults()
	run, err := execOnce(ctx, opts, opts.Tests)
	if err != nil {
		return run, err
	}
	for _, name := range opts.Tests {
		if run.Results[name].Status != NotRun || run.Killed == sandbox.KilledMemory || opts.FailFast && anyFailed(run) {
			continue
		}
		again, err := execOnce(ctx, opts, []string{name})
		if err != nil {
			return run, err
		}
		run.Results[name] = again.Results[name]
		run.Race = run.Race || again.Race
		run.Forged += again.Forged
		if run.ForgedLine == "" {
			run.ForgedLine = again.ForgedLine
		}
		run.Runs++
	}
	return run, nil
}

func execOnce(ctx context.Context, opts Options, tests []string) (*Run, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	ours, theirs, err := newChannel()
	if err != nil {
		return nil, err
	}
	defer ours.Close()
	var wg sync.WaitGroup
	var channel channelReport
	wg.Go(func() {
		// The request first, then the end of it (the wrapper reads to EOF), then the
		// verdicts until every holder of the other end is gone.
		_, _ = ours.Write(request(key, tests))
		_ = ours.CloseWrite()
		channel = readChannel(ours, key)
	})
	pr, pw := io.Pipe()
	st := newStream(opts.OutputCap)
	wg.Go(func() {
		st.read(pr, opts.Wrapper)
		_, _ = io.Copy(io.Discard, pr)
	})

	args := []string{
		"-test.run=^" + opts.Wrapper + "$",
		"-test.v=test2json",
		"-test.timeout=" + opts.Timeout.String(),
		"-test.count=1",
		"-test.paniconexit0",
	}
	if opts.FailFast {
		args = append(args, "-test.failfast")
	}
	res, runErr := opts.Sandbox.Run(ctx, sandbox.Spec{
		Root:       opts.Root,
		Dir:        opts.Dir,
		Executable: opts.Binary,
		Args:       args,
		Env:        []string{"GOTRACEBACK=all"},
		ExtraFiles: []*os.File{theirs},
		Stdout:     pw,
		Timeout:    opts.Timeout + 30*time.Second,
	})
	// Every process of the run is dead: closing the grader's copy of the binary's end ends
	// the channel; closing the output pipe ends the stream.
	theirs.Close()
	pw.Close()
	wg.Wait()
	if runErr != nil {
		return nil, runErr
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return verdicts(tests, channel, st, res, opts.Wrapper), nil
}

// verdicts combines the channel's events (which decide) with the output (which explains).
func verdicts(tests []string, ch channelReport, st *stream, res sandbox.Result, wrapper string) *Run {
	run := &Run{
		Results: map[string]*Result{}, Race: st.race, Output: st.pkg.String(),
		Forged: ch.Forged, ForgedLine: ch.FirstForged, Killed: res.Killed, Runs: 1,
	}
	started := map[string]bool{}
	verdict := map[string]Status{}
	for _, ev := range ch.Events {
		switch ev.Event {
		case evRun:
			started[ev.Test] = true
		case evPass:
			verdict[ev.Test] = Pass
		case evFail:
			verdict[ev.Test] = Fail
		case evSkip:
			verdict[ev.Test] = Skip
		}
	}
	for _, name := range tests {
		r := &Result{Test: name, Status: NotRun, Output: st.output(name)}
		switch {
		case verdict[name] != "":
			r.Status = verdict[name]
		case started[name] && (st.timedOut || res.Killed == sandbox.KilledTimeout):
			r.Status = Timeout
		case started[name]:
			r.Status = Panic
		}
		if r.Status == Fail && (strings.Contains(r.Output, "\npanic: ") || strings.HasPrefix(r.Output, "panic: ")) {
			r.Status = Panic
		}
		if r.Status == Panic || r.Status == Timeout {
			r.Output = joinCapped(16<<10, r.Output, lastLines(run.Output, 30))
		}
		if res.Killed == sandbox.KilledMemory && r.Status != Pass {
			r.Output = joinCapped(16<<10, r.Output, "the test binary was stopped: it used more memory than the sandbox allows")
		}
		r.FailedTests = st.failedUnder(name)
		if r.Status == Timeout {
			// The test that hung is the one to look at.
			r.FailedTests = append(st.runningUnder(name, wrapper), r.FailedTests...)
		}
		for _, sub := range st.order {
			if sub == name || strings.HasPrefix(sub, name+"/") {
				r.Failures = append(r.Failures, failures(sub, st.tests[sub].String())...)
			}
		}
		run.Results[name] = r
	}
	return run
}

// anyFailed reports whether a test of the run did not pass.
func anyFailed(run *Run) bool {
	for _, r := range run.Results {
		if r.Status != Pass && r.Status != Skip && r.Status != NotRun {
			return true
		}
	}
	return false
}

func joinCapped(max int, parts ...string) string {
	c := &capped{max: max}
	for _, p := range parts {
		if p == "" {
			continue
		}
		if c.buf.Len() > 0 {
			c.WriteString("\n")
		}
		c.WriteString(p)
	}
	return c.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
