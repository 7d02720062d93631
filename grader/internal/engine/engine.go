// Package engine builds a module tree's test binary and runs it in the sandbox: the one
// mechanism every graded run goes through, whether it runs the criteria tests against a
// student's code or a student's own tests against the reference solution and its mutants.
//
// A job's tree holds the grader's pristine go.mod and go.sum and the files the job names, and
// nothing else: each exercise builds alone, against the grader's module file, and each job
// starts from its own fresh tree.
package engine

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/gotest"
	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// Config configures an Engine.
type Config struct {
	// Sandbox runs the test binaries.
	Sandbox *sandbox.Sandbox
	// GoMod and GoSum are the module files every tree gets.
	GoMod, GoSum []byte
	// Dir is where the engine makes its trees (a directory of the grader's, never seen by
	// student code but through the sandbox's read-only binds).
	Dir string
	// Env is the go command's environment (see sandbox.GoEnv).
	Env []string
	// Slots bounds the builds and runs done at once. Default 2.
	Slots int
	// OutputCap bounds the output kept per test. Default 16 KiB.
	OutputCap int
	// Log receives a debug line per job. Default: none.
	Log *slog.Logger
}

// Engine runs jobs. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	slots chan struct{}
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Slots <= 0 {
		cfg.Slots = 2
	}
	if cfg.OutputCap <= 0 {
		cfg.OutputCap = 16 << 10
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{cfg: cfg, slots: make(chan struct{}, cfg.Slots)}
}

// Job is one build and run.
type Job struct {
	// Label names the job in its tree's directory name.
	Label string
	// Files are the tree's files, with paths from the module root.
	Files []workspace.File
	// Dir is the package to test, relative to the module root ("ex07-breaker").
	Dir string
	// Package is that package's Go name, for the grader's wrapper.
	Package string
	// Tests are the top-level tests to run.
	Tests []string
	// Race builds and runs with the race detector.
	Race bool
	// Visible chooses the tree's files (by path from the module root) that the run sees, in
	// a tree of their own; nil shows none, AllFiles shows every one (the criteria tests read
	// some of the exercise's sources).
	Visible func(path string) bool
	// Vet also runs go vet on the package and its subpackages.
	Vet bool
	// Timeout bounds one run of the binary (-test.timeout). Default 2 minutes.
	Timeout time.Duration
}

// Outcome is what a job produced.
type Outcome struct {
	Build *gotest.Build
	// Run is nil when the build failed.
	Run *gotest.Run
	// Vet holds go vet's complaints, when asked for and there were any.
	Vet       string
	VetFailed bool
}

// Run builds and runs job. It returns an error only when grading itself fails (a tree cannot
// be written, ctx ends); what the job's code does is in the Outcome.
func (e *Engine) Run(ctx context.Context, job Job) (*Outcome, error) {
	base, err := os.MkdirTemp(e.cfg.Dir, "job-"+sanitize(job.Label)+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(base)
	tree, err := workspace.NewTree(filepath.Join(base, "src"))
	if err != nil {
		return nil, err
	}
	if err := tree.Write("go.mod", e.cfg.GoMod); err != nil {
		return nil, err
	}
	if err := tree.Write("go.sum", e.cfg.GoSum); err != nil {
		return nil, err
	}
	for _, f := range job.Files {
		if f.Path == "go.mod" || f.Path == "go.sum" {
			continue
		}
		if err := tree.Write(f.Path, f.Data); err != nil {
			return nil, err
		}
	}
	pkgDir, err := tree.Path(job.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		return nil, err
	}
	w, err := gotest.WriteWrapper(pkgDir, job.Package, job.Tests)
	if err != nil {
		return nil, err
	}
	binary := filepath.Join(base, "pkg.test")
	env := append([]string{}, e.cfg.Env...)
	if job.Race {
		env = append(env, "CGO_ENABLED=1")
	} else {
		env = append(env, "CGO_ENABLED=0")
	}

	out := &Outcome{}
	start := time.Now()
	var built time.Duration
	defer func() {
		e.cfg.Log.Debug("job", "label", job.Label, "build", built.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	}()
	err = e.slot(ctx, func() error {
		defer func() { built = time.Since(start) }()
		out.Build, err = gotest.BuildTest(ctx, gotest.BuildOptions{
			Dir: tree.Root, Package: "./" + job.Dir, Output: binary, Race: job.Race, Env: env, OutputCap: e.cfg.OutputCap,
		})
		if err != nil || out.Build.Failed || !job.Vet {
			return err
		}
		out.Vet, out.VetFailed, err = vet(ctx, tree.Root, job.Dir, env, w.File, job.Race)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.Build.Output = relative(out.Build.Output, tree.Root)
	out.Vet = relative(out.Vet, tree.Root)
	if out.Build.Failed || len(job.Tests) == 0 {
		return out, nil
	}
	// The wrapper is the grader's, not the student's: it leaves the tree before anything runs.
	if err := os.Remove(w.File); err != nil {
		return nil, err
	}
	root := ""
	if job.Visible != nil {
		seen, err := workspace.NewTree(filepath.Join(base, "visible"))
		if err != nil {
			return nil, err
		}
		for _, f := range append([]workspace.File{{Path: "go.mod", Data: e.cfg.GoMod}}, job.Files...) {
			if job.Visible(f.Path) {
				if err := seen.Write(f.Path, f.Data); err != nil {
					return nil, err
				}
			}
		}
		if err := os.MkdirAll(filepath.Join(seen.Root, filepath.FromSlash(job.Dir)), 0o755); err != nil {
			return nil, err
		}
		root = seen.Root
	}
	if err := sandbox.MakeReadable(base); err != nil {
		return nil, err
	}
	err = e.slot(ctx, func() error {
		out.Run, err = gotest.Exec(ctx, gotest.Options{
			Binary: binary, Wrapper: w.Name, Tests: job.Tests, Sandbox: e.cfg.Sandbox,
			Root: root, Dir: job.Dir, Timeout: job.Timeout, OutputCap: e.cfg.OutputCap,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// slot runs fn once a slot is free.
func (e *Engine) slot(ctx context.Context, fn func() error) error {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.slots }()
	return fn()
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

// relative shows paths in messages relative to the tree, as they are in the checkout.
func relative(s, root string) string {
	return strings.ReplaceAll(s, root+string(filepath.Separator), "")
}

// AllFiles shows a run every file of its tree.
func AllFiles(string) bool { return true }
