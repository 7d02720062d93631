package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// BenchmarkGrade times the grader on this workbook's reference solutions, sandboxed:
//
//   - warm: the build cache full, the verdict cache empty (-no-cache): what an instructor pays
//     for a checkout graded the first time;
//   - cached: nothing changed since the last grading: what a student pays to re-grade;
//   - fresh-gocache: an empty build cache (the module cache kept): every package compiled again,
//     as on a newcomer's first run once the modules are downloaded.
//
// Run it with
//
//	go test ./grader -run '^$' -bench BenchmarkGrade -benchtime 1x
func BenchmarkGrade(b *testing.B) {
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		b.Fatal(err)
	}
	// The verdict cache lives under the user's cache directory: give each case its own, and
	// keep the build cache where it was.
	b.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	for _, target := range []struct {
		name string
		args []string
	}{
		{"workbook", nil},
		{"ex07", []string{"ex07"}},
	} {
		grade := func(b *testing.B, extra ...string) {
			b.Helper()
			args := append(append([]string{"-q", "-solutions", "-format", "json"}, extra...), target.args...)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
				b.Fatalf("grader exited %d: %s", code, stderr.String())
			}
		}
		b.Run(target.name+"/warm", func(b *testing.B) {
			b.Setenv("XDG_CACHE_HOME", b.TempDir())
			grade(b, "-no-cache") // fills the build cache
			for b.Loop() {
				grade(b, "-no-cache")
			}
		})
		b.Run(target.name+"/cached", func(b *testing.B) {
			b.Setenv("XDG_CACHE_HOME", b.TempDir())
			grade(b)
			for b.Loop() {
				grade(b)
			}
		})
	}
	b.Run("workbook/fresh-gocache", func(b *testing.B) {
		b.Setenv("XDG_CACHE_HOME", b.TempDir())
		for b.Loop() {
			b.StopTimer()
			b.Setenv("GOCACHE", b.TempDir())
			b.StartTimer()
			grade := []string{"-q", "-solutions", "-no-cache", "-format", "json"}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), grade, &stdout, &stderr); code != exitOK {
				b.Fatalf("grader exited %d: %s", code, stderr.String())
			}
		}
	})
}
