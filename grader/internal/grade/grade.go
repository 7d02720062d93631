// Package grade grades a checkout of the workbook: for each exercise it checks for tampering,
// runs the criteria tests from the grader's pristine copies in a throwaway copy of the checkout,
// measures code quality, and scores the result on the seed's rubric.
package grade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/gotest"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/pristine"
	"github.com/microservices-workbook/workbook/grader/internal/quality"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/score"
	"github.com/microservices-workbook/workbook/grader/internal/tamper"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// Options configure a grading run.
type Options struct {
	// Root is the module root of the checkout to grade.
	Root string
	// Solutions grades solutions/exNN-… instead of the student's exNN-… directories.
	Solutions bool
	// Exercises selects exercises by id ("ex07"), directory ("ex07-breaker") or number ("7"),
	// or single criteria by id ("ex07.state-machine"). Empty means every exercise the grader
	// knows.
	Exercises []string
	// ExerciseTimeout bounds everything done for one exercise, builds included.
	// Default 10 minutes.
	ExerciseTimeout time.Duration
	// TestTimeout bounds one run of an exercise's test binary (go test -timeout).
	// Default 2 minutes.
	TestTimeout time.Duration
	// NoRace turns the race detector off (it is on by default).
	NoRace bool
	// Pristine is the trusted set of test files and manifests. Default: the embedded one.
	Pristine *pristine.Set
	// Log receives progress messages. Default: none.
	Log *slog.Logger
	// OutputCap bounds the output kept per test. Default 16 KiB.
	OutputCap int
}

// ErrUnknownExercise is returned for an exercise selector that matches no exercise.
var ErrUnknownExercise = errors.New("unknown exercise")

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
	if _, err := os.Stat(filepath.Join(opts.Root, "go.mod")); err != nil {
		return nil, fmt.Errorf("%s is not a module root: %w", opts.Root, err)
	}

	tmp, err := os.MkdirTemp("", "workbook-grade-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ws := filepath.Join(tmp, "src")
	if err := workspace.Copy(ws, opts.Root, workspace.Limits{}); err != nil {
		return nil, fmt.Errorf("copying %s: %w", opts.Root, err)
	}
	env, err := scrubbedEnv(ctx, tmp)
	if err != nil {
		return nil, err
	}

	rep := &report.Report{Version: report.Version, Target: target(opts), NotVerified: []string{}}
	if bad := opts.Pristine.Mismatches(""); len(bad) > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"this grader was built from an edited tree (%s differ from pristine.sum): grade with a trusted copy of the workbook",
			strings.Join(bad, ", ")))
	}
	g := &grader{opts: opts, ws: ws, env: env}
	var items []score.Item
	for _, m := range selected {
		opts.Log.Info("grading", "exercise", m.Exercise, "dir", g.gradedDir(m))
		ex, exItems, err := g.exercise(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Exercise, err)
		}
		opts.Log.Info("graded", "exercise", m.Exercise, "met", ex.Met(), "of", len(ex.Criteria), "duration", time.Duration(ex.DurationMS)*time.Millisecond)
		rep.Exercises = append(rep.Exercises, ex)
		items = append(items, exItems...)
		for _, c := range ex.Criteria {
			if c.Status == report.NotVerified {
				rep.NotVerified = append(rep.NotVerified, c.ID)
			}
		}
	}
	res := score.Compute(items)
	rep.Score, rep.MaxScore, rep.Band = res.Score, res.MaxScore, res.Band.Title
	for _, c := range res.Categories {
		rep.Rubric = append(rep.Rubric, report.Category{
			Category: string(c.Category), Title: c.Category.Title(), Level: c.Level, Met: c.Met, Total: c.Total,
		})
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
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	return nil
}

func target(opts Options) string {
	if opts.Solutions {
		return "the reference solutions at " + filepath.Join(opts.Root, "solutions")
	}
	return "the working tree at " + opts.Root
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
			part.Criteria = nil
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
	opts Options
	ws   string
	env  []string
}

func (g *grader) gradedDir(m *manifest.Manifest) string {
	if g.opts.Solutions {
		return path.Join("solutions", m.Dir)
	}
	return m.Dir
}

// exercise grades one exercise. It returns an error only when grading itself fails (for
// example the workspace cannot be written); whatever the student's code does is reported.
func (g *grader) exercise(ctx context.Context, m *manifest.Manifest) (report.Exercise, []score.Item, error) {
	start := time.Now()
	dir := g.gradedDir(m)
	ex := report.Exercise{ID: m.Exercise, Title: m.Title.EN, Dir: dir, Build: "ok"}
	results := map[string]*gotest.Result{}
	var run *gotest.Run

	if info, err := os.Stat(filepath.Join(g.opts.Root, filepath.FromSlash(dir))); err != nil || !info.IsDir() {
		ex.Build = "failed"
		ex.BuildOutput = fmt.Sprintf("%s is missing from the checkout", dir)
	} else {
		reasons, err := tamper.Check(tamper.Input{
			Root: g.opts.Root, Dir: m.Dir, GradedDir: dir, ExpectTests: !g.opts.Solutions, Pristine: g.opts.Pristine,
		})
		if err != nil {
			return ex, nil, fmt.Errorf("tamper check: %w", err)
		}
		ex.Tampered, ex.TamperReasons = len(reasons) > 0, reasons
		if err := g.overlay(m, dir); err != nil {
			return ex, nil, err
		}

		exCtx, cancel := context.WithTimeout(ctx, g.opts.ExerciseTimeout)
		defer cancel()
		var tests []string
		for _, c := range m.Criteria {
			if !c.StudentTests() && len(missingPrograms(c.Requires)) == 0 {
				tests = append(tests, c.Test)
			}
		}
		if len(tests) > 0 {
			run, err = gotest.Exec(exCtx, gotest.Options{
				Dir: g.ws, Package: "./" + dir, Tests: tests, Timeout: g.opts.TestTimeout,
				Race: !g.opts.NoRace, Env: g.env, OutputCap: g.opts.OutputCap,
			})
			switch {
			case ctx.Err() != nil:
				return ex, nil, ctx.Err()
			case errors.Is(err, context.DeadlineExceeded):
				ex.BuildOutput = fmt.Sprintf("grading stopped after the exercise time limit (%s)", g.opts.ExerciseTimeout)
			case err != nil:
				return ex, nil, err
			}
			if run != nil {
				results = run.Results
				if run.BuildFailed {
					ex.Build = "failed"
					ex.BuildOutput = run.BuildOutput
				}
			}
		}
		ex.Quality = g.quality(exCtx, dir, run)
	}

	ex.Criteria = criteria(m, results, &ex, exceeded(start, g.opts.ExerciseTimeout))
	// Paths in messages are shown relative to the checkout, not to the throwaway copy.
	ex.BuildOutput = g.relative(ex.BuildOutput)
	for i := range ex.Criteria {
		ex.Criteria[i].Message = g.relative(ex.Criteria[i].Message)
	}
	functional := ex.Met() > 0
	var items []score.Item
	for _, c := range ex.Criteria {
		items = append(items, score.Item{
			Category: manifest.Category(c.Category), Weight: c.Weight, Met: c.Status == report.Met,
			Excluded: c.Status == report.NotVerified,
		})
	}
	if len(ex.Quality) == 0 {
		ex.Quality = qualityMissing()
	}
	for i := range ex.Quality {
		q := &ex.Quality[i]
		if !functional && q.Status == report.Met {
			q.Status = report.NotCounted
			q.Message = "counts once a criterion of this exercise is met"
		}
		items = append(items, score.Item{Category: manifest.CodeQuality, Weight: 1, Met: q.Status == report.Met})
	}
	ex.DurationMS = time.Since(start).Milliseconds()
	return ex, items, nil
}

func (g *grader) relative(s string) string {
	return strings.ReplaceAll(s, g.ws+string(filepath.Separator), "")
}

func exceeded(start time.Time, limit time.Duration) bool { return time.Since(start) >= limit }

// overlay puts the pristine test files and manifest of m into the workspace copy of dir.
func (g *grader) overlay(m *manifest.Manifest, dir string) error {
	names, err := g.opts.Pristine.TestFiles(m.Dir)
	if err != nil {
		return err
	}
	files := map[string]string{path.Join(m.Dir, manifest.FileName): manifest.FileName}
	for _, n := range names {
		files[path.Join(m.Dir, n)] = n
	}
	return workspace.Overlay(filepath.Join(g.ws, filepath.FromSlash(dir)), g.opts.Pristine.Files, files)
}

// criteria turns test verdicts into criterion statuses.
func criteria(m *manifest.Manifest, results map[string]*gotest.Result, ex *report.Exercise, timedOut bool) []report.Criterion {
	var out []report.Criterion
	for _, c := range m.Criteria {
		rc := report.Criterion{
			ID: c.ID, Title: c.Title.EN, TitleES: c.Title.ES, Category: string(c.Category),
			Weight: c.Weight, Test: c.Test, Hint: c.Hint,
		}
		res := results[c.Test]
		switch {
		case c.StudentTests():
			rc.Status = report.NotVerified
			rc.Message = "decided by your own tests, which this grader does not grade yet"
		case len(missingPrograms(c.Requires)) > 0:
			rc.Status = report.NotVerified
			rc.Message = "needs " + strings.Join(missingPrograms(c.Requires), ", ") + " on PATH"
		case ex.Build != "ok":
			rc.Status = report.Error
			rc.Message = "the exercise did not build"
		case res == nil || res.Status == gotest.NotRun:
			rc.Status = report.Error
			rc.Message = "the test did not run"
			if timedOut {
				rc.Status, rc.Message = report.Timeout, "the exercise ran out of time before this test finished"
			}
		default:
			rc.Message = res.Output
			switch res.Status {
			case gotest.Pass:
				rc.Status, rc.Message = report.Met, ""
			case gotest.Timeout:
				rc.Status = report.Timeout
			case gotest.Panic:
				rc.Status = report.Error
			case gotest.Skip:
				rc.Status = report.Unmet
				rc.Message = "the test skipped itself:\n" + res.Output
			default:
				rc.Status = report.Unmet
			}
		}
		if ex.Tampered && rc.Status == report.Met {
			rc.Status = report.Unmet
			rc.Message = "the test passed, but the exercise is tampered"
		}
		out = append(out, rc)
	}
	return out
}

func missingPrograms(names []string) []string {
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// quality measures the exercise's own code. Checks that need a working build are unmet when
// it failed.
func (g *grader) quality(ctx context.Context, dir string, run *gotest.Run) []report.QualityItem {
	abs := filepath.Join(g.ws, filepath.FromSlash(dir))
	code, _, err := workspace.GoFiles(abs)
	if err != nil {
		return qualityMissing()
	}
	rep, err := quality.Check(abs, code)
	if err != nil {
		return qualityMissing()
	}
	items := []report.QualityItem{
		fromFinding(CheckGofmt, rep.Gofmt),
		g.vet(ctx, dir),
		fromFinding(CheckDocs, rep.Docs),
		fromFinding(CheckTODOs, rep.TODOs),
	}
	race := report.QualityItem{Check: CheckRace, Status: report.Met}
	switch {
	case g.opts.NoRace:
		race.Status, race.Message = report.Unmet, "not measured: the race detector was turned off"
	case run == nil || run.BuildFailed:
		race.Status, race.Message = report.Unmet, "not measured: the tests did not run"
	case run.Race:
		race.Status, race.Message = report.Unmet, "the race detector reported a data race"
	}
	return append(items, race)
}

func (g *grader) vet(ctx context.Context, dir string) report.QualityItem {
	cmd := exec.CommandContext(ctx, "go", "vet", "./"+dir+"/...")
	cmd.Dir = g.ws
	cmd.Env = g.env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return report.QualityItem{Check: CheckVet, Status: report.Unmet, Message: report.Summary(string(out), 8)}
	}
	return report.QualityItem{Check: CheckVet, Status: report.Met}
}

func fromFinding(check string, f quality.Finding) report.QualityItem {
	if f.OK {
		return report.QualityItem{Check: check, Status: report.Met}
	}
	return report.QualityItem{Check: check, Status: report.Unmet, Message: f.Message}
}

func qualityMissing() []report.QualityItem {
	var items []report.QualityItem
	for _, c := range []string{CheckGofmt, CheckVet, CheckDocs, CheckTODOs, CheckRace} {
		items = append(items, report.QualityItem{Check: c, Status: report.Unmet, Message: "not measured"})
	}
	return items
}
