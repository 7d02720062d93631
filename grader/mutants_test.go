package main

import (
	"context"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/engine"
	"github.com/microservices-workbook/workbook/grader/internal/gotest"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/mutant"
	"github.com/microservices-workbook/workbook/grader/internal/pristine"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// loadMutants reads testdata/<kind>/<exercise dir>/*.json.
func loadMutants(t *testing.T, kind string) []mutant.Mutant {
	t.Helper()
	ms, err := mutant.Load(os.DirFS("testdata"), kind, "")
	require.NoError(t, err)
	return ms
}

// apply writes m into the solution of the checkout.
func apply(checkout string, m mutant.Mutant) error {
	file := filepath.Join(checkout, "solutions", m.Exercise, filepath.FromSlash(m.File))
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := m.Apply(data)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}

// gradeMutant grades the criteria m must fail, in a copy of the checkout with m applied.
func gradeMutant(source string, m mutant.Mutant, extra ...string) (*report.Report, error) {
	checkout, err := os.MkdirTemp("", "workbook-mutant-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(checkout)
	if err := workspace.Copy(checkout, source, workspace.Limits{}); err != nil {
		return nil, err
	}
	if err := apply(checkout, m); err != nil {
		return nil, err
	}
	args := []string{"-dir", checkout, "-solutions"}
	if !m.Race {
		args = append(args, "-no-race")
	}
	args = append(args, extra...)
	return gradeReport(args...)
}

// TestMutantsAreCaught builds each mutant of a reference solution beside the exercise's
// pristine tests and runs, in the grader's sandbox and through its verdict channel, the tests of
// the criteria the mutant names: none of them may pass. Each criterion test thereby catches a
// plausible wrong implementation. An exercise's mutants are built together (one go command for
// all of them) and run several at once.
func TestMutantsAreCaught(t *testing.T) {
	t.Parallel()
	mutants := loadMutants(t, "mutants")
	require.NotEmpty(t, mutants)
	// Grade only the mutants that -run selects (for example -run 'TestMutantsAreCaught/ex07').
	filter := regexp.MustCompile("")
	if f := flag.Lookup("test.run"); f != nil {
		if _, sub, ok := strings.Cut(f.Value.String(), "/"); ok {
			if re, err := regexp.Compile(sub); err == nil {
				filter = re
			}
		}
	}
	var selected []mutant.Mutant
	for _, m := range mutants {
		if filter.MatchString(m.ID()) {
			selected = append(selected, m)
		}
	}
	ms, err := manifest.Load(workbook.Pristine())
	require.NoError(t, err)
	byDir := map[string]*manifest.Manifest{}
	for _, m := range ms {
		byDir[m.Dir] = m
	}

	eng := newEngine(t)
	verdicts := map[string]map[string]gotest.Status{} // by mutant id, by test
	builds := map[string]*gotest.Build{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, group := range groupMutants(selected) {
		wg.Go(func() {
			out, err := runMutants(t.Context(), eng, byDir[group[0].Exercise], group)
			mu.Lock()
			defer mu.Unlock()
			if !assert.NoError(t, err, "%s", group[0].Exercise) {
				return
			}
			for _, m := range group {
				o := out[variantDir(m)]
				builds[m.ID()] = o.Build
				verdicts[m.ID()] = map[string]gotest.Status{}
				if o.Run != nil {
					for name, r := range o.Run.Results {
						verdicts[m.ID()][name] = r.Status
					}
				}
			}
		})
	}
	wg.Wait()

	caught := map[string]bool{}
	all, ran := map[string]int{}, map[string]int{}
	for _, m := range mutants {
		all[m.Exercise]++
	}
	for _, m := range selected {
		ran[m.Exercise]++
		t.Run(m.ID(), func(t *testing.T) {
			b := builds[m.ID()]
			require.NotNil(t, b)
			require.False(t, b.Failed, "mutant %s does not compile: a mutant is a wrong implementation, not a broken one\n%s", m.ID(), b.Output)
			man := byDir[m.Exercise]
			for _, id := range m.Fails {
				c, ok := criterion(man, id)
				require.True(t, ok, "mutant %s names an unknown criterion %s", m.ID(), id)
				if missing(c.Requires) != "" {
					continue // not verified here; CI installs the program
				}
				got := verdicts[m.ID()][c.Test]
				if assert.NotEqual(t, gotest.Pass, got, "mutant %q (%s) still passes %s (%s)", m.Description, m.ID(), c.Test, id) {
					caught[id] = true
				}
			}
		})
	}

	// Every criterion is caught by at least one mutant.
	for _, m := range ms {
		if ran[m.Dir] < all[m.Dir] {
			continue // -run left some of its mutants out; TestEveryExerciseHasMutants covers the gap
		}
		for _, c := range m.Criteria {
			if c.StudentTests() || missing(c.Requires) != "" {
				continue // decided by the student's tests (see TestStudentTestSuites), or not verifiable here
			}
			assert.True(t, caught[c.ID], "no mutant shows that the test of %s catches a wrong implementation", c.ID)
		}
	}
}

// TestEveryExerciseHasMutants makes sure no exercise escapes TestMutantsAreCaught.
func TestEveryExerciseHasMutants(t *testing.T) {
	ms, err := manifest.Load(workbook.Pristine())
	require.NoError(t, err)
	for _, m := range ms {
		files, err := filepath.Glob(filepath.Join("testdata", "mutants", m.Dir, "*.json"))
		require.NoError(t, err)
		assert.NotEmpty(t, files, "%s has no mutants in grader/testdata/mutants/%s", m.Exercise, m.Dir)
	}
}

// TestCrashesAreContained grades the solutions with one exercise made to fail to build, or to
// panic or hang in one test: what is hit is reported as an error or a timeout, and the
// exercise's other criteria and the other exercises are graded as usual.
func TestCrashesAreContained(t *testing.T) {
	t.Parallel()
	for _, m := range loadMutants(t, "crash") {
		t.Run(m.ID(), func(t *testing.T) {
			t.Parallel()
			// A short test timeout keeps the hang quick; ex01 stands for the other exercises
			// (whose suites may legitimately take longer than that).
			rep, err := gradeMutant(root(t), m, "-test-timeout", "5s", "ex01", m.Exercise)
			require.NoError(t, err)
			require.Len(t, rep.Exercises, 2)
			for _, ex := range rep.Exercises {
				wantBuild := "ok"
				if strings.HasSuffix(m.ID(), "/build") && ex.Dir == "solutions/"+m.Exercise {
					wantBuild = "failed"
				}
				assert.Equal(t, wantBuild, ex.Build, describe(ex))
				for id, status := range statuses(ex) {
					switch {
					case slices.Contains(m.Fails, id):
						want := report.Error
						if strings.Contains(m.ID(), "hang") {
							want = report.Timeout
						}
						assert.Equal(t, want, status, "%s\n%s", id, describe(ex))
					case status != report.NotVerified:
						assert.Equal(t, report.Met, status, "%s was sunk by a crash elsewhere\n%s", id, describe(ex))
					}
				}
			}
		})
	}
}

// groupMutants groups mutants by exercise and race setting: each group is one build.
func groupMutants(ms []mutant.Mutant) [][]mutant.Mutant {
	index := map[string]int{}
	var groups [][]mutant.Mutant
	for _, m := range ms {
		key := fmt.Sprint(m.Exercise, m.Race)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], m)
	}
	return groups
}

// variantDir is where a mutant of a solution is built.
func variantDir(m mutant.Mutant) string { return "variants/" + m.Name }

// runMutants builds each mutant of one exercise (and one race setting) at a directory of its
// own, beside the exercise's pristine tests, and runs the tests of the criteria it names.
func runMutants(ctx context.Context, eng *engine.Engine, man *manifest.Manifest, group []mutant.Mutant) (map[string]*engine.Outcome, error) {
	pristineSet, err := pristine.Embedded()
	if err != nil {
		return nil, err
	}
	names, err := pristineSet.TestFiles(man.Dir)
	if err != nil {
		return nil, err
	}
	var tests []workspace.File
	for _, n := range names {
		data, err := fs.ReadFile(pristineSet.Files, path.Join(man.Dir, n))
		if err != nil {
			return nil, err
		}
		tests = append(tests, workspace.File{Path: n, Data: data})
	}
	pkg, err := parser.ParseFile(token.NewFileSet(), tests[0].Path, tests[0].Data, parser.PackageClauseOnly)
	if err != nil {
		return nil, err
	}
	src := filepath.Join("..", "solutions", man.Dir)
	code, _, err := workspace.Collect(src, workspace.Limits{})
	if err != nil {
		return nil, err
	}
	job := engine.Job{Label: man.Exercise + "-mutants", Race: group[0].Race, Timeout: 2 * time.Minute}
	for _, m := range group {
		dir := variantDir(m)
		applied := false
		for _, f := range code {
			if strings.HasSuffix(f.Path, "_test.go") {
				continue
			}
			data := f.Data
			if f.Path == m.File {
				if data, err = m.Apply(data); err != nil {
					return nil, err
				}
				applied = true
			}
			if strings.HasSuffix(f.Path, ".go") {
				data = []byte(strings.ReplaceAll(string(data), `"`+modulePath+"/solutions/"+man.Dir+"/", `"`+modulePath+"/"+dir+"/"))
			}
			job.Files = append(job.Files, workspace.File{Path: path.Join(dir, f.Path), Data: data})
		}
		if !applied {
			return nil, fmt.Errorf("mutant %s: solutions/%s has no file %s", m.ID(), man.Dir, m.File)
		}
		for _, f := range tests {
			job.Files = append(job.Files, workspace.File{Path: path.Join(dir, f.Path), Data: f.Data})
		}
		var run []string
		for _, id := range m.Fails {
			if c, ok := criterion(man, id); ok && c.Test != "" && missing(c.Requires) == "" && !slices.Contains(run, c.Test) {
				run = append(run, c.Test)
			}
		}
		job.Packages = append(job.Packages, engine.Package{Dir: dir, Name: pkg.Name.Name, Tests: run, Visible: engine.AllFiles, FailFast: false})
	}
	return eng.Run(ctx, job)
}

// newEngine returns an engine like the grader's: its sandbox, its module files, its go
// command's environment.
func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	dir, err := os.MkdirTemp("", "workbook-mutants-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	programs := map[string]string{}
	for _, name := range []string{"consul", "jaeger", "prometheus"} {
		if p, err := exec.LookPath(name); err == nil {
			programs[name] = p
		}
	}
	sb, err := sandbox.New(t.Context(), sandbox.Config{Programs: programs, Staging: filepath.Join(dir, "sandbox"), Limits: sandbox.Limits{Memory: 2 << 30}})
	require.NoError(t, err)
	t.Cleanup(func() { sb.Close() })
	env, err := sandbox.GoEnv(t.Context(), filepath.Join(dir, "home"))
	require.NoError(t, err)
	set, err := pristine.Embedded()
	require.NoError(t, err)
	goMod, err := fs.ReadFile(set.Files, "go.mod")
	require.NoError(t, err)
	goSum, err := fs.ReadFile(set.Files, "go.sum")
	require.NoError(t, err)
	jobs := filepath.Join(dir, "jobs")
	require.NoError(t, os.Mkdir(jobs, 0o755))
	return engine.New(engine.Config{Sandbox: sb, GoMod: goMod, GoSum: goSum, Dir: jobs, Env: env, Builds: runtime.NumCPU()})
}

func criterion(m *manifest.Manifest, id string) (manifest.Criterion, bool) {
	for _, c := range m.Criteria {
		if c.ID == id {
			return c, true
		}
	}
	return manifest.Criterion{}, false
}

// missing names the first of programs that is not on PATH, or "".
func missing(programs []string) string {
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			return p
		}
	}
	return ""
}
