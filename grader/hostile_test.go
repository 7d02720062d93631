package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/cache"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// hostileCase is one checkout of testdata/hostile: real attack payloads (files/) put over a
// copy of the workbook, and what grading it must show (expect.json).
type hostileCase struct {
	Description string `json:"description"`
	// Bases says, per exercise graded, what its directory holds under the payload: the
	// "starter" as shipped or the reference "solution".
	Bases map[string]string `json:"bases"`
	// Met says, per exercise, whether "all" or "none" of its criteria must be met.
	Met          map[string]string `json:"met"`
	Build        map[string]string `json:"build"`
	Tampered     bool              `json:"tampered"`
	NeedsReview  bool              `json:"needs_review"`
	Reason       string            `json:"reason"`
	QualityUnmet []string          `json:"quality_unmet"`
	// NeverInReport lists texts the report must not contain; $SECRET is the grader's secret.
	NeverInReport  []string `json:"never_in_report"`
	MaxReportBytes int      `json:"max_report_bytes"`
	// Marker is a text in the command line of processes the payload leaves behind.
	Marker string `json:"marker"`
	Make   struct {
		Symlink map[string]string `json:"symlink"`
		FIFO    []string          `json:"fifo"`
		Many    *struct {
			Dir   string `json:"dir"`
			Count int    `json:"count"`
		} `json:"many"`
	} `json:"make"`
	// RemovePristine lists shipped files the case removes (to put something else there).
	RemovePristine []string `json:"remove_pristine"`
}

// TestHostileCheckouts grades each hostile checkout with the trusted grader: the attacked
// exercise earns nothing it did not earn honestly, the attack is reported, the other exercises
// graded beside it are untouched, and the run leaves no process behind, writes nothing outside
// its workspace and leaks no variable of the grader's environment.
func TestHostileCheckouts(t *testing.T) {
	secret := "hostile-secret-" + randomHex(t)
	t.Setenv("WORKBOOK_GRADER_SECRET", secret)
	t.Setenv("GITHUB_TOKEN", secret)
	dirs, err := filepath.Glob(filepath.Join("testdata", "hostile", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	testify := testifyFile(t)
	before := cache.FileHash(testify)

	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			var hc hostileCase
			data, err := os.ReadFile(filepath.Join(dir, "expect.json"))
			require.NoError(t, err)
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&hc))

			checkout := hostileCheckout(t, dir, hc)
			treeBefore := treeHash(t, checkout)
			args := []string{"-q", "-no-cache", "-format", "json", "-dir", checkout, "-memory", "512", "-test-timeout", "60s"}
			for ex := range hc.Bases {
				args = append(args, ex)
			}
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(context.Background(), args, &stdout, &stderr)
			require.Equal(t, exitOK, code, "the grader must grade a hostile checkout, not fail: %s", stderr.String())
			assert.Less(t, time.Since(start), 4*time.Minute)
			var rep report.Report
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), "the report must stay intact:\n%s", cut(stdout.String()))

			all := stdout.String() + stderr.String()
			assert.NotContains(t, all, secret, "the grader's environment leaked into the report")
			for _, never := range hc.NeverInReport {
				assert.NotContains(t, all, strings.ReplaceAll(never, "$SECRET", secret))
			}
			if hc.MaxReportBytes > 0 {
				assert.Less(t, stdout.Len(), hc.MaxReportBytes, "the report must stay bounded")
			}
			if hc.Marker != "" {
				assert.Empty(t, processesWith(t, hc.Marker), "a process of the checkout outlived the grading")
			}
			assert.Equal(t, treeBefore, treeHash(t, checkout), "the checkout itself must not change")
			assert.NoFileExists(t, filepath.Join(os.TempDir(), "hostile-marker"))

			reasons := strings.Join(append(append([]string{}, rep.Notes...), rep.Warnings...), "\n")
			byID := map[string]report.Exercise{}
			for _, ex := range rep.Exercises {
				byID[ex.ID] = ex
				reasons += "\n" + strings.Join(ex.TamperReasons, "\n") + "\n" + strings.Join(ex.Notes, "\n") + "\n" + ex.BuildOutput
				for _, f := range ex.Review {
					reasons += "\n" + f.Text
				}
			}
			// Every payload attacks ex07; other exercises are graded beside it.
			const attacked = "ex07"
			for id, want := range hc.Met {
				ex, ok := byID[id]
				require.True(t, ok, "%s was not graded", id)
				switch want {
				case "all":
					for _, c := range ex.Criteria {
						if c.Status != report.NotVerified {
							assert.Equal(t, report.Met, c.Status, "%s: %s\n%s", id, c.ID, describe(ex))
						}
					}
				case "none":
					assert.Zero(t, ex.Met(), describe(ex))
				}
				if b, ok := hc.Build[id]; ok {
					assert.Equal(t, b, ex.Build, describe(ex))
				}
			}
			ex := byID[attacked]
			assert.Equal(t, hc.Tampered, ex.Tampered, describe(ex))
			assert.Equal(t, hc.NeedsReview, ex.NeedsReview, describe(ex))
			if hc.Reason != "" {
				assert.Contains(t, reasons, hc.Reason, describe(ex))
			}
			for _, check := range hc.QualityUnmet {
				for _, q := range ex.Quality {
					if q.Check == check {
						assert.Equal(t, report.Unmet, q.Status, "%s: %s", check, describe(ex))
					}
				}
			}
		})
	}
	t.Cleanup(func() {
		assert.Equal(t, before, cache.FileHash(testify), "the module cache was changed")
	})
}

// hostileCheckout makes the checkout of one case: a copy of the workbook, each graded
// exercise's base, then the payload.
func hostileCheckout(t *testing.T, dir string, hc hostileCase) string {
	t.Helper()
	checkout := copyRoot(t)
	ms, err := manifest.Load(os.DirFS(root(t)))
	require.NoError(t, err)
	dirOf := map[string]string{}
	for _, m := range ms {
		dirOf[m.Exercise] = m.Dir
	}
	for ex, base := range hc.Bases {
		require.Contains(t, dirOf, ex)
		if base == "solution" {
			solve(t, checkout, dirOf[ex])
		}
	}
	for _, p := range hc.RemovePristine {
		require.NoError(t, os.Remove(filepath.Join(checkout, p)))
	}
	files := filepath.Join(dir, "files")
	if _, err := os.Stat(files); err == nil {
		require.NoError(t, workspace.Copy(checkout, files, workspace.Limits{}))
	}
	for link, target := range hc.Make.Symlink {
		require.NoError(t, os.Symlink(target, filepath.Join(checkout, link)))
	}
	for _, f := range hc.Make.FIFO {
		require.NoError(t, syscall.Mkfifo(filepath.Join(checkout, f), 0o644))
	}
	if m := hc.Make.Many; m != nil {
		require.NoError(t, os.MkdirAll(filepath.Join(checkout, m.Dir), 0o755))
		for i := range m.Count {
			require.NoError(t, os.WriteFile(filepath.Join(checkout, m.Dir, fmt.Sprintf("f%04d", i)), []byte("x"), 0o644))
		}
	}
	return checkout
}

// treeHash hashes a checkout's regular files, names and contents (a FIFO is never opened).
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	k := cache.NewKey()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		k.Add(p, data)
		return err
	})
	require.NoError(t, err)
	return k.Sum()
}

// testifyFile returns testify's assertions.go in the module cache.
func testifyFile(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/stretchr/testify").Output()
	require.NoError(t, err)
	p := filepath.Join(strings.TrimSpace(string(out)), "assert", "assertions.go")
	require.FileExists(t, p)
	return p
}

// processesWith returns the host processes whose command line contains marker.
func processesWith(t *testing.T, marker string) []string {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var found []string
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && strings.Contains(string(data), marker) {
			found = append(found, filepath.Base(d)+": "+strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	return found
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func cut(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
