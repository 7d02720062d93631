package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/mutant"
	"github.com/microservices-workbook/workbook/grader/internal/report"
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

// mutantWorkers is how many mutants are graded at once. Most of a mutant's time is spent in
// tests waiting out their bounded waits, not on the CPU, so this is more than the cores.
const mutantWorkers = 4

// TestMutantsAreCaught grades each mutant of a reference solution and checks that the criteria
// it names are not met: each criterion test catches a plausible wrong implementation.
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

	// Grade concurrently, then check each result in its own subtest.
	type result struct {
		rep *report.Report
		err error
	}
	results := make([]result, len(selected))
	source := root(t)
	sem := make(chan struct{}, mutantWorkers)
	var wg sync.WaitGroup
	for i, m := range selected {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// Only the criteria the mutant must fail are graded: the others do not change
			// the verdict, and skipping their tests keeps this quick.
			rep, err := gradeMutant(source, m, m.Fails...)
			results[i] = result{rep, err}
		})
	}
	wg.Wait()

	caught := map[string]bool{}
	all, ran := map[string]int{}, map[string]int{}
	for _, m := range mutants {
		all[m.Exercise]++
	}
	for i, m := range selected {
		ran[m.Exercise]++
		t.Run(m.ID(), func(t *testing.T) {
			require.NoError(t, results[i].err)
			rep := results[i].rep
			require.Len(t, rep.Exercises, 1)
			got := statuses(rep.Exercises[0])
			for _, id := range m.Fails {
				require.Contains(t, got, id, "mutant %s names an unknown criterion", m.ID())
				if assert.NotEqual(t, report.Met, got[id], "mutant %q (%s) still meets %s", m.Description, m.ID(), id) {
					caught[id] = true
				}
			}
		})
	}

	// Every criterion is caught by at least one mutant.
	ms, err := manifest.Load(workbook.Pristine())
	require.NoError(t, err)
	for _, m := range ms {
		if ran[m.Dir] < all[m.Dir] {
			continue // -run left some of its mutants out; TestEveryExerciseHasMutants covers the gap
		}
		for _, c := range m.Criteria {
			if c.StudentTests() {
				continue // decided by the student's tests: see TestStudentTests
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
