package grade

import (
	"bytes"
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/engine"
	"github.com/microservices-workbook/workbook/grader/internal/gotest"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/quality"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/review"
	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
	"github.com/microservices-workbook/workbook/grader/internal/score"
	"github.com/microservices-workbook/workbook/grader/internal/studenttests"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// checkout is what grading one exercise reads of the checkout.
type checkout struct {
	// code are the student's files of the graded directory, test files left out.
	code []workspace.File
	// tests are the student's own test files: the top-level test files that are not the
	// workbook's.
	tests []workspace.File
	// pristine are the workbook's test files of the exercise.
	pristine []workspace.File
	notes    []i18n.Text
}

// exercise grades one exercise. It returns an error only when grading itself fails (for
// example the workspace cannot be written); whatever the student's code does is reported.
func (g *grader) exercise(ctx context.Context, m *manifest.Manifest, total int) (report.Exercise, []score.Item, error) {
	start := time.Now()
	g.opts.Progress(Progress{Exercise: m.Exercise, Stage: Started, Total: total})
	dir := g.gradedDir(m)
	ex := report.Exercise{ID: m.Exercise, Title: m.Title.EN, TitleES: m.Title.ES, Dir: dir, Build: "ok"}
	co, err := g.read(m, dir)
	var unreadable *i18n.Error
	if errors.As(err, &unreadable) {
		ex.Build = "failed"
		ex.Stop(unreadable.Text)
		ex.Criteria = g.criteria(m, nil, &ex, nil)
		if !m.Partial {
			ex.Quality = qualityMissing()
		}
		ex.DurationMS = time.Since(start).Milliseconds()
		return ex, g.items(m, &ex), nil
	}
	if err != nil {
		return ex, nil, err
	}
	for _, n := range co.notes {
		ex.Note(n)
	}

	key := g.key(m, dir, co)
	if key != "" {
		var cached report.Exercise
		if g.cache.Get(key, &cached) {
			cached.Cached = true
			cached.DurationMS = time.Since(start).Milliseconds()
			return cached, g.items(m, &cached), nil
		}
	}

	exCtx, cancel := context.WithTimeout(ctx, g.opts.ExerciseTimeout)
	defer cancel()
	ex, err = g.grade(exCtx, m, dir, co, ex, start, total)
	if ctx.Err() != nil {
		return ex, nil, ctx.Err()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return ex, nil, err
	}
	if err != nil {
		ex.Stop(i18n.T("grading stopped after the exercise time limit (%s, -timeout)", g.opts.ExerciseTimeout))
		for i := range ex.Criteria {
			c := &ex.Criteria[i]
			if c.Status == report.Error && c.Message == msgNotRun().EN {
				c.Status = report.Timeout
				c.Say(i18n.T("the exercise ran out of time (%s, -timeout) before this was graded", g.opts.ExerciseTimeout))
			}
		}
	}
	ex.DurationMS = time.Since(start).Milliseconds()
	if key != "" && cacheable(ex) {
		_ = g.cache.Put(key, ex)
	}
	return ex, g.items(m, &ex), nil
}

func msgNotRun() i18n.Text { return i18n.T("the test did not run") }

// grade builds and runs what the exercise needs and fills in ex.
func (g *grader) grade(ctx context.Context, m *manifest.Manifest, dir string, co *checkout, ex report.Exercise, start time.Time, total int) (report.Exercise, error) {
	generated := map[string]bool{}
	for _, f := range m.Generated {
		generated[f] = true
	}
	findings := review.Check(co.code, review.Options{Generated: generated})
	testFindings := review.Check(co.tests, review.Options{Tests: true})
	var refused []i18n.Text
	for _, f := range findings {
		ex.Review = append(ex.Review, report.ReviewFinding{File: path.Join(dir, f.File), Line: f.Line, Rule: string(f.Rule), Text: f.Text, TextES: f.TextES})
		if f.Rule == review.NonGo {
			refused = append(refused, f.Say())
		}
	}
	ex.NeedsReview = len(findings) > 0
	ex.Reviewed = ex.NeedsReview && g.reviewed(m)

	var (
		run     *gotest.Run
		outcome *engine.Outcome
	)
	if len(refused) > 0 {
		ex.Build = "failed"
		ex.Stop(i18n.T("only Go code is graded (no cgo, assembly or object files):\n%s", i18n.Join(refused, "\n")))
	} else {
		tests := g.runnable(m)
		var files []workspace.File
		for _, f := range append(slices.Clone(co.code), co.pristine...) {
			files = append(files, workspace.File{Path: path.Join(dir, f.Path), Data: f.Data})
		}
		// A selection of criteria is graded without the code-quality checks: they are the
		// exercise's, not a criterion's.
		outcomes, err := g.engine.Run(ctx, engine.Job{
			Label: m.Exercise, Files: files, Race: !g.opts.NoRace, Vet: !m.Partial, Timeout: g.opts.TestTimeout,
			Packages: []engine.Package{{Dir: dir, Name: packageName(co.pristine), Tests: tests, Visible: engine.AllFiles}},
		})
		if err != nil {
			ex.Criteria = g.criteria(m, nil, &ex, nil)
			return ex, err
		}
		outcome = outcomes[dir]
		if outcome.Build.Failed {
			ex.Build, ex.BuildOutput = "failed", outcome.Build.Output
		}
		run = outcome.Run
		if run != nil && run.Forged > 0 {
			ex.Tamper(i18n.T("%d line(s) on the grader's verdict channel did not come from the grader (first: %q)", run.Forged, run.ForgedLine))
		}
		switch {
		case run == nil:
		case run.Killed == sandbox.KilledTimeout:
			ex.Stop(i18n.T("the sandbox stopped the test binary (timeout): it ran past its time limit of %s", g.opts.TestTimeout))
		case run.Killed == sandbox.KilledMemory:
			ex.Stop(i18n.T("the sandbox stopped the test binary (memory): it used more than %d MiB", g.opts.Limits.Memory>>20))
		case run.Killed != "":
			ex.Stop(i18n.T("the sandbox stopped the test binary (%s)", run.Killed))
		}
	}

	var verdicts map[string]studenttests.Verdict
	if hasStudentTests(m) && ex.Build == "ok" {
		g.opts.Progress(Progress{Exercise: m.Exercise, Stage: StudentTests, Total: total, Elapsed: time.Since(start)})
		var err error
		verdicts, err = g.studentTests(ctx, m, dir, co, testFindings)
		if err != nil {
			ex.Criteria = g.criteria(m, run, &ex, nil)
			return ex, err
		}
	}
	ex.Criteria = g.criteria(m, run, &ex, verdicts)
	if !m.Partial {
		ex.Quality = g.quality(m, co, outcome, generated)
	}
	return ex, nil
}

// runnable returns the criteria tests that can run here: those whose programs are installed.
func (g *grader) runnable(m *manifest.Manifest) []string {
	var tests []string
	for _, c := range m.Criteria {
		if !c.StudentTests() && len(g.missingPrograms(c.Requires)) == 0 {
			tests = append(tests, c.Test)
		}
	}
	return tests
}

func hasStudentTests(m *manifest.Manifest) bool {
	for _, c := range m.Criteria {
		if c.StudentTests() {
			return true
		}
	}
	return false
}

func (g *grader) studentTests(ctx context.Context, m *manifest.Manifest, dir string, co *checkout, findings []review.Finding) (map[string]studenttests.Verdict, error) {
	if len(findings) > 0 {
		var lines []i18n.Text
		for _, f := range findings {
			lines = append(lines, f.Say())
		}
		v := studenttests.Verdict{Status: studenttests.Unmet,
			Message: i18n.T("your tests may not take over the test binary (the grader runs them itself):\n%s", i18n.Join(lines, "\n"))}
		out := map[string]studenttests.Verdict{}
		for _, c := range m.Criteria {
			if c.StudentTests() {
				out[c.ID] = v
			}
		}
		return out, nil
	}
	var data []workspace.File
	for _, f := range co.code {
		if strings.HasPrefix(f.Path, "testdata/") {
			data = append(data, f)
		}
	}
	return studenttests.Grade(ctx, studenttests.Input{
		Manifest: m, GradedDir: dir, Package: packageName(co.pristine), Code: co.code, Pristine: co.pristine,
		Tests: co.tests, TestData: data, Reference: g.opts.Reference, Engine: g.engine, Timeout: g.opts.TestTimeout,
		Module: g.module, Race: !g.opts.NoRace,
	})
}

// read reads the exercise's files from the checkout and sorts them into code, the student's
// tests and the workbook's tests.
func (g *grader) read(m *manifest.Manifest, dir string) (*checkout, error) {
	src := filepath.Join(g.opts.Root, filepath.FromSlash(dir))
	info, err := os.Stat(src)
	if err != nil || !info.IsDir() {
		return nil, i18n.Errorf(nil, "%s is missing from the checkout", dir)
	}
	files, skipped, err := workspace.Collect(src, workspace.Limits{})
	if err != nil {
		return nil, i18n.Errorf(nil, "%s cannot be graded: %v", dir, err)
	}
	names, err := g.opts.Pristine.TestFiles(m.Dir)
	if err != nil {
		return nil, err
	}
	co := &checkout{}
	shipped := map[string]bool{}
	for _, n := range names {
		shipped[n] = true
		data, err := fs.ReadFile(g.opts.Pristine.Files, path.Join(m.Dir, n))
		if err != nil {
			return nil, err
		}
		co.pristine = append(co.pristine, workspace.File{Path: n, Data: data})
	}
	seen := map[string][]byte{}
	for _, f := range files {
		top, _, nested := strings.Cut(f.Path, "/")
		switch {
		case shipped[top] && nested:
			co.notes = append(co.notes, i18n.T("%s/%s is left out: %s is the name of a workbook test file", dir, f.Path, top))
		case shipped[f.Path]:
			seen[f.Path] = f.Data
		case f.Path == manifest.FileName:
			// The grader uses its own manifest.
		case strings.HasSuffix(f.Path, "_test.go") && !nested:
			co.tests = append(co.tests, f)
		case strings.HasSuffix(f.Path, "_test.go"):
			co.notes = append(co.notes, i18n.T("%s/%s is not graded: only the exercise's top-level tests run", dir, f.Path))
		default:
			co.code = append(co.code, f)
		}
	}
	if !g.opts.Solutions {
		for _, p := range co.pristine {
			got, ok := seen[p.Path]
			switch {
			case !ok:
				co.notes = append(co.notes, i18n.T("%s/%s is missing; the grader used its own copy", dir, p.Path))
			case !bytes.Equal(got, p.Data):
				co.notes = append(co.notes, i18n.T("%s/%s differs from the workbook's; the grader used its own copy", dir, p.Path))
			}
		}
	}
	if len(co.tests) > 0 {
		var ns []string
		for _, t := range co.tests {
			ns = append(ns, t.Path)
		}
		co.notes = append(co.notes, i18n.T("your own tests: %s (they decide only the criteria graded on your tests)", strings.Join(ns, ", ")))
	}
	for _, s := range skipped {
		co.notes = append(co.notes, i18n.T("%s/%s is left out (a link, a special file, a vendor directory or over 4 MiB)", dir, s))
	}
	return co, nil
}

// packageName returns the package name the pristine test files declare.
func packageName(pristine []workspace.File) string {
	for _, f := range pristine {
		if file, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Data, parser.PackageClauseOnly); err == nil {
			return file.Name.Name
		}
	}
	return "main"
}

// criteria turns verdicts into criterion statuses.
func (g *grader) criteria(m *manifest.Manifest, run *gotest.Run, ex *report.Exercise, verdicts map[string]studenttests.Verdict) []report.Criterion {
	var out []report.Criterion
	for _, c := range m.Criteria {
		rc := report.Criterion{
			ID: c.ID, Title: c.Title.EN, TitleES: c.Title.ES, Category: string(c.Category),
			Weight: c.Weight, Test: c.Test, Kind: string(c.Kind), Hint: c.Hint, HintES: c.HintES,
		}
		switch {
		case len(g.missingPrograms(c.Requires)) > 0:
			rc.Status = report.NotVerified
			rc.Say(i18n.T("needs %s on PATH", strings.Join(g.missingPrograms(c.Requires), ", ")))
		case ex.Build != "ok":
			rc.Status = report.Error
			rc.Say(i18n.T("the exercise did not build"))
		case c.StudentTests():
			v, ok := verdicts[c.ID]
			if !ok {
				rc.Status = report.Error
				rc.Say(msgNotRun())
				break
			}
			rc.Status, rc.Missed, rc.MissedES = v.Status, v.Missed, v.MissedES
			rc.Say(v.Message)
		default:
			rc.Status = report.Error
			rc.Say(msgNotRun())
			if run == nil {
				break
			}
			res := run.Results[c.Test]
			if res == nil || res.Status == gotest.NotRun {
				break
			}
			rc.Message, rc.MessageES = res.Output, ""
			rc.FailedTests = res.FailedTests
			for _, f := range res.Failures {
				rc.Failures = append(rc.Failures, report.Failure(f))
			}
			switch res.Status {
			case gotest.Pass:
				rc.Status, rc.Message, rc.FailedTests, rc.Failures = report.Met, "", nil, nil
			case gotest.Timeout:
				rc.Status = report.Timeout
				rc.TimeLimitMS = g.opts.TestTimeout.Milliseconds()
			case gotest.Panic:
				rc.Status = report.Error
			case gotest.Skip:
				rc.Status = report.Unmet
				rc.Say(i18n.T("the test skipped itself:\n%s", res.Output))
			default:
				rc.Status = report.Unmet
			}
		}
		if rc.Status == report.Met && ex.Tampered {
			rc.Status = report.Unmet
			rc.Say(i18n.T("the test passed, but the exercise forged verdicts"))
		}
		if rc.Status == report.Met && ex.NeedsReview && !ex.Reviewed {
			rc.Status = report.NeedsReview
			rc.Say(i18n.T("the test passed; the exercise's code needs an instructor's review first (see the review list)"))
		}
		out = append(out, rc)
	}
	return out
}

// items turns an exercise's statuses into the rubric's items. The code-quality checks weigh
// one together, and count once a criterion of the exercise is met.
func (g *grader) items(m *manifest.Manifest, ex *report.Exercise) []score.Item {
	var items []score.Item
	for _, c := range ex.Criteria {
		items = append(items, score.Item{
			Category: manifest.Category(c.Category), Weight: c.Weight, Met: c.Status == report.Met,
			Excluded: c.Status == report.NotVerified,
		})
	}
	if len(ex.Quality) == 0 {
		return items // a selection of criteria: no code-quality checks
	}
	functional := ex.Met() > 0
	clean := functional
	for i := range ex.Quality {
		q := &ex.Quality[i]
		if q.Status == report.NotCounted {
			continue
		}
		if !functional && q.Status == report.Met {
			q.Status = report.NotCounted
			q.Say(i18n.T("counts once a criterion of this exercise is met"))
		}
		clean = clean && q.Status == report.Met
	}
	return append(items, score.Item{Category: manifest.CodeQuality, Weight: 1, Met: clean, Mechanical: true})
}

// quality measures the exercise's own code. Checks that need a working build are unmet when
// it failed.
func (g *grader) quality(m *manifest.Manifest, co *checkout, out *engine.Outcome, generated map[string]bool) []report.QualityItem {
	rep := quality.Check(co.code, generated)
	vet := report.QualityItem{Check: CheckVet, Status: report.Met}
	switch {
	case out == nil || out.Build.Failed:
		vet.Status = report.Unmet
		vet.Say(i18n.T("not measured: the exercise did not build"))
	case out.VetFailed:
		vet.Status, vet.Message = report.Unmet, report.Summary(out.Vet, 8)
	}
	race := report.QualityItem{Check: CheckRace, Status: report.Met}
	run := (*gotest.Run)(nil)
	if out != nil {
		run = out.Run
	}
	switch {
	case !m.Concurrent:
		race.Status = report.NotCounted
		race.Say(i18n.T("this exercise's criteria tests do not exercise concurrency"))
	case g.opts.NoRace:
		race.Status = report.Unmet
		race.Say(i18n.T("not measured: the race detector was turned off"))
	case run == nil:
		race.Status = report.Unmet
		race.Say(i18n.T("not measured: the tests did not run"))
	case run.Race:
		race.Status = report.Unmet
		race.Say(i18n.T("the race detector reported a data race"))
	}
	return []report.QualityItem{
		fromFinding(CheckGofmt, rep.Gofmt), vet, fromFinding(CheckDocs, rep.Docs), fromFinding(CheckTODOs, rep.TODOs), race,
	}
}

func fromFinding(check string, f quality.Finding) report.QualityItem {
	if f.OK {
		return report.QualityItem{Check: check, Status: report.Met}
	}
	return report.QualityItem{Check: check, Status: report.Unmet, Message: f.Message.EN, MessageES: f.Message.ES}
}

func qualityMissing() []report.QualityItem {
	var items []report.QualityItem
	for _, c := range []string{CheckGofmt, CheckVet, CheckDocs, CheckTODOs, CheckRace} {
		q := report.QualityItem{Check: c, Status: report.Unmet}
		q.Say(i18n.T("not measured"))
		items = append(items, q)
	}
	return items
}

// cacheable reports whether an exercise's verdicts may be kept: not when the machine, rather
// than the code, may have decided them (a timeout, a crash of the sandbox).
func cacheable(ex report.Exercise) bool {
	for _, c := range ex.Criteria {
		if c.Status == report.Timeout {
			return false
		}
	}
	return !strings.HasPrefix(ex.BuildOutput, "the sandbox stopped") && !strings.HasPrefix(ex.BuildOutput, "grading stopped")
}

func (g *grader) missingPrograms(names []string) []string {
	var missing []string
	for _, n := range names {
		if g.programs[n] == "" {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return missing
}
