package manifest

import (
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/mutant"
)

var update = flag.Bool("update", false, "rewrite the README checklists from the manifests")

const valid = `{
  "exercise": "ex07",
  "title": {"en": "Circuit Breaker", "es": "Circuit Breaker"},
  "criteria": [
    {"id": "ex07.state-machine", "title": {"en": "State machine", "es": "Máquina de estados"},
     "category": "resilience", "weight": 1, "test": "TestStateMachine", "hint": "trip at the threshold", "requires": []}
  ]
}`

func TestParseValid(t *testing.T) {
	m, err := Parse("ex07-breaker", []byte(valid))
	require.NoError(t, err)
	assert.Equal(t, "ex07", m.Exercise)
	assert.Equal(t, "ex07-breaker", m.Dir)
	assert.Equal(t, []string{"TestStateMachine"}, m.Tests())
	assert.Equal(t, Resilience, m.Criteria[0].Category)
}

func TestParseStudentTests(t *testing.T) {
	data := strings.Replace(valid, `"test": "TestStateMachine"`, `"kind": "student_tests", "mutants": ["never-half-opens", "threshold-off-by-one"], "min_caught": 2`, 1)
	m, err := Parse("ex07-breaker", []byte(data))
	require.NoError(t, err)
	assert.True(t, m.Criteria[0].StudentTests())
	assert.Empty(t, m.Tests(), "a criterion decided by the student's tests has no deciding test")
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name, dir, old, new, want string
	}{
		{"unknown field", "ex07-breaker", `"weight": 1`, `"weight": 1, "points": 3`, "unknown field"},
		{"bad category", "ex07-breaker", `"resilience"`, `"speed"`, "unknown category"},
		{"zero weight", "ex07-breaker", `"weight": 1`, `"weight": 0`, "not positive"},
		{"id of another exercise", "ex07-breaker", `"ex07.state-machine"`, `"ex06.state-machine"`, "is not of the form"},
		{"test name", "ex07-breaker", `"TestStateMachine"`, `"stateMachine"`, "not a Go test name"},
		{"no hint", "ex07-breaker", `"trip at the threshold"`, `""`, "no hint"},
		{"no spanish title", "ex07-breaker", `"es": "Máquina de estados"`, `"es": ""`, "title needs both"},
		{"directory mismatch", "ex06-gateway", "", "", "does not start with"},
		{"unknown kind", "ex07-breaker", `"weight": 1`, `"weight": 1, "kind": "vibes"`, "unknown kind"},
		{"student tests with a test", "ex07-breaker", `"weight": 1`, `"weight": 1, "kind": "student_tests", "mutants": ["a"], "min_caught": 1`, "decided by the student's tests"},
		{"student tests without mutants", "ex07-breaker", `"weight": 1, "test": "TestStateMachine"`, `"weight": 1, "kind": "student_tests", "min_caught": 1`, "lists the mutants"},
		{"student tests asking too much", "ex07-breaker", `"weight": 1, "test": "TestStateMachine"`, `"weight": 1, "kind": "student_tests", "mutants": ["a", "b"], "min_caught": 3`, "not between 1 and the 2"},
		{"mutants on a test criterion", "ex07-breaker", `"weight": 1`, `"weight": 1, "mutants": ["a"], "min_caught": 1`, "belong to a student_tests"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := valid
			if tc.old != "" {
				require.Contains(t, data, tc.old)
				data = strings.Replace(data, tc.old, tc.new, 1)
			}
			_, err := Parse(tc.dir, []byte(data))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalid), "want ErrInvalid, got %v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadSortsAndRejectsDuplicates(t *testing.T) {
	other := strings.ReplaceAll(valid, "ex07", "ex01")
	fsys := fstest.MapFS{
		"ex07-breaker/criteria.json":       {Data: []byte(valid)},
		"ex01-decomposition/criteria.json": {Data: []byte(other)},
	}
	ms, err := Load(fsys)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, "ex01", ms[0].Exercise)
	assert.Equal(t, "ex07", ms[1].Exercise)

	fsys["ex07-copy/criteria.json"] = &fstest.MapFile{Data: []byte(valid)}
	_, err = Load(fsys)
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestChecklistES(t *testing.T) {
	m, err := Parse("ex07-breaker", []byte(valid))
	require.NoError(t, err)
	got, err := m.SyncReadmeES("# Título\n\n" + ChecklistBegin + "\nviejo\n" + ChecklistEnd + "\n")
	require.NoError(t, err)
	assert.Contains(t, got, "| ☐ | Máquina de estados | `ex07.state-machine` | Resiliencia |")
	assert.Equal(t, []string{"ex07.state-machine"}, ChecklistIDs(got))
	assert.NotContains(t, got, "viejo")
}

func TestSyncReadme(t *testing.T) {
	m, err := Parse("ex07-breaker", []byte(valid))
	require.NoError(t, err)
	readme := "# Title\n\n" + ChecklistBegin + "\nstale\n" + ChecklistEnd + "\n\nmore\n"
	got, err := m.SyncReadme(readme)
	require.NoError(t, err)
	assert.Contains(t, got, "| ☐ | State machine | Máquina de estados | `ex07.state-machine` | resilience |")
	assert.NotContains(t, got, "stale")
	assert.True(t, strings.HasSuffix(got, ChecklistEnd+"\n\nmore\n"))

	_, err = m.SyncReadme("# no markers")
	assert.ErrorIs(t, err, ErrNoChecklist)
}

// repoRoot is the module root, three levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	return root
}

// TestReadmeChecklists fails when the checklist of an exercise's README.md or README.es.md
// differs from its manifest, when the two differ from each other, when an exercise has no
// README.es.md, or when the two do not link to each other. Run with -update to rewrite the
// checklists.
func TestReadmeChecklists(t *testing.T) {
	ms, err := Load(workbook.Pristine())
	require.NoError(t, err)
	require.NotEmpty(t, ms, "no exercise manifests embedded")
	for _, m := range ms {
		t.Run(m.Exercise, func(t *testing.T) {
			readmes := []struct {
				name string
				sync func(string) (string, error)
			}{{"README.md", m.SyncReadme}, {"README.es.md", m.SyncReadmeES}}
			got := map[string]string{}
			for _, r := range readmes {
				name, sync := r.name, r.sync
				file := filepath.Join(repoRoot(t), m.Dir, name)
				data, err := os.ReadFile(file)
				if errors.Is(err, fs.ErrNotExist) && name == "README.es.md" {
					// A new exercise: its Spanish statement is written by a person, not generated.
					t.Fatalf("%s has no README.es.md: every exercise has its statement in Spanish too. Translate %s/README.md "+
						"into %s/README.es.md (same sections; link each to the other), then run "+
						"go test ./grader/internal/manifest -run TestReadmeChecklists -update to write its checklist", m.Dir, m.Dir, m.Dir)
				}
				require.NoError(t, err, "%s/%s: every exercise has its statement in English and in Spanish", m.Dir, name)
				want, err := sync(string(data))
				require.NoError(t, err)
				if *update {
					require.NoError(t, os.WriteFile(file, []byte(want), 0o644))
					data = []byte(want)
				}
				assert.Equal(t, want, string(data),
					"%s/%s checklist is out of date with %s/criteria.json; run: go test ./grader/internal/manifest -run TestReadmeChecklists -update", m.Dir, name, m.Dir)
				got[name] = string(data)
			}
			assert.Equal(t, ChecklistIDs(got["README.md"]), ChecklistIDs(got["README.es.md"]), "%s: the two READMEs' checklists differ", m.Dir)
			assert.Len(t, ChecklistIDs(got["README.es.md"]), len(m.Criteria))
			assert.Equal(t, headingLevels(got["README.md"]), headingLevels(got["README.es.md"]),
				"%s: README.es.md has the sections of README.md, at the same levels, in the same order", m.Dir)
			assert.Contains(t, got["README.md"], "(README.es.md)", "%s/README.md links to the Spanish statement", m.Dir)
			assert.Contains(t, got["README.es.md"], "(README.md)", "%s/README.es.md links to the English statement", m.Dir)
		})
	}
}

// headingLevels returns the level of each Markdown heading of text, in order (fenced code
// left out).
func headingLevels(text string) []int {
	var levels []int
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		levels = append(levels, len(line)-len(strings.TrimLeft(line, "#")))
	}
	return levels
}

// TestManifestsAreBilingual fails when a criterion lacks its Spanish title or hint, or when a
// mutant that the student's tests must catch lacks its Spanish description (the report shows
// the ones they missed).
func TestManifestsAreBilingual(t *testing.T) {
	ms, err := Load(workbook.Pristine())
	require.NoError(t, err)
	for _, m := range ms {
		t.Run(m.Exercise, func(t *testing.T) {
			assert.NotEmpty(t, m.Title.ES)
			for _, c := range m.Criteria {
				assert.NotEmpty(t, c.Title.ES, "%s has no Spanish title", c.ID)
				assert.NotEmpty(t, strings.TrimSpace(c.HintES), "%s has no hint_es", c.ID)
				assert.NotEqual(t, c.Hint, c.HintES, "%s: hint_es is the English hint", c.ID)
				if !c.StudentTests() {
					continue
				}
				mutants, err := mutant.Load(workbook.Reference(), mutant.Dir, m.Dir)
				require.NoError(t, err)
				es := map[string]string{}
				for _, mu := range mutants {
					es[mu.Name] = mu.DescriptionES
				}
				for _, n := range c.Mutants {
					assert.NotEmpty(t, es[n], "%s/%s.json has no description_es (a student whose tests miss it reads it)", m.Dir, n)
				}
			}
		})
	}
}

// TestRootReadmes checks that the workbook's README.md and README.es.md link to each other.
func TestRootReadmes(t *testing.T) {
	en, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	es, err := os.ReadFile(filepath.Join(repoRoot(t), "README.es.md"))
	require.NoError(t, err)
	assert.Contains(t, string(en), "(README.es.md)")
	assert.Contains(t, string(es), "(README.md)")
}

// TestDecidingTestsExist checks that each criterion names a top-level test function of one of
// its exercise's workbook test files (criteria_test.go, or a file of its own such as a test that
// starts a child process), and that every test of criteria_test.go decides a criterion.
func TestDecidingTestsExist(t *testing.T) {
	ms, err := Load(workbook.Pristine())
	require.NoError(t, err)
	for _, m := range ms {
		t.Run(m.Exercise, func(t *testing.T) {
			files, err := fs.Glob(workbook.Pristine(), m.Dir+"/*_test.go")
			require.NoError(t, err)
			declared := map[string]string{} // test function -> file
			for _, name := range files {
				if path.Base(name) == "student_test.go" {
					continue // the student's: it decides nothing by name
				}
				src, err := fs.ReadFile(workbook.Pristine(), name)
				require.NoError(t, err)
				f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
				require.NoError(t, err)
				for _, d := range f.Decls {
					if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
						declared[fn.Name.Name] = path.Base(name)
					}
				}
			}
			for _, c := range m.Criteria {
				if c.StudentTests() {
					continue
				}
				_, ok := declared[c.Test]
				assert.True(t, ok, "%s: criterion %s names %s, which no workbook test file of the exercise declares", m.Dir, c.ID, c.Test)
				delete(declared, c.Test)
			}
			for name, file := range declared {
				assert.NotEqual(t, "criteria_test.go", file, "%s/criteria_test.go has %s, which decides no criterion", m.Dir, name)
			}
		})
	}
}
