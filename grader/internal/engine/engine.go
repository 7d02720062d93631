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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	// Builds bounds the builds done at once (they use the CPU). Default 2.
	Builds int
	// Runs bounds the test binaries run at once. Runs spend much of their time waiting on
	// bounded waits and timers, so more of them than builds keep the CPU busy. Default 4 ×
	// Builds.
	Runs int
	// OutputCap bounds the output kept per test. Default 16 KiB.
	OutputCap int
	// Log receives a debug line per job. Default: none.
	Log *slog.Logger
}

// Engine runs jobs. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	builds chan struct{}
	runs   chan struct{}
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Builds <= 0 {
		cfg.Builds = 2
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 4 * cfg.Builds
	}
	if cfg.OutputCap <= 0 {
		cfg.OutputCap = 16 << 10
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{cfg: cfg, builds: make(chan struct{}, cfg.Builds), runs: make(chan struct{}, cfg.Runs)}
}

// Job is one build of a tree's packages, each then run.
type Job struct {
	// Label names the job in its tree's directory name.
	Label string
	// Files are the tree's files, with paths from the module root.
	Files []workspace.File
	// Packages are the packages to test. The last elements of their directories must
	// differ.
	Packages []Package
	// Race builds and runs with the race detector.
	Race bool
	// Vet also runs go vet on the packages and their subpackages, and checks that they build
	// without their test files (so that code using names only test files declare is refused).
	Vet bool
	// Timeout bounds one run of a binary (-test.timeout). Default 2 minutes.
	Timeout time.Duration
}

// Package is one package of a job.
type Package struct {
	// Dir is the package's directory, relative to the module root ("ex07-breaker").
	Dir string
	// Name is the package's Go name, for the grader's wrapper.
	Name string
	// Tests are the top-level tests to run.
	Tests []string
	// Visible chooses the tree's files (by path from the module root) that the run sees, in
	// a tree of their own; nil shows none, AllFiles shows every one (the criteria tests read
	// some of the exercise's sources).
	Visible func(path string) bool
	// FailFast stops the run at the first failed test: enough when one failure is the answer.
	FailFast bool
}

// Outcome is what a job produced for one package.
type Outcome struct {
	Build *gotest.Build
	// Run is nil when the build failed.
	Run *gotest.Run
	// Vet holds go vet's complaints, when asked for and there were any.
	Vet       string
	VetFailed bool
}

// Run builds the job's packages with one go command, then runs each binary (several at
// once). It returns an error only when grading itself fails (a tree cannot be written, ctx
// ends); what the job's code does is in the Outcomes, by package directory.
func (e *Engine) Run(ctx context.Context, job Job) (map[string]*Outcome, error) {
	base, err := os.MkdirTemp(e.cfg.Dir, "job-"+sanitize(job.Label)+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(base)
	tree, err := workspace.NewTree(filepath.Join(base, "src"))
	if err != nil {
		return nil, err
	}
	files := append([]workspace.File{{Path: "go.mod", Data: e.cfg.GoMod}, {Path: "go.sum", Data: e.cfg.GoSum}}, job.Files...)
	for i, f := range files {
		if i > 1 && (f.Path == "go.mod" || f.Path == "go.sum") {
			continue
		}
		if err := tree.Write(f.Path, f.Data); err != nil {
			return nil, err
		}
	}
	wrappers := map[string]*gotest.Wrapper{}
	var dirs []string
	for _, p := range job.Packages {
		pkgDir, err := tree.Path(p.Dir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(pkgDir, 0o755); err != nil {
			return nil, err
		}
		if wrappers[p.Dir], err = gotest.WriteWrapper(pkgDir, p.Name, p.Tests); err != nil {
			return nil, err
		}
		dirs = append(dirs, "./"+p.Dir)
	}
	env := append([]string{}, e.cfg.Env...)
	if job.Race {
		env = append(env, "CGO_ENABLED=1")
	} else {
		env = append(env, "CGO_ENABLED=0")
	}

	out := map[string]*Outcome{}
	start := time.Now()
	err = slot(ctx, e.builds, func() error {
		builds, err := gotest.BuildTests(ctx, gotest.BuildOptions{
			Dir: tree.Root, Packages: dirs, OutDir: filepath.Join(base, "bin"), Race: job.Race, Env: env,
			OutputCap: e.cfg.OutputCap, Check: job.Vet,
		})
		if err != nil {
			return err
		}
		for _, p := range job.Packages {
			b := builds["./"+p.Dir]
			b.Output = relative(b.Output, tree.Root)
			out[p.Dir] = &Outcome{Build: b}
			if job.Vet && !b.Failed {
				o := out[p.Dir]
				if o.Vet, o.VetFailed, err = vet(ctx, tree.Root, p.Dir, env, wrappers[p.Dir].File, job.Race); err != nil {
					return err
				}
				o.Vet = relative(o.Vet, tree.Root)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	built := time.Since(start)
	// The wrappers are the grader's, not the student's: they leave the tree before anything
	// runs.
	for _, w := range wrappers {
		if err := os.Remove(w.File); err != nil {
			return nil, err
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, len(job.Packages))
	for i, p := range job.Packages {
		o := out[p.Dir]
		if o.Build.Failed || len(p.Tests) == 0 {
			continue
		}
		root, err := e.visible(base, i, p, files)
		if err != nil {
			return nil, err
		}
		if err := sandbox.MakeReadable(base); err != nil {
			return nil, err
		}
		wg.Go(func() {
			errs[i] = slot(ctx, e.runs, func() error {
				var err error
				o.Run, err = gotest.Exec(ctx, gotest.Options{
					Binary: o.Build.Binary, Wrapper: wrappers[p.Dir].Name, Tests: p.Tests, Sandbox: e.cfg.Sandbox,
					Root: root, Dir: p.Dir, Timeout: job.Timeout, OutputCap: e.cfg.OutputCap, FailFast: p.FailFast,
				})
				return err
			})
		})
	}
	wg.Wait()
	e.cfg.Log.Debug("job", "label", job.Label, "packages", len(job.Packages),
		"build", built.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// visible writes the tree of the files package p's run sees, and returns it ("" for none).
func (e *Engine) visible(base string, i int, p Package, files []workspace.File) (string, error) {
	if p.Visible == nil {
		return "", nil
	}
	seen, err := workspace.NewTree(filepath.Join(base, fmt.Sprintf("visible-%d", i)))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if f.Path == "go.mod" || p.Visible(f.Path) {
			if err := seen.Write(f.Path, f.Data); err != nil {
				return "", err
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(seen.Root, filepath.FromSlash(p.Dir)), 0o755); err != nil {
		return "", err
	}
	return seen.Root, nil
}

// slot runs fn once one of slots is free.
func slot(ctx context.Context, slots chan struct{}, fn func() error) error {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-slots }()
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
