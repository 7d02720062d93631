package gotest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseFile(t *testing.T, name string, tests ...string) *Run {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	run, err := Parse(f, tests, 4096)
	require.NoError(t, err)
	return run
}

func statuses(run *Run) map[string]Status {
	got := map[string]Status{}
	for name, r := range run.Results {
		got[name] = r.Status
	}
	return got
}

func TestParseTimeout(t *testing.T) {
	// TestA prints a forged "--- PASS: TestC" line; TestHang hangs until -timeout; TestC never runs.
	run := parseFile(t, "hang.json", "TestA", "TestHang", "TestC")
	assert.False(t, run.BuildFailed)
	assert.Equal(t, map[string]Status{"TestA": Pass, "TestHang": Timeout, "TestC": NotRun}, statuses(run))
	assert.Contains(t, run.Results["TestHang"].Output, "test timed out")
}

func TestParsePanicInSubtest(t *testing.T) {
	run := parseFile(t, "panic.json", "TestPanic", "TestC")
	assert.Equal(t, map[string]Status{"TestPanic": Panic, "TestC": NotRun}, statuses(run))
	assert.Contains(t, run.Results["TestPanic"].Output, "boom")
}

func TestParseBuildFailure(t *testing.T) {
	run := parseFile(t, "build.json", "TestA")
	assert.True(t, run.BuildFailed)
	assert.Contains(t, run.BuildOutput, "cannot use")
	assert.Equal(t, NotRun, run.Results["TestA"].Status)
}

func TestParseCapsOutputButKeepsVerdict(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Action":"run","Test":"TestX"}` + "\n")
	for range 1000 {
		b.WriteString(`{"Action":"output","Test":"TestX","Output":"` + strings.Repeat("x", 100) + `\n"}` + "\n")
	}
	b.WriteString("not json at all\n")
	b.WriteString(`{"Action":"output","Test":"TestX","Output":"WARNING: DATA RACE\n"}` + "\n")
	b.WriteString(`{"Action":"pass","Test":"TestX","Elapsed":0.5}` + "\n")
	run, err := Parse(strings.NewReader(b.String()), []string{"TestX"}, 1024)
	require.NoError(t, err)
	res := run.Results["TestX"]
	assert.Equal(t, Pass, res.Status)
	assert.Less(t, len(res.Output), 1200)
	assert.Contains(t, res.Output, "more bytes of output not kept")
	assert.Contains(t, run.Output, "not json at all")
	assert.True(t, run.Race, "a race reported after the output cap must still be seen")
}

func TestParseSeesRace(t *testing.T) {
	in := `{"Action":"run","Test":"TestX"}
{"Action":"output","Test":"TestX","Output":"WARNING: DATA RACE\n"}
{"Action":"output","Test":"TestX","Output":"    testing.go:1617: race detected during execution of test\n"}
{"Action":"fail","Test":"TestX","Elapsed":0.1}
`
	run, err := Parse(strings.NewReader(in), []string{"TestX"}, 4096)
	require.NoError(t, err)
	assert.True(t, run.Race)
	assert.Equal(t, Fail, run.Results["TestX"].Status)
}

func TestRunPattern(t *testing.T) {
	assert.Equal(t, "^(TestA|TestB_c)$", RunPattern([]string{"TestA", "TestB_c"}))
}
