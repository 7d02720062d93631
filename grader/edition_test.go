package main

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/mutant"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// TestStudentEdition exports the workbook into a temporary directory and checks the edition:
// it builds and vets; its own grader grades its starters to nothing met, with the criteria
// graded on the student's tests not verified, renders its report in every format, and says
// that -solutions has nothing to grade; and no solution text is in it: no line of a solution,
// a mutant's replacement, a crash fixture or a student-test suite of the grader's that the
// starters do not have, and no mutant's description.
func TestStudentEdition(t *testing.T) {
	t.Parallel()
	dest := filepath.Join(t.TempDir(), "edition")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"export", "-dir", root(t), "-o", dest, "-grader-ref", "v9.9.9-test"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	assert.Contains(t, stdout.String(), "wrote the student edition to "+dest)

	t.Run("layout", func(t *testing.T) {
		for _, gone := range []string{"solutions", "grader/testdata", "CONTRIBUTING.md", ".ci"} {
			assert.NoFileExists(t, filepath.Join(dest, gone))
			assert.NoDirExists(t, filepath.Join(dest, gone))
		}
		for _, present := range []string{".github/workflows/autograding.yml", "gradescope/run_autograder", "gradescope/setup.sh",
			"grader/internal/pristine/pristine.sum", "ex07-breaker/criteria_test.go", "ex07-breaker/student_test.go", "tools/go.mod"} {
			assert.FileExists(t, filepath.Join(dest, present))
		}
		ref, err := os.ReadFile(filepath.Join(dest, "reference.go"))
		require.NoError(t, err)
		assert.NotContains(t, string(ref), "go:embed")
		workflow, err := os.ReadFile(filepath.Join(dest, ".github/workflows/autograding.yml"))
		require.NoError(t, err)
		assert.Contains(t, string(workflow), "WORKBOOK_GRADER_REF: v9.9.9-test\n")
		assert.Contains(t, string(workflow), "WORKBOOK_GRADER_REPOSITORY: microservices-workbook/workbook\n")
		require.NoError(t, filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dest, p)
			assert.False(t, strings.HasSuffix(p, "_test.go") && strings.HasPrefix(rel, "grader"+string(filepath.Separator)),
				"%s: the grader's tests stay out of the edition", rel)
			if strings.HasSuffix(p, ".md") {
				data, err := os.ReadFile(p)
				require.NoError(t, err)
				assert.NotRegexp(t, regexp.MustCompile(`(?m)^\s*(<!-- (upstream|edition):|edition:end -->)`), string(data), "%s keeps a marker", rel)
				assert.NotContains(t, string(data), "solutions/ex", "%s names a solution's directory", rel)
			}
			return nil
		}))
	})

	t.Run("no solution text", func(t *testing.T) {
		edition := linesOf(t, dest)
		secrets := secretLines(t, root(t))
		require.Greater(t, len(secrets), 1000, "the solutions have that many lines of their own")
		for line, from := range secrets {
			if _, found := edition[line]; found {
				t.Errorf("the edition has %q (from %s) in %s", line, from, edition[line])
			}
		}
		all := allText(t, dest)
		ms := mutantsOf(t, mutant.Dir)
		require.NotEmpty(t, ms)
		for _, m := range ms {
			assert.NotContains(t, all, m.Description, "the edition has the description of mutant %s", m.Name)
		}
	})

	t.Run("builds and vets", func(t *testing.T) {
		for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
			cmd := exec.Command("go", args...)
			cmd.Dir = dest
			cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "go %s in the edition:\n%s", strings.Join(args, " "), out)
		}
	})

	t.Run("its grader grades the starters", func(t *testing.T) {
		exe := filepath.Join(t.TempDir(), "grader")
		build := exec.Command("go", "build", "-o", exe, "./grader")
		build.Dir = dest
		build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
		out, err := build.CombinedOutput()
		require.NoError(t, err, "%s", out)

		grade := func(args ...string) (string, string, int) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(exe, args...)
			cmd.Dir = dest
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			return stdout.String(), stderr.String(), code
		}
		jsonFile := filepath.Join(t.TempDir(), "grade.json")
		_, errOut, code := grade("-q", "-no-cache", "-format", "json", "-o", jsonFile)
		require.Equal(t, exitOK, code, errOut)
		f, err := os.Open(jsonFile)
		require.NoError(t, err)
		defer f.Close()
		rep, err := report.Read(f)
		require.NoError(t, err)
		require.NotEmpty(t, rep.Exercises)
		assert.Contains(t, strings.Join(rep.Notes, "\n"), "student edition")
		studentTests := 0
		for _, ex := range rep.Exercises {
			assert.Equal(t, "ok", ex.Build, describe(ex))
			assert.Zero(t, ex.Met(), describe(ex))
			for _, c := range ex.Criteria {
				if c.Kind == "student_tests" {
					studentTests++
					assert.Equal(t, report.NotVerified, c.Status, "%s: %s", c.ID, c.Message)
				}
			}
		}
		assert.Positive(t, studentTests)

		for _, format := range report.Formats() {
			out, errOut, code := grade("-from", jsonFile, "-format", string(format))
			assert.Equal(t, exitOK, code, "-format %s: %s", format, errOut)
			assert.NotEmpty(t, out, format)
			if format == report.Classroom {
				res, err := report.ReadClassroom([]byte(out))
				require.NoError(t, err)
				score, max := 0, 0
				for _, test := range res.Tests {
					score += test.Score
					max += test.MaxScore
				}
				assert.Equal(t, rep.Score, score, "the Classroom tests' points add up to the score")
				assert.Equal(t, rep.MaxScore, max)
				assert.Equal(t, rep.MaxScore, res.MaxScore)
			}
		}

		_, errOut, code = grade("-solutions", "ex07")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, errOut, "a student edition of the workbook does not carry the reference solutions")
	})
}

// TestExportUsage checks the export's command line.
func TestExportUsage(t *testing.T) {
	full := filepath.Join(t.TempDir(), "full")
	require.NoError(t, os.MkdirAll(full, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o644))
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"no destination", []string{"-grader-ref", "v1"}, "-o"},
		{"no ref", []string{"-o", t.TempDir()}, "-grader-ref"},
		{"a ref that is not one", []string{"-o", t.TempDir(), "-grader-ref", "v1; rm -rf /"}, "is not a tag"},
		{"a repository that is not one", []string{"-o", t.TempDir(), "-grader-ref", "v1", "-grader-repo", "nope"}, "is not owner/name"},
		{"a destination that is not empty", []string{"-o", full, "-grader-ref", "v1"}, "is not empty"},
		{"a destination inside the workbook", []string{"-o", filepath.Join(root(t), "edition"), "-grader-ref", "v1"}, "outside the workbook"},
		{"an argument", []string{"-o", t.TempDir(), "-grader-ref", "v1", "ex07"}, "takes no arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"export", "-dir", root(t)}, tc.args...), &stdout, &stderr)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr.String(), tc.says)
		})
	}
}

// nonTrivial reports whether a trimmed line is distinctive enough to be searched for: some
// words of code or prose, not a brace, a keyword or a common idiom.
func nonTrivial(line string) bool {
	letters := 0
	for _, r := range line {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			letters++
		}
	}
	return len(line) >= 16 && letters >= 8
}

// linesOf returns the trimmed lines of every file under dir, each with a file it is in.
func linesOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				if _, ok := out[l]; !ok {
					out[l] = rel
				}
			}
		}
		return nil
	}))
	return out
}

func allText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		b.WriteByte('\n')
		return err
	}))
	return b.String()
}

// secretLines returns the non-trivial lines, with where they come from, of the workbook's
// solutions, its mutants' replacement texts, its crash fixtures and its student-test suites
// that no public source has: what the edition must not reveal. The public sources are the
// exercises' directories (the starters, their tests and statements) and the grader's own code.
func secretLines(t *testing.T, root string) map[string]string {
	t.Helper()
	public := map[string]string{}
	dirs, err := filepath.Glob(filepath.Join(root, "ex[0-9][0-9]-*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, d := range dirs {
		maps.Copy(public, linesOf(t, d))
	}
	require.NoError(t, filepath.WalkDir(filepath.Join(root, "grader"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		for _, l := range strings.Split(string(data), "\n") {
			public[strings.TrimSpace(l)] = p
		}
		return err
	}))
	out := map[string]string{}
	add := func(text, from string) {
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if _, known := public[l]; nonTrivial(l) && !known {
				out[l] = from
			}
		}
	}
	sols, err := os.ReadDir(filepath.Join(root, "solutions"))
	require.NoError(t, err)
	for _, e := range sols {
		require.NoError(t, filepath.WalkDir(filepath.Join(root, "solutions", e.Name()), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			add(string(data), rel)
			return err
		}))
	}
	for _, dir := range []string{"mutants", "crash"} {
		for _, m := range mutantsOf(t, "grader/testdata/"+dir) {
			for _, r := range m.Replace {
				add(r.New, "grader/testdata/"+dir+"/"+m.ID()+".json")
			}
		}
	}
	suites, err := filepath.Glob(filepath.Join(root, "grader", "testdata", "studenttests", "*", "*", "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, suites)
	for _, p := range suites {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, p)
		add(string(data), rel)
	}
	return out
}

// mutantsOf reads every mutant file under base (a slash path from the workbook's root).
func mutantsOf(t *testing.T, base string) []mutant.Mutant {
	t.Helper()
	ms, err := mutant.Load(os.DirFS(root(t)), base, "")
	require.NoError(t, err)
	return ms
}
