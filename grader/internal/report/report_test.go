package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

func sample() *Report {
	return &Report{
		Version: Version, Target: "working tree at /w", Score: 13, MaxScore: 24,
		Band: "Needs improvement",
		Rubric: []Category{
			{Category: "resilience", Title: "Resilience / Resiliencia", Level: 2, Met: 2, Total: 4,
				Descriptor: "Basic error handling", DescriptorES: "Manejo de errores básico"},
			{Category: "observability", Title: "Observability / Observabilidad", Level: 0},
		},
		Exercises: []Exercise{{
			ID: "ex07", Title: "Circuit Breaker", Dir: "ex07-breaker", Build: "ok", DurationMS: 1500,
			Criteria: []Criterion{
				{ID: "ex07.state-machine", Title: "State machine", TitleES: "Máquina de estados", Category: "resilience", Weight: 1, Status: Met, Test: "TestStateMachine", Hint: "h1"},
				{ID: "ex07.thresholds", Title: "Thresholds", TitleES: "Umbrales", Category: "resilience", Weight: 1, Status: Unmet, Test: "TestConfigurableThresholds",
					Message: "=== RUN   TestConfigurableThresholds\n    criteria_test.go:10: want open after 5 failures, got closed\n--- FAIL: TestConfigurableThresholds (0.00s)\n", Hint: "count consecutive failures"},
				{ID: "ex07.timeout-recovery", Title: "Recovery", TitleES: "Recuperación", Category: "resilience", Weight: 1, Status: Unmet, Test: "TestTimeoutAndRecovery",
					Message:     "time=… level=INFO msg=\"state change\" from=closed to=open\n" + strings.Repeat("time=… level=INFO msg=tick\n", 10),
					FailedTests: []string{"TestTimeoutAndRecovery/half-open after the timeout"},
					Failures: []Failure{{Test: "TestTimeoutAndRecovery/half-open after the timeout", Location: "criteria_test.go:201",
						Error: "Not equal: \nexpected: \"half-open\"\nactual  : \"open\"", Messages: "at OpenTimeout after opening, the breaker must be half-open"}},
					Hint: "read the time from config.Clock"},
				{ID: "ex07.tests", Title: "Your tests", TitleES: "Tus tests", Category: "code_quality", Weight: 3, Status: Unmet, Kind: "student_tests",
					Message: "your tests caught 3 of 7 wrong implementations (5 needed)", Missed: []string{"the breaker never half-opens", "a success does not reset the failure count"},
					Hint: "test every state"},
				{ID: "ex05.consul", Title: "Consul", TitleES: "Consul", Category: "architecture", Weight: 1, Status: NotVerified, Test: "TestConsul", Message: "consul is not on PATH", Hint: "install consul"},
			},
			Quality: []QualityItem{{Check: "gofmt", Status: Met}, {Check: "docs", Status: Unmet, Message: "1 exported without a doc comment: X"}},
		}},
		NotVerified: []string{"ex05.consul"},
	}
}

func TestJSONHasTheDocumentedFields(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, sample(), JSON))
	var got map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	for _, k := range []string{"version", "target", "score", "max_score", "band", "rubric", "exercises"} {
		assert.Contains(t, got, k)
	}
	rubric := got["rubric"].([]any)[0].(map[string]any)
	for _, k := range []string{"category", "level", "met", "total"} {
		assert.Contains(t, rubric, k)
	}
	ex := got["exercises"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "dir", "build", "tampered", "duration_ms", "criteria"} {
		assert.Contains(t, ex, k)
	}
	c := ex["criteria"].([]any)[1].(map[string]any)
	for _, k := range []string{"id", "title", "category", "status", "test", "message", "hint"} {
		assert.Contains(t, c, k)
	}
	assert.Equal(t, "unmet", c["status"])
}

func TestTextShowsTheChecklistWithHints(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, sample(), Text))
	out := buf.String()
	assert.Contains(t, out, "✅ State machine — Máquina de estados (ex07.state-machine)")
	assert.Contains(t, out, "❌ Thresholds — Umbrales (ex07.thresholds)")
	assert.Contains(t, out, "hint: count consecutive failures")
	assert.Contains(t, out, "want open after 5 failures, got closed")
	assert.NotContains(t, out, "=== RUN")
	assert.Contains(t, out, "Resilience / Resiliencia")
	assert.Contains(t, out, "Total: 13/24 — Needs improvement")
	assert.Contains(t, out, "ex05.consul")
	assert.NotContains(t, out, "\x1b[", "no colour codes")
}

func TestMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, sample(), Markdown))
	out := buf.String()
	assert.Contains(t, out, "## Workbook grade: 13/24")
	assert.Contains(t, out, "| Resilience / Resiliencia | ★★☆☆ | 2/4 | Basic error handling / Manejo de errores básico |")
	assert.Contains(t, out, "- ❌ **Thresholds** (`ex07.thresholds`) — unmet: count consecutive failures")
}

func TestJUnitIsValidXML(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, sample(), JUnit))
	var got junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &got))
	require.Len(t, got.Suites, 1)
	assert.Equal(t, 5, got.Tests)
	assert.Equal(t, 3, got.Failures)
	assert.Equal(t, 1, got.Skipped)
	assert.Equal(t, "unmet", got.Suites[0].Cases[1].Failure.Type)
}

func TestUnknownFormat(t *testing.T) {
	assert.Error(t, Write(&bytes.Buffer{}, sample(), Format("yaml")))
}

var update = flag.Bool("update", false, "rewrite the golden files")

// TestTextGolden compares the text report with testdata/text.golden: an unmet assertion shows
// its location, error and message even when the code under test logged first, the failing
// subtest and the command that runs it again; a criterion graded on the student's tests lists
// what they missed.
func TestTextGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, sample(), Text))
	golden := filepath.Join("testdata", "text.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), buf.String(), "run go test ./grader/internal/report -run TestTextGolden -update after a deliberate change")
	out := buf.String()
	assert.Contains(t, out, "at OpenTimeout after opening, the breaker must be half-open")
	assert.Contains(t, out, "go test ./ex07-breaker/ -run '^TestTimeoutAndRecovery$/^half-open after the timeout$'")
	assert.NotContains(t, out, "msg=tick", "log lines of the code under test are not the explanation")
	assert.Contains(t, out, "the breaker never half-opens")
}

// TestFeedbackGolden renders the reports of testdata/reports (graded from real checkouts of
// ex07: the starter, a half-done exercise, one that does not build, one whose test hangs; see
// grader's TestReportFixtures) as text and as the watch screen, in English and in Spanish, and
// compares them with testdata/golden.
func TestFeedbackGolden(t *testing.T) {
	for _, name := range []string{"starter", "half-done", "build-error", "timeout"} {
		data, err := os.ReadFile(filepath.Join("testdata", "reports", name+".json"))
		require.NoError(t, err)
		var rep Report
		require.NoError(t, json.Unmarshal(data, &rep))
		for _, lang := range i18n.Langs() {
			for _, view := range []string{"text", "watch"} {
				t.Run(name+"/"+string(lang)+"/"+view, func(t *testing.T) {
					var buf bytes.Buffer
					if view == "text" {
						require.NoError(t, WriteIn(&buf, &rep, Text, lang))
					} else {
						require.NoError(t, WriteWatch(&buf, &rep, lang))
					}
					golden := filepath.Join("testdata", "golden", name+"."+view+"."+string(lang)+".txt")
					if *update {
						require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
						require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
					}
					want, err := os.ReadFile(golden)
					require.NoError(t, err)
					assert.Equal(t, string(want), buf.String(), "run go test ./grader/internal/report -run TestFeedbackGolden -update after a deliberate change")
					if lang == i18n.Spanish {
						assert.Empty(t, i18n.EnglishIn(buf.String()), "English left in the Spanish report")
					}
				})
			}
		}
	}
}

func TestCompilerErrors(t *testing.T) {
	out := "# example.com/ex\nex/a.go:3:1: syntax error: unexpected }\nex/b.go:10:2: undefined: x\n" +
		"ex/b.go:11:2: undefined: y\nex/b.go:12:2: too many errors\n"
	errs, more := CompilerErrors(out, 2)
	assert.Equal(t, []string{"ex/a.go:3:1: syntax error: unexpected }", "ex/b.go:10:2: undefined: x"}, errs)
	assert.Equal(t, 2, more)

	errs, more = CompilerErrors("go: updates to go.mod needed\n\tgo mod tidy\n", 5)
	assert.Equal(t, []string{"go: updates to go.mod needed", "\tgo mod tidy"}, errs, "an error with no file and line is shown as it is")
	assert.Zero(t, more)
}
