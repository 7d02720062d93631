package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/batch"
	"github.com/microservices-workbook/workbook/grader/internal/mutant"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// TestBatchGradesAClass grades, with the batch subcommand, a directory holding a correct
// checkout, a starter, a tampered one (it steals the verdict channel's key), one whose HTTP
// client hangs, one whose HTTP client panics, one that floods its output and one that does not
// compile. The batch finishes, and each gradebook row says what that checkout earned.
func TestBatchGradesAClass(t *testing.T) {
	t.Parallel()
	class := t.TempDir()
	newCheckout := func(student string) string {
		dir := filepath.Join(class, student)
		for _, f := range []string{"go.mod", "go.sum"} {
			data, err := os.ReadFile(filepath.Join(root(t), f))
			require.NoError(t, err)
			writeFile(t, dir, f, string(data))
		}
		require.NoError(t, workspace.Copy(filepath.Join(dir, "ex07-breaker"), filepath.Join(root(t), "ex07-breaker"), workspace.Limits{}))
		return dir
	}
	solveEx07 := func(dir string) {
		for _, f := range []string{"breaker.go", "client.go", "metrics.go", "student_test.go"} {
			data, err := os.ReadFile(filepath.Join(root(t), "solutions", "ex07-breaker", f))
			require.NoError(t, err)
			writeFile(t, dir, "ex07-breaker/"+f, string(data))
		}
	}
	crash := map[string]mutant.Mutant{}
	fixtures, err := mutant.Load(os.DirFS(root(t)), "grader/testdata/crash", "ex07-breaker")
	require.NoError(t, err)
	for _, m := range fixtures {
		crash[m.Name] = m
	}
	breakWith := func(dir, fixture string) {
		m, ok := crash[fixture]
		require.True(t, ok, fixture)
		p := filepath.Join(dir, "ex07-breaker", m.File)
		src, err := os.ReadFile(p)
		require.NoError(t, err)
		out, err := m.Apply(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, out, 0o644))
	}

	solveEx07(newCheckout("correct"))
	newCheckout("starter")
	theft, err := os.ReadFile(filepath.Join("testdata", "hostile", "key-theft", "files", "ex07-breaker", "zz_keytheft.go"))
	require.NoError(t, err)
	writeFile(t, newCheckout("tampered"), "ex07-breaker/zz_keytheft.go", string(theft))
	hanging := newCheckout("hanging")
	solveEx07(hanging)
	breakWith(hanging, "hang")
	crashing := newCheckout("crashing")
	solveEx07(crashing)
	breakWith(crashing, "panic")
	flood, err := os.ReadFile(filepath.Join("testdata", "hostile", "flood", "files", "ex07-breaker", "zz_flood.go"))
	require.NoError(t, err)
	flooding := newCheckout("flooding")
	solveEx07(flooding)
	writeFile(t, flooding, "ex07-breaker/zz_flood.go", string(flood))
	broken := newCheckout("broken")
	solveEx07(broken)
	breakWith(broken, "build")

	out := filepath.Join(t.TempDir(), "grades")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"batch", "-o", out, "-no-cache", "-test-timeout", "20s", class, "ex07"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	assert.Contains(t, stderr.String(), "7 checkouts in")
	assert.Contains(t, stderr.String(), "(7 graded, 0 unchanged, 0 failed)")

	f, err := os.Open(filepath.Join(out, batch.GradebookFile))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 8)
	book := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		book[row["student"]] = row
	}
	reportOf := func(student string) *report.Report {
		f, err := os.Open(filepath.Join(out, student+".json"))
		require.NoError(t, err)
		defer f.Close()
		rep, err := report.Read(f)
		require.NoError(t, err)
		return rep
	}

	const points = "ex07 (of 8)"
	for student, want := range map[string]struct{ points, total, tampered, review string }{
		// The model suite of student_test.go is graded too: full marks.
		"correct":  {"8", "16", "", ""},
		"starter":  {"0", "4", "", ""},
		"tampered": {"0", "4", "ex07", "ex07"},
		// Everything but the HTTP client (weight 1), whose test runs out of time.
		"hanging":  {"7", "", "", ""},
		"crashing": {"7", "", "", ""},
		// Its output is cut short, and it is graded on.
		"flooding": {"8", "", "", ""},
		"broken":   {"0", "4", "", ""},
	} {
		t.Run(student, func(t *testing.T) {
			row := book[student]
			require.NotNil(t, row, "a row for %s", student)
			assert.Equal(t, batch.Graded, row["status"])
			assert.Equal(t, want.points, row[points], "points")
			if want.total != "" {
				assert.Equal(t, want.total, row["total"], "total")
			}
			assert.Equal(t, "16", row["max"])
			assert.Equal(t, want.tampered, row["tampered"])
			assert.Equal(t, want.review, row["needs_review"])
			assert.Equal(t, student+".md", row["report"])
			assert.FileExists(t, filepath.Join(out, student+".md"))
		})
	}
	hang := reportOf("hanging").Exercises[0]
	assert.Equal(t, report.Timeout, statuses(hang)["ex07.http-client"], describe(hang))
	crashed := reportOf("crashing").Exercises[0]
	assert.NotEqual(t, report.Met, statuses(crashed)["ex07.http-client"], describe(crashed))
	for _, name := range []string{"flooding.json", "flooding.md"} {
		info, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err)
		assert.Less(t, info.Size(), int64(2_000_000), "%s keeps a bounded part of a quarter of a gigabyte of output", name)
	}
	assert.Equal(t, "failed", reportOf("broken").Exercises[0].Build)
}

func TestBatchUsage(t *testing.T) {
	class := t.TempDir()
	writeFile(t, class, "ada/go.mod", "module x\n")
	roster := filepath.Join(t.TempDir(), "roster.csv")
	writeFile(t, filepath.Dir(roster), "roster.csv", "name,repo\nada,ada\n")
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"nothing to grade", nil, "name the directory of checkouts"},
		{"no checkouts there", []string{t.TempDir()}, "no directory of"},
		{"a roster without the columns", []string{roster}, "must name the columns student and dir"},
		{"a missing directory", []string{filepath.Join(class, "nope")}, "no such file"},
		{"an unknown exercise", []string{class, "ex99"}, `unknown exercise "ex99"`},
		{"json as the readable format", []string{"-format", "json", class}, "but json (always written)"},
		{"no checkouts at once", []string{"-j", "0", class}, "-j must be at least 1"},
		{"no time", []string{"-checkout-timeout", "0s", class}, "-checkout-timeout must be positive"},
		{"an unknown sandbox", []string{"-sandbox", "chroot", class}, `unknown -sandbox "chroot"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"batch", "-o", t.TempDir()}, tc.args...), &stdout, &stderr)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr.String(), tc.says)
		})
	}
}
