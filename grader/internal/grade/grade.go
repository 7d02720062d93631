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
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
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
	// Log receives debug messages (the time of each build and run). Default: none.
	Log *slog.Logger
	// Progress, when set, is called as each exercise starts, reaches a stage and ends, from
	// the goroutine grading it.
	Progress func(Progress)
	// OutputCap bounds the output kept per test. Default 16 KiB.
	OutputCap int
}

// Stage is how far the grading of one exercise has got.
type Stage int

// The stages an exercise goes through.
const (
	// Started: the exercise is being built and its criteria tests run.
	Started Stage = iota
	// StudentTests: the student's own tests are being run against the reference and the
	// mutants.
	StudentTests
	// Graded: the exercise is done.
	Graded
)

// Progress is an event of a grading.
type Progress struct {
	// Exercise is the exercise's id.
	Exercise string
	Stage    Stage
	// Done counts the exercises graded so far (this one included, once Graded); Total the
	// exercises selected.
	Done, Total int
	// Met and Criteria count this exercise's criteria, once Graded.
	Met, Criteria int
	// Elapsed is the time spent on this exercise so far.
	Elapsed time.Duration
	// Cached says the verdicts came from the cache.
	Cached bool
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
	tgt := target(opts)
	rep := &report.Report{Version: report.Version, Target: tgt.EN, TargetES: tgt.ES, Mode: "student", NotVerified: []string{}}
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
	if warning.EN != "" {
		rep.Warn(warning)
	}
	if bad := opts.Pristine.Mismatches(""); len(bad) > 0 {
		rep.Warn(i18n.T("this grader was built from an edited tree (%s differ from pristine.sum): grade with a trusted copy of the workbook",
			strings.Join(bad, ", ")))
	}
	for _, n := range moduleNotes(opts) {
		rep.Note(n)
	}

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
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for i, m := range selected {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			ex, items, err := g.exercise(ctx, m, len(selected))
			results[i] = result{ex, items, err}
			if err == nil {
				mu.Lock()
				done++
				ev := Progress{Exercise: m.Exercise, Stage: Graded, Done: done, Total: len(selected), Met: ex.Met(),
					Criteria: len(ex.Criteria), Elapsed: time.Duration(ex.DurationMS) * time.Millisecond, Cached: ex.Cached}
				mu.Unlock()
				opts.Progress(ev)
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
	rep.Score, rep.MaxScore, rep.Band, rep.BandES = res.Score, res.MaxScore, res.Band.Title, res.Band.ES
	for _, c := range res.Categories {
		en, es := score.Descriptor(c.Category, c.Level)
		_, titleES := c.Category.Names()
		rc := report.Category{
			Category: string(c.Category), Title: c.Category.Title(), TitleES: titleES, Level: c.Level,
			Descriptor: en, DescriptorES: es, Met: c.Met, Total: c.Total,
		}
		if c.Capped {
			t := i18n.T("held at 2: levels 3 and 4 need tested code (the criteria graded on your own tests)")
			rc.Capped, rc.CappedES = t.EN, t.ES
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
	if o.Progress == nil {
		o.Progress = func(Progress) {}
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
func newSandbox(ctx context.Context, opts Options, programs map[string]string, staging string) (*sandbox.Sandbox, i18n.Text, error) {
	found := map[string]string{}
	for name, p := range programs {
		if p != "" {
			found[name] = p
		}
	}
	var none i18n.Text
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, none, err
	}
	if opts.Sandbox == sandbox.None && opts.Trusted && !opts.Unsandboxed {
		return nil, none, i18n.Errorf(ErrNoSandbox, "refusing to run a checkout's code without a sandbox: -sandbox none was asked for (pass -unsandboxed too to accept the risk)")
	}
	cfg := sandbox.Config{Kind: opts.Sandbox, Limits: opts.Limits, Programs: found, Staging: staging}
	if cfg.Kind == "" {
		cfg.Kind = sandbox.Bubblewrap
	}
	sb, err := sandbox.New(ctx, cfg)
	if err == nil {
		if sb.Kind() == sandbox.None {
			return sb, i18n.T("the exercises' code ran without a sandbox, as asked: it could read and change anything your user can"), nil
		}
		return sb, none, nil
	}
	if !errors.Is(err, sandbox.ErrUnavailable) || opts.Sandbox == sandbox.Bubblewrap {
		return nil, none, err
	}
	if opts.Trusted && !opts.Unsandboxed {
		return nil, none, i18n.Errorf(ErrNoSandbox, "refusing to run a checkout's code without a sandbox: %v (install bubblewrap, or pass -unsandboxed to accept the risk)", err)
	}
	cfg.Kind = sandbox.None
	sb, err2 := sandbox.New(ctx, cfg)
	if err2 != nil {
		return nil, none, err2
	}
	return sb, i18n.T("the exercises' code ran without a sandbox (%v): it could read and change anything your user can", err), nil
}

func target(opts Options) i18n.Text {
	if opts.Solutions {
		return i18n.T("the reference solutions at %s", filepath.Join(opts.Root, "solutions"))
	}
	return i18n.T("the working tree at %s", opts.Root)
}

// moduleNotes compares the checkout's go.mod and go.sum with the grader's, which are the ones
// used.
func moduleNotes(opts Options) []i18n.Text {
	var notes []i18n.Text
	for _, name := range []string{"go.mod", "go.sum"} {
		want, err := fs.ReadFile(opts.Pristine.Files, name)
		if err != nil {
			continue
		}
		got, err := os.ReadFile(filepath.Join(opts.Root, name))
		switch {
		case err != nil:
			notes = append(notes, i18n.T("%s is missing from the checkout; the grader used its own", name))
		case string(got) != string(want):
			var why i18n.Text
			if name == "go.mod" {
				why = modDiff(got, want)
			}
			notes = append(notes, i18n.T("%s differs from the workbook's%s; the grader used its own, so code that needs another module does not build", name, why))
		}
	}
	return notes
}

// modDiff says briefly how a checkout's go.mod differs from the workbook's.
func modDiff(got, want []byte) i18n.Text {
	g, err := modfile.Parse("go.mod", got, nil)
	if err != nil {
		return i18n.T(" (it does not parse)")
	}
	w, err := modfile.Parse("go.mod", want, nil)
	if err != nil {
		return i18n.Text{}
	}
	var what []i18n.Text
	if g.Module == nil || w.Module == nil || g.Module.Mod.Path != w.Module.Mod.Path {
		what = append(what, i18n.T("another module path"))
	}
	for _, r := range g.Replace {
		what = append(what, i18n.Plain("replace "+r.Old.Path))
	}
	for _, x := range g.Exclude {
		what = append(what, i18n.Plain("exclude "+x.Mod.Path))
	}
	if g.Toolchain != nil {
		what = append(what, i18n.Plain("toolchain "+g.Toolchain.Name))
	}
	if len(g.Godebug) > 0 {
		what = append(what, i18n.Plain("godebug"))
	}
	versions := map[string]string{}
	for _, r := range w.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range g.Require {
		if v, ok := versions[r.Mod.Path]; !ok {
			what = append(what, i18n.T("requires %s", r.Mod.Path))
		} else if v != r.Mod.Version {
			what = append(what, i18n.T("%s %s instead of %s", r.Mod.Path, r.Mod.Version, v))
		}
	}
	if len(what) == 0 {
		return i18n.Text{}
	}
	if len(what) > 5 {
		what = append(what[:5], i18n.Plain("…"))
	}
	return i18n.T(" (%s)", i18n.Join(what, ", "))
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
			return nil, i18n.Errorf(ErrUnknownExercise, "unknown exercise %q (known: %s, or a criterion id such as %s)",
				s, strings.Join(ids, " "), all[0].Criteria[0].ID)
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
