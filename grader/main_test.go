package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// root is the workbook checkout these tests grade: the one they are part of.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("..")
	require.NoError(t, err)
	return r
}

// copyRoot returns a throwaway copy of the checkout.
func copyRoot(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, workspace.Copy(dst, root(t), workspace.Limits{}))
	return dst
}

// gradeJSON runs the command and decodes its JSON report.
func gradeJSON(t *testing.T, args ...string) *report.Report {
	t.Helper()
	rep, err := gradeReport(args...)
	require.NoError(t, err)
	return rep
}

// gradeReport runs the command and decodes its JSON report. It is safe to call from any
// goroutine.
func gradeReport(args ...string) (*report.Report, error) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"-q", "-no-cache", "-format", "json"}, args...), &stdout, &stderr); code != exitOK {
		return nil, fmt.Errorf("grader %v exited %d: %s", args, code, stderr.String())
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("grader %v: report: %w\n%s", args, err, stdout.String())
	}
	return &rep, nil
}

func statuses(ex report.Exercise) map[string]string {
	got := map[string]string{}
	for _, c := range ex.Criteria {
		got[c.ID] = c.Status
	}
	return got
}

func describe(ex report.Exercise) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s build=%s tampered=%v %v needs_review=%v %v notes=%v\n%s\n", ex.ID, ex.Build, ex.Tampered, ex.TamperReasons,
		ex.NeedsReview, ex.Review, ex.Notes, ex.BuildOutput)
	for _, c := range ex.Criteria {
		fmt.Fprintf(&b, "  %s %s\n", c.Status, c.ID)
		if c.Status != report.Met {
			fmt.Fprintf(&b, "%s\n", report.Summary(c.Message, 15))
		}
	}
	for _, q := range ex.Quality {
		fmt.Fprintf(&b, "  quality %s %s %s\n", q.Check, q.Status, q.Message)
	}
	return b.String()
}

func TestUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
		says string
	}{
		{"help", []string{"-h"}, exitOK, "usage: go run ./grader"},
		{"unknown flag", []string{"-frobnicate"}, exitUsage, "flag provided but not defined"},
		{"unknown format", []string{"-format", "yaml"}, exitUsage, `unknown -format "yaml"`},
		{"unknown exercise", []string{"-dir", root(t), "ex99"}, exitUsage, `unknown exercise "ex99"`},
		{"no checkout", []string{"-dir", t.TempDir()}, exitUsage, "no go.mod there"},
		{"bad timeout", []string{"-timeout", "0s"}, exitUsage, "must be positive"},
		{"bad parallelism", []string{"-p", "0"}, exitUsage, "-p must be at least 1"},
		{"bad sandbox", []string{"-sandbox", "chroot"}, exitUsage, `unknown -sandbox "chroot"`},
		{"trusted without a sandbox", []string{"-dir", root(t), "-sandbox", "none", "ex07"}, exitUsage, "refusing to run a checkout's code without a sandbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			assert.Equal(t, tc.want, code)
			assert.Contains(t, stderr.String(), tc.says)
		})
	}
}

func TestMinScore(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "grade.xml")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-q", "-dir", root(t), "-format", "junit", "-o", out, "-min-score", "5", "ex07"}, &stdout, &stderr)
	assert.Equal(t, exitLowScore, code, "the starter scores 1 per category graded: 4 for ex07's four categories")
	assert.Contains(t, stderr.String(), "is below -min-score 5")
	assert.Empty(t, stdout.String(), "the report goes to -o")
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(data), "<testsuites")

	code = run(context.Background(), []string{"-q", "-dir", root(t), "-format", "markdown", "-min-score", "4", "ex07"}, &stdout, &stderr)
	assert.Equal(t, exitOK, code, stderr.String())
	assert.Contains(t, stdout.String(), "## Workbook grade: 4/16")
}

// TestSolutionsMeetEveryCriterion grades the reference solutions: every criterion met, every
// quality check met, full marks.
func TestSolutionsMeetEveryCriterion(t *testing.T) {
	t.Parallel()
	rep := gradeJSON(t, "-dir", root(t), "-solutions")
	require.NotEmpty(t, rep.Exercises)
	for _, ex := range rep.Exercises {
		assert.Equal(t, "ok", ex.Build, describe(ex))
		assert.False(t, ex.Tampered, describe(ex))
		for _, c := range ex.Criteria {
			if c.Status == report.NotVerified {
				continue
			}
			assert.Equal(t, report.Met, c.Status, "%s\n%s", c.ID, describe(ex))
		}
		for _, q := range ex.Quality {
			assert.Equal(t, report.Met, q.Status, "%s quality %s: %s", ex.ID, q.Check, q.Message)
		}
	}
	assert.Equal(t, rep.MaxScore, rep.Score)
	assert.Equal(t, 24, rep.MaxScore, "the graded exercises should cover all six rubric categories")
}

// TestStartersMeetNothing grades the starter code as a fresh clone has it: it builds, is not
// tampered, and meets no criterion.
func TestStartersMeetNothing(t *testing.T) {
	t.Parallel()
	rep := gradeJSON(t, "-dir", root(t))
	require.NotEmpty(t, rep.Exercises)
	for _, ex := range rep.Exercises {
		assert.Equal(t, "ok", ex.Build, describe(ex))
		assert.False(t, ex.Tampered, describe(ex))
		assert.Zero(t, ex.Met(), describe(ex))
		for _, q := range ex.Quality {
			assert.NotEqual(t, report.Met, q.Status, "%s: quality counts before any criterion is met", ex.ID)
		}
	}
	for _, c := range rep.Rubric {
		assert.LessOrEqual(t, c.Level, 1, c.Category)
	}
}

// TestTheStudentsFilesNeverCostMarks grades a correct implementation with a test file of the
// student's own added and a shipped test file edited, by the student's own grader and by a
// trusted one: the grade is the same as without them, and the report notes them neutrally.
func TestTheStudentsFilesNeverCostMarks(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t)
	solve(t, dir, "ex07-breaker")
	clean := gradeJSON(t, "-dir", dir, "ex07")
	require.Len(t, clean.Exercises, 1)

	// A scratch test that passes: a failing test of the student's own fails their suite, which
	// the criteria graded on their tests rightly count (see TestStudentTestSuites).
	writeFile(t, dir, "ex07-breaker/zz_scratch_test.go", "package breaker\n\nimport \"testing\"\n\nfunc TestScratch(t *testing.T) { t.Log(\"exploring\") }\n")
	writeFile(t, dir, "ex07-breaker/criteria_test.go", "package breaker\n\nimport \"testing\"\n\nfunc TestStateMachine(t *testing.T) {}\n")
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"trusted grader", []string{"-dir", dir, "ex07"}},
		{"the student's own grader", []string{"ex07"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			var rep *report.Report
			if mode.name == "trusted grader" {
				rep = gradeJSON(t, mode.args...)
			} else {
				rep = gradeIn(t, dir, mode.args...)
			}
			require.Len(t, rep.Exercises, 1)
			ex := rep.Exercises[0]
			assert.False(t, ex.Tampered, describe(ex))
			assert.Equal(t, statuses(clean.Exercises[0]), statuses(ex), describe(ex))
			assert.Equal(t, clean.Score, rep.Score)
			notes := strings.Join(ex.Notes, "\n")
			assert.Contains(t, notes, "criteria_test.go differs from the workbook's; the grader used its own copy")
			assert.Contains(t, notes, "zz_scratch_test.go")
		})
	}
}

// solve copies the reference solution of an exercise, its model student_test.go included, over
// its starter in the checkout dir, its imports of its own subpackages moved to the exercise's
// path.
func solve(t *testing.T, dir, exercise string) {
	t.Helper()
	code, tests, err := workspace.GoFiles(filepath.Join(dir, "solutions", exercise))
	require.NoError(t, err)
	for _, f := range append(code, tests...) {
		data, err := os.ReadFile(filepath.Join(dir, "solutions", exercise, f))
		require.NoError(t, err)
		src := strings.ReplaceAll(string(data), `"`+modulePath+"/solutions/", `"`+modulePath+"/")
		writeFile(t, dir, exercise+"/"+f, src)
	}
}

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// gradeIn runs the grader as a student runs it in their checkout: from inside it, without -dir.
func gradeIn(t *testing.T, dir string, args ...string) *report.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runIn(context.Background(), dir, append([]string{"-q", "-no-cache", "-format", "json"}, args...), &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	var rep report.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	return &rep
}
