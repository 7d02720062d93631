package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scored returns sample() with a rubric whose levels add up to its score, as a grading's do.
func scored() *Report {
	r := sample()
	r.Rubric = append(r.Rubric, Category{Category: "code_quality", Title: "Code quality / Calidad de código", Level: 1, Met: 0, Total: 4,
		Descriptor: "Poor quality", DescriptorES: "Calidad pobre"})
	r.Score, r.MaxScore = 3, 8
	r.DurationMS = 1500
	return r
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "run go test ./grader/internal/report -run 'Classroom|Gradescope' -update after a deliberate change")
}

// TestClassroomResult checks the Classroom result against the fields GitHub Classroom's
// reporter reads (version, status, max_score, tests[] of name, status, score, max_score,
// message, test_code, filename, line_no) and against testdata/classroom.golden, and decodes it
// back: one test per criterion, one per graded category, and points that add up to the score.
func TestClassroomResult(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, scored(), Classroom))
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line, as a step output")

	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(buf.String()))
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	assert.Equal(t, []string{"max_score", "status", "tests", "version"}, keys(fields))
	assert.EqualValues(t, 1, fields["version"])
	for _, test := range fields["tests"].([]any) {
		assert.Subset(t, keys(test.(map[string]any)), []string{"filename", "line_no", "max_score", "message", "name", "score", "status"})
	}
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, raw, "", "  "))
	golden(t, "classroom.golden", append(pretty.Bytes(), '\n'))

	got, err := ReadClassroom(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, "fail", got.Status)
	assert.Equal(t, 8, got.MaxScore)
	require.Len(t, got.Tests, 5+2, "five criteria and two graded categories")
	score, max := 0, 0
	for _, test := range got.Tests {
		score += test.Score
		max += test.MaxScore
	}
	assert.Equal(t, 3, score, "the tests' points add up to the rubric score")
	assert.Equal(t, 8, max)
	byName := map[string]ClassroomTest{}
	for _, test := range got.Tests {
		byName[test.Name] = test
	}
	assert.Equal(t, "pass", byName["ex07.state-machine: State machine"].Status)
	assert.Equal(t, "error", byName["ex05.consul: Consul"].Status, "not verified: it could not run here")
	th := byName["ex07.thresholds: Thresholds"]
	assert.Equal(t, "fail", th.Status)
	assert.Contains(t, th.Message, "want open after 5 failures, got closed")
	assert.Contains(t, th.Message, "hint: count consecutive failures")
	assert.Equal(t, "go run ./grader ex07.thresholds", th.TestCode)
	assert.Contains(t, byName["ex07.tests: Your tests"].Message, "the breaker never half-opens")
	res := byName["Rubric: Resilience / Resiliencia"]
	assert.Equal(t, 2, res.Score)
	assert.Equal(t, 4, res.MaxScore)
	assert.Contains(t, res.Message, "level 2 of 4: Basic error handling")
}

func TestClassroomPassesOnlyWhenNothingFails(t *testing.T) {
	r := &Report{Version: Version, Score: 4, MaxScore: 4,
		Rubric: []Category{{Category: "resilience", Title: "Resilience", Level: 4, Met: 1, Total: 1}},
		Exercises: []Exercise{{ID: "ex07", Dir: "ex07-breaker", Criteria: []Criterion{
			{ID: "ex07.a", Title: "A", Status: Met},
			{ID: "ex07.b", Title: "B", Status: NotVerified, Message: "needs consul on PATH"},
		}}}}
	assert.Equal(t, "pass", ToClassroom(r).Status)
	r.Exercises[0].Criteria[0].Status = Unmet
	assert.Equal(t, "fail", ToClassroom(r).Status)
}

// TestGradescopeResults checks results.json against Gradescope's published fields (score,
// max_score, output, tests[] of name, score, max_score, status, output, visibility) and
// against testdata/gradescope.golden, and parses it back.
func TestGradescopeResults(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, scored(), Gradescope))
	var fields map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &fields))
	assert.Subset(t, keys(fields), []string{"execution_time", "max_score", "output", "output_format", "score", "tests", "visibility"})
	for _, test := range fields["tests"].([]any) {
		assert.Subset(t, keys(test.(map[string]any)), []string{"max_score", "name", "output", "score", "visibility"})
	}
	golden(t, "gradescope.golden", buf.Bytes())

	got, err := ReadGradescope(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, 3, got.Score)
	assert.Equal(t, 8, got.MaxScore)
	assert.EqualValues(t, 2, got.ExecutionTime)
	assert.Equal(t, "md", got.OutputFormat)
	assert.Contains(t, got.Output, "## Workbook grade: 3/8")
	require.Len(t, got.Tests, 5+2)
	score := 0
	statuses := map[string]string{}
	for _, test := range got.Tests {
		score += test.Score
		statuses[test.Name] = test.Status
		assert.Equal(t, "visible", test.Visibility)
	}
	assert.Equal(t, got.Score, score, "the tests' points add up to the score")
	assert.Equal(t, "passed", statuses["ex07.state-machine: State machine"])
	assert.Equal(t, "failed", statuses["ex07.thresholds: Thresholds"])
	assert.Empty(t, statuses["ex05.consul: Consul"], "not verified: neither passed nor failed")
	assert.Equal(t, "failed", statuses["Rubric: Resilience / Resiliencia"])
}

// TestReadRoundTrip writes a JSON report and reads it back; another schema version is refused.
func TestReadRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, scored(), JSON))
	got, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, scored(), got)

	_, err = Read(strings.NewReader(`{"version": 1, "score": 3}`))
	assert.ErrorIs(t, err, ErrVersion)
	_, err = Read(strings.NewReader(`not json`))
	assert.Error(t, err)
}
