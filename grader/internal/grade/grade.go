// Package grade grades a checkout of the workbook. For each exercise it reads the student's
// files, builds them beside the grader's pristine tests and module files, runs the criteria
// tests in the sandbox, grades the student's own tests, measures code quality, and scores the
// result on the seed's rubric. It orchestrates; the mechanisms are its sibling packages.
package grade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/cache"
	"github.com/microservices-workbook/workbook/grader/internal/engine"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/pristine"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
	"github.com/microservices-workbook/workbook/grader/internal/score"
)

// Options configure a grading run. Each zero field takes its default.
type Options struct {
	// Root is the module root of the checkout to grade.
	Root string
	// Solutions grades solutions/exNN-… instead of the student's exNN-… directories.
	Solutions bool
	// Exercises selects exercises by id ("ex07"), directory ("ex07-breaker") or number ("7"),
	// or single criteria by id ("ex07.state-machine"). Empty means every exercise.
	Exercises []string
	// ExerciseTimeout bounds everything done for one exercise, builds included.
	// Default 10 minutes.
	ExerciseTimeout time.Duration
	// TestTimeout bounds one run of a test binary. Default 2 minutes.
	TestTimeout time.Duration
	// NoRace turns the race detector off (it is on by default).
	NoRace bool
	// Pristine is the trusted set of test files, manifests and module files. Default: the
	// embedded one.
	Pristine *pristine.Set
	// Reference holds the reference solutions and the mutants (paths from the module root),
	// for grading the student's own tests. Default: the embedded one; NoReference leaves it
	// out, and those criteria are then not verified.
	Reference   fs.FS
	NoReference bool
	// Trusted says the checkout is someone else's and hostile: grading then refuses to run
	// student code without a sandbox, unless Unsandboxed is set.
	Trusted     bool
	Unsandboxed bool
	// Sandbox forces an isolation; default: bubblewrap where it works.
	Sandbox sandbox.Kind
	// Limits bound each sandboxed run.
	Limits sandbox.Limits
	// Reviewed lists the exercises (ids) whose review findings an instructor has accepted.
	Reviewed []string
	// Parallel bounds the exercises graded, and the builds and runs done, at once.
	// Default: the number of CPUs.
	Parallel int
	// CacheDir holds the verdict cache; empty means no cache.
	CacheDir string
	// Log receives progress messages. Default: none.
	Log *slog.Logger
	// OutputCap bounds the output kept per test. Default 16 KiB.
	OutputCap int
}

// ErrUnknownExercise is returned for an exercise selector that matches no exercise.
var ErrUnknownExercise = errors.New("unknown exercise")

// ErrNoSandbox is returned when a trusted grading cannot sandbox student code.
var ErrNoSandbox = errors.New("refusing to run a checkout's code without a sandbox")

// The code-quality checks measured for each exercise.
const (
	CheckGofmt = "gofmt"
	CheckVet   = "vet"
	CheckDocs  = "docs"
	CheckTODOs = "todos"
	CheckRace  = "race"
)

// Grade grades the checkout described by opts.
func Grade(ctx context.Context, opts Options) (*report.Report, error) {
	start := time.Now()
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	all, err := manifest.Load(opts.Pristine.Files)
	if err != nil {
		return nil, err
	}
	selected, err := Select(all, opts.Exercises)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(opts.Root); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Root, err)
	}

	tmp, err := os.MkdirTemp("", "workbook-grade-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The sandbox may run as another user: it must be able to reach the trees made here.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	rep := &report.Report{Version: report.Version, Target: target(opts), Mode: "student", NotVerified: []string{}}
	if opts.Trusted {
		rep.Mode = "trusted"
	}
	// The programs the selected criteria need, found once: PATH decides for the whole run.
	programs := map[string]string{}
	for _, m := range selected {
		for _, c := range m.Criteria {
			for _, name := range c.Requires {
				programs[name], _ = exec.LookPath(name)
			}
		}
	}
	sb, warning, err := newSandbox(ctx, opts, programs, filepath.Join(tmp, "sandbox"))
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	rep.Sandbox = string(sb.Kind())
	if warning != "" {
		rep.Warnings = append(rep.Warnings, warning)
	}
	if bad := opts.Pristine.Mismatches(""); len(bad) > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"this grader was built from an edited tree (%s differ from pristine.sum): grade with a trusted copy of the workbook",
			strings.Join(bad, ", ")))
	}
	rep.Notes = moduleNotes(opts)

	goMod, err := fs.ReadFile(opts.Pristine.Files, "go.mod")
	if err != nil {
		return nil, fmt.Errorf("the grader carries no go.mod: %w", err)
	}
	goSum, err := fs.ReadFile(opts.Pristine.Files, "go.sum")
	if err != nil {
		return nil, fmt.Errorf("the grader carries no go.sum: %w", err)
	}
	env, err := sandbox.GoEnv(ctx, filepath.Join(tmp, "home"))
	if err != nil {
		return nil, err
	}
	jobs := filepath.Join(tmp, "jobs")
	if err := os.Mkdir(jobs, 0o755); err != nil {
		return nil, err
	}
	g := &grader{
		opts: opts, sandbox: sb, programs: programs, module: modfile.ModulePath(goMod),
		engine: engine.New(engine.Config{
			Sandbox: sb, GoMod: goMod, GoSum: goSum, Dir: jobs, Env: env, Builds: opts.Parallel, OutputCap: opts.OutputCap,
			Log: opts.Log,
		}),
	}
	if opts.CacheDir != "" {
		if g.cache, err = cache.Open(opts.CacheDir); err != nil {
			return nil, err
		}
		g.identity = identity(ctx, opts, sb)
	}

	type result struct {
		ex    report.Exercise
		items []score.Item
		err   error
	}
	results := make([]result, len(selected))
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i, m := range selected {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			ex, items, err := g.exercise(ctx, m)
			results[i] = result{ex, items, err}
			if err == nil {
				cached := ""
				if ex.Cached {
					cached = " (cached)"
				}
				opts.Log.Info(fmt.Sprintf("graded %s: %d/%d met in %s%s", m.Exercise, ex.Met(), len(ex.Criteria),
					(time.Duration(ex.DurationMS) * time.Millisecond).Round(100*time.Millisecond), cached))
			}
		})
	}
	wg.Wait()

	var items []score.Item
	for i, r := range results {
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", selected[i].Exercise, r.err)
		}
		rep.Exercises = append(rep.Exercises, r.ex)
		items = append(items, r.items...)
		for _, c := range r.ex.Criteria {
			if c.Status == report.NotVerified {
				rep.NotVerified = append(rep.NotVerified, c.ID)
			}
		}
	}
	res := score.Compute(items)
	rep.Score, rep.MaxScore, rep.Band = res.Score, res.MaxScore, res.Band.Title
	for _, c := range res.Categories {
		en, es := score.Descriptor(c.Category, c.Level)
		rc := report.Category{
			Category: string(c.Category), Title: c.Category.Title(), Level: c.Level,
			Descriptor: en, DescriptorES: es, Met: c.Met, Total: c.Total,
		}
		if c.Capped {
			rc.Capped = "held at 2: levels 3 and 4 need tested code (the criteria graded on your own tests)"
		}
		rep.Rubric = append(rep.Rubric, rc)
	}
	rep.DurationMS = time.Since(start).Milliseconds()
	return rep, nil
}

func (o *Options) defaults() error {
	if o.ExerciseTimeout <= 0 {
		o.ExerciseTimeout = 10 * time.Minute
	}
	if o.TestTimeout <= 0 {
		o.TestTimeout = 2 * time.Minute
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.NumCPU()
	}
	if o.OutputCap <= 0 {
		o.OutputCap = 16 << 10
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Pristine == nil {
		set, err := pristine.Embedded()
		if err != nil {
			return err
		}
		o.Pristine = set
	}
	if o.Reference == nil && !o.NoReference {
		o.Reference = workbook.Reference()
	}
	if o.NoReference {
		o.Reference = nil
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	return nil
}

// newSandbox makes the sandbox the options ask for, with the programs the selected criteria
// need. Without bubblewrap a student's own grading goes on unsandboxed, with a warning; a
// trusted grading stops unless told to go on.
func newSandbox(ctx context.Context, opts Options, programs map[string]string, staging string) (*sandbox.Sandbox, string, error) {
	found := map[string]string{}
	for name, p := range programs {
		if p != "" {
			found[name] = p
		}
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, "", err
	}
	if opts.Sandbox == sandbox.None && opts.Trusted && !opts.Unsandboxed {
		return nil, "", fmt.Errorf("%w: -sandbox none was asked for (pass -unsandboxed too to accept the risk)", ErrNoSandbox)
	}
	cfg := sandbox.Config{Kind: opts.Sandbox, Limits: opts.Limits, Programs: found, Staging: staging}
	if cfg.Kind == "" {
		cfg.Kind = sandbox.Bubblewrap
	}
	sb, err := sandbox.New(ctx, cfg)
	if err == nil {
		if sb.Kind() == sandbox.None {
			return sb, "the exercises' code ran without a sandbox, as asked: it could read and change anything your user can", nil
		}
		return sb, "", nil
	}
	if !errors.Is(err, sandbox.ErrUnavailable) || opts.Sandbox == sandbox.Bubblewrap {
		return nil, "", err
	}
	if opts.Trusted && !opts.Unsandboxed {
		return nil, "", fmt.Errorf("%w: %v (install bubblewrap, or pass -unsandboxed to accept the risk)", ErrNoSandbox, err)
	}
	cfg.Kind = sandbox.None
	sb, err2 := sandbox.New(ctx, cfg)
	if err2 != nil {
		return nil, "", err2
	}
	return sb, fmt.Sprintf("the exercises' code ran without a sandbox (%v): it could read and change anything your user can", err), nil
}

func target(opts Options) string {
	if opts.Solutions {
		return "the reference solutions at " + filepath.Join(opts.Root, "solutions")
	}
	return "the working tree at " + opts.Root
}

// moduleNotes compares the checkout's go.mod and go.sum with the grader's, which are the ones
// used.
func moduleNotes(opts Options) []string {
	var notes []string
	for _, name := range []string{"go.mod", "go.sum"} {
		want, err := fs.ReadFile(opts.Pristine.Files, name)
		if err != nil {
			continue
		}
		got, err := os.ReadFile(filepath.Join(opts.Root, name))
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("%s is missing from the checkout; the grader used its own", name))
		case string(got) != string(want):
			why := ""
			if name == "go.mod" {
				why = modDiff(got, want)
			}
			notes = append(notes, fmt.Sprintf("%s differs from the workbook's%s; the grader used its own, so code that needs another module does not build", name, why))
		}
	}
	return notes
}

// modDiff says briefly how a checkout's go.mod differs from the workbook's.
func modDiff(got, want []byte) string {
	g, err := modfile.Parse("go.mod", got, nil)
	if err != nil {
		return " (it does not parse)"
	}
	w, err := modfile.Parse("go.mod", want, nil)
	if err != nil {
		return ""
	}
	var what []string
	if g.Module == nil || w.Module == nil || g.Module.Mod.Path != w.Module.Mod.Path {
		what = append(what, "another module path")
	}
	for _, r := range g.Replace {
		what = append(what, "replace "+r.Old.Path)
	}
	for _, x := range g.Exclude {
		what = append(what, "exclude "+x.Mod.Path)
	}
	if g.Toolchain != nil {
		what = append(what, "toolchain "+g.Toolchain.Name)
	}
	if len(g.Godebug) > 0 {
		what = append(what, "godebug")
	}
	versions := map[string]string{}
	for _, r := range w.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range g.Require {
		if v, ok := versions[r.Mod.Path]; !ok {
			what = append(what, "requires "+r.Mod.Path)
		} else if v != r.Mod.Version {
			what = append(what, fmt.Sprintf("%s %s instead of %s", r.Mod.Path, r.Mod.Version, v))
		}
	}
	if len(what) == 0 {
		return ""
	}
	if len(what) > 5 {
		what = append(what[:5], "…")
	}
	return " (" + strings.Join(what, ", ") + ")"
}

// Select returns the manifests named by selectors, in exercise order, or all of them when
// selectors is empty. A selector names an exercise by id ("ex07"), directory ("ex07-breaker") or
// number ("7"), or one criterion by id ("ex07.state-machine"); an exercise selected only through
// criteria keeps just those.
func Select(all []*manifest.Manifest, selectors []string) ([]*manifest.Manifest, error) {
	if len(selectors) == 0 {
		return all, nil
	}
	whole := map[string]bool{}
	some := map[string]map[string]bool{}
	for _, s := range selectors {
		found := false
		for _, m := range all {
			if matches(m, s) {
				whole[m.Exercise], found = true, true
				continue
			}
			for _, c := range m.Criteria {
				if c.ID == s {
					if some[m.Exercise] == nil {
						some[m.Exercise] = map[string]bool{}
					}
					some[m.Exercise][c.ID], found = true, true
				}
			}
		}
		if !found {
			var ids []string
			for _, m := range all {
				ids = append(ids, m.Exercise)
			}
			return nil, fmt.Errorf("%w %q (known: %s, or a criterion id such as %s)",
				ErrUnknownExercise, s, strings.Join(ids, " "), all[0].Criteria[0].ID)
		}
	}
	var out []*manifest.Manifest
	for _, m := range all {
		switch {
		case whole[m.Exercise]:
			out = append(out, m)
		case some[m.Exercise] != nil:
			part := *m
			part.Criteria, part.Partial = nil, true
			for _, c := range m.Criteria {
				if some[m.Exercise][c.ID] {
					part.Criteria = append(part.Criteria, c)
				}
			}
			out = append(out, &part)
		}
	}
	return out, nil
}

func matches(m *manifest.Manifest, s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "solutions/"), "/")
	if s == m.Exercise || s == m.Dir {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && fmt.Sprintf("ex%02d", n) == m.Exercise
}

type grader struct {
	opts    Options
	sandbox *sandbox.Sandbox
	// programs maps each program a selected criterion requires to its path, or "".
	programs map[string]string
	// module is the workbook's module path, from the pristine go.mod.
	module   string
	engine   *engine.Engine
	cache    *cache.Cache
	identity string
}

func (g *grader) gradedDir(m *manifest.Manifest) string {
	if g.opts.Solutions {
		return path.Join("solutions", m.Dir)
	}
	return m.Dir
}

func (g *grader) reviewed(m *manifest.Manifest) bool {
	return slices.Contains(g.opts.Reviewed, m.Exercise)
}
