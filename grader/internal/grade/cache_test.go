package grade

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/pristine"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// checkoutWith copies the workbook's solutions of the named exercises into a new checkout.
func checkoutWith(t *testing.T, dirs ...string) string {
	t.Helper()
	root := t.TempDir()
	top := filepath.Join("..", "..", "..")
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(top, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, f), data, 0o644))
	}
	for _, d := range dirs {
		src := filepath.Join(top, "solutions", d)
		require.NoError(t, filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dst := filepath.Join(root, "solutions", d, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.WriteFile(dst, data, 0o644)
		}))
	}
	return root
}

// editedPristine returns a copy of the embedded pristine set with one file changed.
func editedPristine(t *testing.T, name string, edit func([]byte) []byte) *pristine.Set {
	t.Helper()
	set, err := pristine.Embedded()
	require.NoError(t, err)
	files := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(set.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(set.Files, p)
		if p == name {
			data = edit(data)
		}
		files[p] = &fstest.MapFile{Data: data}
		return err
	}))
	set.Files = files
	return set
}

// TestTheCacheIsNeverStale grades an exercise, then again after each change of something its
// verdicts depend on: each change grades it again; an unchanged exercise comes from the cache.
func TestTheCacheIsNeverStale(t *testing.T) {
	checkout := checkoutWith(t, "ex07-breaker")
	cacheDir := t.TempDir()
	grade := func(t *testing.T, change func(*Options)) report.Exercise {
		t.Helper()
		opts := Options{Root: checkout, Solutions: true, Exercises: []string{"ex07"}, CacheDir: cacheDir, NoRace: true}
		if change != nil {
			change(&opts)
		}
		rep, err := Grade(context.Background(), opts)
		require.NoError(t, err)
		require.Len(t, rep.Exercises, 1)
		return rep.Exercises[0]
	}
	first := grade(t, nil)
	require.False(t, first.Cached)
	require.Positive(t, first.Met())
	again := grade(t, nil)
	assert.True(t, again.Cached, "nothing changed: the verdicts come from the cache")
	assert.Equal(t, first.Criteria, again.Criteria)

	file := filepath.Join(checkout, "solutions", "ex07-breaker", "breaker.go")
	original, err := os.ReadFile(file)
	require.NoError(t, err)
	changes := []struct {
		name   string
		change func(*Options)
		undo   func()
	}{
		{"one byte of a student's file", func(*Options) {
			require.NoError(t, os.WriteFile(file, append(append([]byte{}, original...), '\n'), 0o644))
		}, func() { require.NoError(t, os.WriteFile(file, original, 0o644)) }},
		{"a pristine test file", func(o *Options) {
			o.Pristine = editedPristine(t, "ex07-breaker/criteria_test.go", func(b []byte) []byte { return append(b, "\n// edited\n"...) })
		}, nil},
		{"the pristine go.mod", func(o *Options) {
			o.Pristine = editedPristine(t, "go.mod", func(b []byte) []byte { return append(b, "\n// edited\n"...) })
		}, nil},
		{"a flag", func(o *Options) { o.NoRace = false }, nil},
		{"the criteria selected", func(o *Options) { o.Exercises = []string{"ex07.state-machine"} }, nil},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			ex := grade(t, c.change)
			assert.False(t, ex.Cached, "a change of %s must grade the exercise again", c.name)
			if c.undo != nil {
				c.undo()
			}
		})
	}
	t.Run("-count=1", func(t *testing.T) {
		ex := grade(t, func(o *Options) { o.CacheDir = "" })
		assert.False(t, ex.Cached)
	})
}

// TestInstallingAProgramGradesAgain grades a criterion that needs a program: not verified
// while the program is missing, graded once one is installed, and the cache does not hide it.
func TestInstallingAProgramGradesAgain(t *testing.T) {
	checkout := checkoutWith(t, "ex05-discovery")
	cacheDir := t.TempDir()
	bin := t.TempDir()
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	grade := func() report.Criterion {
		rep, err := Grade(context.Background(), Options{Root: checkout, Solutions: true, Exercises: []string{"ex05.consul"}, CacheDir: cacheDir, NoRace: true})
		require.NoError(t, err)
		require.Len(t, rep.Exercises, 1)
		require.Len(t, rep.Exercises[0].Criteria, 1)
		return rep.Exercises[0].Criteria[0]
	}
	if _, err := exec.LookPath("consul"); err == nil {
		t.Skip("consul is installed here: the not-installed half of this test cannot run")
	}
	assert.Equal(t, report.NotVerified, grade().Status)
	assert.Equal(t, report.NotVerified, grade().Status)
	// A stand-in that is not Consul: the criterion is then graded, and not met.
	require.NoError(t, os.WriteFile(filepath.Join(bin, "consul"), []byte("#!/bin/sh\necho 'not consul' >&2\nexit 1\n"), 0o755))
	c := grade()
	assert.NotEqual(t, report.NotVerified, c.Status, "the program appeared: the criterion must be graded")
	assert.NotEqual(t, report.Met, c.Status, strings.TrimSpace(c.Message))
}
