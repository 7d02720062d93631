// Package gotest runs `go test -json` on one package and turns its event stream into a verdict
// per test. A test counts as passed only when the stream reports an explicit pass for it; a
// panic, a timeout or a build failure is reported as such, never as a pass.
package gotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Status is the verdict on one test.
type Status string

// The verdicts.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Skip    Status = "skip"
	Panic   Status = "panic"   // the test panicked or the test binary died while it ran
	Timeout Status = "timeout" // the test binary's -timeout expired while the test ran
	NotRun  Status = "not_run" // the test never started
)

// Result is the verdict on one top-level test, with what it printed (capped).
type Result struct {
	Test    string
	Status  Status
	Output  string
	Elapsed time.Duration
}

// Run is the outcome of one `go test` invocation.
type Run struct {
	// BuildFailed is set when the package or its tests did not compile (or vet failed).
	BuildFailed bool
	// BuildOutput holds the compiler's messages (capped).
	BuildOutput string
	// Results holds a verdict for each requested test.
	Results map[string]*Result
	// Race is set when the race detector reported a data race.
	Race bool
	// Output is what the test binary printed outside any test (capped).
	Output string
}

// Options configure a run.
type Options struct {
	// Dir is the module root to run in.
	Dir string
	// Package is the package pattern to test, relative to Dir ("./ex07-breaker").
	Package string
	// Tests are the top-level tests to run; only these are run and reported.
	Tests []string
	// Timeout is passed to `go test -timeout`; it bounds the test binary, not the build.
	// Default 2 minutes.
	Timeout time.Duration
	// Race runs the tests with the race detector.
	Race bool
	// Env is the complete environment of the go command.
	Env []string
	// OutputCap bounds the output kept per test and for the package. Default 16 KiB.
	OutputCap int
	// Go is the go command to run. Default "go".
	Go string
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.OutputCap <= 0 {
		o.OutputCap = 16 << 10
	}
	if o.Go == "" {
		o.Go = "go"
	}
}

// Exec runs the requested tests. Tests that did not run because the binary died early (a panic
// in another test, os.Exit) are run again one at a time, so that one crash does not sink the
// tests that never got their turn. It returns an error only when the go command could not be
// run at all or ctx ended.
func Exec(ctx context.Context, opts Options) (*Run, error) {
	opts.defaults()
	run, err := execOnce(ctx, opts, opts.Tests)
	if err != nil || run.BuildFailed {
		return run, err
	}
	for _, name := range opts.Tests {
		if run.Results[name].Status != NotRun {
			continue
		}
		again, err := execOnce(ctx, opts, []string{name})
		if err != nil {
			return run, err
		}
		run.Results[name] = again.Results[name]
		run.Race = run.Race || again.Race
	}
	return run, nil
}

func execOnce(ctx context.Context, opts Options, tests []string) (*Run, error) {
	args := []string{"test", "-json", "-count=1", "-timeout=" + opts.Timeout.String(), "-run", RunPattern(tests)}
	if opts.Race {
		args = append(args, "-race")
	}
	args = append(args, opts.Package)
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir = opts.Dir
	cmd.Env = opts.Env
	killGroup(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &capped{max: opts.OutputCap}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting go test: %w", err)
	}
	run, parseErr := Parse(stdout, tests, opts.OutputCap)
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return run, ctx.Err()
	}
	if parseErr != nil {
		return run, parseErr
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return run, fmt.Errorf("go test: %w", waitErr)
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		// Before Go 1.24 build errors went to stderr; setup errors still do.
		if !anyRan(run) {
			run.BuildFailed = true
		}
		run.BuildOutput = joinCapped(opts.OutputCap, run.BuildOutput, msg)
	}
	return run, nil
}

func anyRan(r *Run) bool {
	for _, res := range r.Results {
		if res.Status != NotRun {
			return true
		}
	}
	return false
}

// RunPattern returns a -run pattern that matches exactly the named top-level tests.
func RunPattern(tests []string) string {
	quoted := make([]string, len(tests))
	for i, t := range tests {
		quoted[i] = regexp.QuoteMeta(t)
	}
	return "^(" + strings.Join(quoted, "|") + ")$"
}

// event is one line of `go test -json` output: a test2json event or a build event.
type event struct {
	Action      string
	Test        string
	Output      string
	Elapsed     float64
	FailedBuild string
	ImportPath  string
}

var timedOut = regexp.MustCompile(`(?m)^panic: test timed out after`)

// Parse reads a `go test -json` stream and returns the verdicts for tests. Output is kept up to
// outputCap bytes per test; events beyond that are still read, so that a verdict printed after a
// flood of output is not lost.
func Parse(r io.Reader, tests []string, outputCap int) (*Run, error) {
	run := &Run{Results: map[string]*Result{}}
	outputs := map[string]*capped{}
	for _, t := range tests {
		run.Results[t] = &Result{Test: t, Status: NotRun}
		outputs[t] = &capped{max: outputCap}
	}
	started := map[string]bool{}
	pkgOut := &capped{max: outputCap}
	buildOut := &capped{max: outputCap}

	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, 1<<20)
		if len(line) > 0 {
			var ev event
			if json.Unmarshal(line, &ev) != nil {
				// Not an event: the go command printed something else (for example a
				// download message). Keep it with the package's output.
				pkgOut.WriteString(string(line) + "\n")
			} else {
				apply(run, ev, started, outputs, pkgOut, buildOut)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return run, err
		}
	}
	run.Output = pkgOut.String()
	run.BuildOutput = buildOut.String()
	for name, res := range run.Results {
		res.Output = outputs[name].String()
		hung := timedOut.MatchString(res.Output) || timedOut.MatchString(run.Output)
		if res.Status == NotRun && started[name] {
			// It started and never finished: the binary died under it.
			res.Status = Panic
			if hung {
				res.Status = Timeout
			}
			res.Output = joinCapped(outputCap, res.Output, lastLines(run.Output, 20))
		}
	}
	return run, nil
}

func apply(run *Run, ev event, started map[string]bool, outputs map[string]*capped, pkgOut, buildOut *capped) {
	switch ev.Action {
	case "build-output":
		buildOut.WriteString(ev.Output)
		return
	case "build-fail":
		run.BuildFailed = true
		return
	}
	if ev.Action == "fail" && ev.Test == "" && ev.FailedBuild != "" {
		run.BuildFailed = true
	}
	if ev.Action == "output" && strings.Contains(ev.Output, "WARNING: DATA RACE") {
		run.Race = true // seen as it streams, so no flood of output can hide it
	}
	top, _, _ := strings.Cut(ev.Test, "/")
	res, ok := run.Results[top]
	if ev.Test == "" || !ok {
		if ev.Action == "output" {
			pkgOut.WriteString(ev.Output)
		}
		return
	}
	switch ev.Action {
	case "run":
		started[top] = true
	case "output":
		outputs[top].WriteString(ev.Output)
	case "pass", "fail", "skip":
		if ev.Test != top {
			return // a subtest; the parent's verdict decides
		}
		res.Elapsed = time.Duration(ev.Elapsed * float64(time.Second))
		switch ev.Action {
		case "pass":
			res.Status = Pass
		case "skip":
			res.Status = Skip
		default:
			res.Status = Fail
			if strings.Contains(outputs[top].String(), "panic: ") {
				res.Status = Panic
			}
		}
	}
}

// readLine reads one line, discarding whatever exceeds max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(line) < max {
			line = append(line, chunk[:min(len(chunk), max-len(line))]...)
		}
		if err != nil || !isPrefix {
			return line, err
		}
	}
}

// capped is a buffer that keeps at most max bytes and notes what it dropped.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	c.WriteString(string(p))
	return len(p), nil
}

func (c *capped) WriteString(s string) {
	room := c.max - c.buf.Len()
	if room <= 0 {
		c.dropped += len(s)
		return
	}
	if len(s) > room {
		c.dropped += len(s) - room
		s = s[:room]
	}
	c.buf.WriteString(s)
}

func (c *capped) String() string {
	if c.dropped > 0 {
		return fmt.Sprintf("%s\n[… %d more bytes of output not kept]\n", c.buf.String(), c.dropped)
	}
	return c.buf.String()
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
