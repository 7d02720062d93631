package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// TestStudentTestSuites grades, for each exercise whose criteria include the student's own
// tests, a correct implementation with each suite of testdata/studenttests beside it: a
// shallow suite (happy paths only) catches too few wrong implementations and is told which it
// missed; a broken suite (one that fails a correct implementation) is refused. The model suite
// (the solution's own student_test.go) is graded by TestSolutionsMeetEveryCriterion.
func TestStudentTestSuites(t *testing.T) {
	t.Parallel()
	ms, err := manifest.Load(workbook.Pristine())
	require.NoError(t, err)
	graded := 0
	for _, m := range ms {
		var ids []string
		for _, c := range m.Criteria {
			if c.StudentTests() {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		graded++
		for _, suite := range []string{"shallow", "broken"} {
			t.Run(m.Exercise+"/"+suite, func(t *testing.T) {
				t.Parallel()
				src, err := os.ReadFile(filepath.Join("testdata", "studenttests", m.Dir, suite, workbook.StudentTestFile))
				require.NoError(t, err, "every exercise graded on the student's tests has a %s suite", suite)
				dir := copyRoot(t)
				solve(t, dir, m.Dir)
				writeFile(t, dir, m.Dir+"/"+workbook.StudentTestFile, string(src))
				rep := gradeJSON(t, append([]string{"-dir", dir, "-no-race"}, ids...)...)
				require.Len(t, rep.Exercises, 1)
				ex := rep.Exercises[0]
				for _, c := range ex.Criteria {
					assert.Equal(t, report.Unmet, c.Status, "%s with the %s suite\n%s", c.ID, suite, describe(ex))
					switch suite {
					case "shallow":
						assert.NotEmpty(t, c.Missed, "the report must name the wrong implementations a shallow suite missed")
					case "broken":
						assert.Contains(t, c.Message, "fail against a correct implementation")
					}
				}
			})
		}
	}
	require.Positive(t, graded, "no exercise is graded on the student's own tests")
}

// TestStudentTestsNeedTheirOwnFile grades a correct implementation whose student_test.go was
// removed: the criteria graded on the student's tests are unmet and say where tests go.
func TestStudentTestsNeedTheirOwnFile(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t)
	solve(t, dir, "ex07-breaker")
	require.NoError(t, os.Remove(filepath.Join(dir, "ex07-breaker", workbook.StudentTestFile)))
	rep := gradeJSON(t, "-dir", dir, "-no-race", "ex07")
	require.Len(t, rep.Exercises, 1)
	found := false
	for _, c := range rep.Exercises[0].Criteria {
		if c.Kind == string(manifest.KindStudentTests) {
			found = true
			assert.Equal(t, report.Unmet, c.Status)
			assert.True(t, strings.Contains(c.Message, "student_test.go"), c.Message)
		}
	}
	assert.True(t, found, "ex07 is graded on the student's tests")
}
