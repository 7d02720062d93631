package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/mutant"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

var writeFixtures = flag.Bool("fixtures", false, "grade the report package's fixtures again (testdata/reports)")

// The checkouts the feedback tests grade, each a copy of the workbook with ex07 changed.
var feedbackCases = map[string]func(t *testing.T, dir string){
	// The starter as it ships.
	"starter": func(*testing.T, string) {},
	// The solution with two plausible mistakes and the starter's example tests: some criteria
	// met, some not, and a suite of the student's own that misses most wrong breakers.
	"half-done": func(t *testing.T, dir string) {
		example := readFile(t, dir, "ex07-breaker/student_test.go")
		solve(t, dir, "ex07-breaker")
		breakMutants(t, dir, "ex07-breaker", "no-transition-metrics", "4xx-is-failure")
		writeFile(t, dir, "ex07-breaker/student_test.go", example)
	},
	// A syntax error and a type error in the starter.
	"build-error": func(t *testing.T, dir string) {
		src := readFile(t, dir, "ex07-breaker/breaker.go")
		src = strings.Replace(src, "package breaker", "package breaker\n\nfunc broken() int { return \"not a number\" }\n\nvar x = ", 1)
		writeFile(t, dir, "ex07-breaker/breaker.go", src)
	},
	// NewMetrics hangs: its test runs out of time.
	"timeout": func(t *testing.T, dir string) {
		src := readFile(t, dir, "ex07-breaker/metrics.go")
		old := "\treturn nil, ErrNotImplemented\n}"
		require.Contains(t, src, old)
		writeFile(t, dir, "ex07-breaker/metrics.go", strings.Replace(src, old, "\tselect {}\n}", 1))
	},
}

// feedbackArgs are the grader's flags for each case: the timeout case gets a short limit.
func feedbackArgs(name string) []string {
	if name == "timeout" {
		return []string{"-test-timeout", "5s", "ex07.metrics", "ex07.state-machine"}
	}
	return []string{"ex07"}
}

func readFile(t *testing.T, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	require.NoError(t, err)
	return string(data)
}

// breakMutants applies the named mutants of exercise to its code in dir (which holds the
// solution's code).
func breakMutants(t *testing.T, dir, exercise string, names ...string) {
	t.Helper()
	all, err := mutant.Load(workbook.Reference(), mutant.Dir, exercise)
	require.NoError(t, err)
	for _, n := range names {
		found := false
		for _, m := range all {
			if m.Name != n {
				continue
			}
			found = true
			rel := exercise + "/" + m.File
			out, err := m.Apply([]byte(readFile(t, dir, rel)))
			require.NoError(t, err)
			writeFile(t, dir, rel, string(out))
		}
		require.True(t, found, "no mutant %s", n)
	}
}

// TestReportFixtures grades each feedback case and writes its report, with times and paths
// made fixed, to the report package's testdata, where the golden tests of the text report
// read them. It runs only with -fixtures.
func TestReportFixtures(t *testing.T) {
	if !*writeFixtures {
		t.Skip("run with -fixtures to grade the report fixtures again")
	}
	for name, prepare := range feedbackCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := copyRoot(t)
			prepare(t, dir)
			rep := gradeJSON(t, append([]string{"-dir", dir}, feedbackArgs(name)...)...)
			rep.Target, rep.TargetES = "the working tree at /home/student/workbook", "el árbol de trabajo en /home/student/workbook"
			rep.DurationMS = 0
			for i := range rep.Exercises {
				rep.Exercises[i].DurationMS = 1500
			}
			data, err := json.MarshalIndent(rep, "", "  ")
			require.NoError(t, err)
			// Ports and goroutine numbers change from run to run; the goldens should not.
			data = randomPort.ReplaceAll(data, []byte("127.0.0.1:40000"))
			data = goroutineNumber.ReplaceAll(data, []byte("goroutine 1 ["))
			require.NoError(t, os.WriteFile(filepath.Join("internal", "report", "testdata", "reports", name+".json"), append(data, '\n'), 0o644))
		})
	}
}

// What differs between two gradings of the same checkout, made fixed in the fixtures.
var (
	randomPort      = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	goroutineNumber = regexp.MustCompile(`goroutine [0-9]+ \[`)
)

// gradeText runs the grader on dir with args and returns its text report.
func gradeText(t *testing.T, dir string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"-q", "-no-cache", "-dir", dir}, args...), &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	return stdout.String()
}

// TestBuildErrorShowsTheCompilersFirstErrors: a checkout that does not compile is told where,
// in a few lines that name the file and line, not in a wall of output.
func TestBuildErrorShowsTheCompilersFirstErrors(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t)
	feedbackCases["build-error"](t, dir)
	for _, lang := range []string{"en", "es"} {
		out := gradeText(t, dir, "-lang", lang, "ex07")
		assert.Contains(t, out, "| ex07-breaker/breaker.go:", "the compiler's error names the file and line")
		quoted := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "| ") {
				quoted++
			}
		}
		assert.LessOrEqual(t, quoted, 5, "at most five compiler lines:\n%s", out)
		assert.NotContains(t, out, "run it:", "no test ran: nothing to run again")
	}
}

// TestTimeoutSaysHowLong: a test that hangs is reported as a timeout, with the limit it ran
// into and the subtest that was running.
func TestTimeoutSaysHowLong(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t)
	feedbackCases["timeout"](t, dir)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"-q", "-no-cache", "-dir", dir, "-format", "json"}, feedbackArgs("timeout")...), &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	var rep report.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	require.Len(t, rep.Exercises, 1)
	var metrics report.Criterion
	for _, c := range rep.Exercises[0].Criteria {
		if c.ID == "ex07.metrics" {
			metrics = c
		}
	}
	require.Equal(t, report.Timeout, metrics.Status, describe(rep.Exercises[0]))
	assert.EqualValues(t, 5000, metrics.TimeLimitMS)
	require.NotEmpty(t, metrics.FailedTests, "the subtest that hung is named")
	assert.True(t, strings.HasPrefix(metrics.FailedTests[0], "TestMetricsExport/"), metrics.FailedTests)

	for lang, want := range map[i18n.Lang]string{i18n.English: "the test was stopped after 5s", i18n.Spanish: "el test se detuvo a los 5s"} {
		var text bytes.Buffer
		require.NoError(t, report.WriteIn(&text, &rep, report.Text, lang))
		assert.Contains(t, text.String(), want)
		assert.Contains(t, text.String(), "-run '^TestMetricsExport$/^", "the rerun command runs the subtest that hung")
	}
}

// TestSpanishReportHasNoEnglish grades the ex07 starter in Spanish: no line the grader writes
// falls back to English. Every sentence of the grader's comes from the catalog, so an English
// catalog entry in the output is a fallback; so is an English title, hint, band, category or
// mutant description. What the tests themselves printed (quoted after "|") is theirs.
func TestSpanishReportHasNoEnglish(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-lang", "es", "-no-cache", "-dir", root(t), "ex07"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	assertNoEnglish(t, stdout.String()+stderr.String())
	assert.Contains(t, stdout.String(), "Rúbrica")
	assert.Contains(t, stdout.String(), "tus tests no pasan con tu propio código", "the starter's example test fails the starter")

	// A student's test that fails the reference, graded without a sandbox as asked: the
	// messages of those paths are Spanish too, in every format.
	dir := copyRoot(t)
	writeFile(t, dir, "ex07-breaker/zz_wrong_test.go", "package breaker\n\nimport \"testing\"\n\nfunc TestWrong(t *testing.T) { t.Fatal(\"wrong on purpose\") }\n")
	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"-q", "-no-cache", "-dir", dir, "-sandbox", "none", "-unsandboxed", "-format", "json", "ex07"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	var rep report.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	for _, format := range []report.Format{report.Text, report.Markdown} {
		var out bytes.Buffer
		require.NoError(t, report.WriteIn(&out, &rep, format, i18n.Spanish))
		assertNoEnglish(t, out.String())
		assert.Contains(t, out.String(), "sin aislamiento, como se pidió", format)
		if format == report.Text {
			assert.Contains(t, out.String(), "tus tests fallan con una implementación correcta")
		}
	}
	var watch bytes.Buffer
	require.NoError(t, report.WriteWatch(&watch, &rep, i18n.Spanish))
	assertNoEnglish(t, watch.String())
}

// assertNoEnglish fails when text, written in Spanish, holds a sentence of the grader's in
// English.
func assertNoEnglish(t *testing.T, text string) {
	t.Helper()
	assert.Empty(t, i18n.EnglishIn(text), "catalog sentences left in English:\n%s", text)
	ms, err := manifest.Load(workbook.Pristine())
	require.NoError(t, err)
	var english []string
	for _, m := range ms {
		english = append(english, m.Title.EN)
		for _, c := range m.Criteria {
			english = append(english, c.Hint)
			if c.Title.EN != c.Title.ES {
				english = append(english, c.Title.EN)
			}
		}
		mutants, err := mutant.Load(workbook.Reference(), mutant.Dir, m.Dir)
		require.NoError(t, err)
		for _, mu := range mutants {
			if mu.DescriptionES != "" {
				english = append(english, mu.Description)
			}
		}
	}
	for _, c := range manifest.Categories() {
		en, _ := c.Names()
		english = append(english, en)
	}
	english = append(english, "Needs improvement", "Excellent /", "Good /", "Fair /")
	for _, e := range english {
		assert.NotContains(t, text, e, "English left in the Spanish report")
	}
}

// TestUsageInSpanish: the command line's errors and help are in Spanish with -lang es, every
// flag's description included.
func TestUsageInSpanish(t *testing.T) {
	for _, args := range [][]string{
		{"-frobnicate"}, {"-format", "yaml"}, {"-timeout", "0s"}, {"-p", "0"}, {"-timeout"},
		{"-timeout", "soon"}, {"-dir", t.TempDir()}, {"-dir", root(t), "ex99"}, {"-lang", "fr"},
		{"-sandbox", "chroot"}, {"-dir", root(t), "-sandbox", "none", "ex07"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"-lang", "es"}, args...), &stdout, &stderr)
			assert.Equal(t, exitUsage, code, stderr.String())
			assert.True(t, strings.HasPrefix(stderr.String(), "grader: "), stderr.String())
			assert.Empty(t, i18n.EnglishIn(stderr.String()), stderr.String())
		})
	}
	var en, es bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &en))
	require.Equal(t, exitOK, run(context.Background(), []string{"-lang=es", "-h"}, &bytes.Buffer{}, &es))
	assert.Contains(t, es.String(), "uso: go run ./grader")
	for _, line := range strings.Split(en.String(), "\n") {
		if strings.HasPrefix(line, "    \t") || strings.HasPrefix(line, "    ") && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "-") {
			assert.NotContains(t, es.String(), strings.TrimSpace(line), "a flag's description left in English: give it a Spanish text in grader/internal/i18n/catalog.go")
		}
	}
}

func TestLangOf(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	assert.Equal(t, i18n.Spanish, langOf([]string{"-lang", "es", "ex07"}, env(nil)))
	assert.Equal(t, i18n.Spanish, langOf([]string{"--lang=es"}, env(nil)))
	assert.Equal(t, i18n.English, langOf([]string{"-lang", "en"}, env(map[string]string{"LANG": "es_ES.UTF-8"})))
	assert.Equal(t, i18n.Spanish, langOf([]string{"ex07"}, env(map[string]string{"LANG": "es_ES.UTF-8"})))
	assert.Equal(t, i18n.English, langOf([]string{"ex07", "-lang", "es"}, env(nil)), "flags end at the first argument")
}
