package pristine

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
)

var update = flag.Bool("update", false, "rewrite pristine.go's file list and pristine.sum from the tree")

// embedList matches the generated //go:embed lines of pristine.go.
var embedList = regexp.MustCompile(`(?m)^//go:embed ex.*\n(//go:embed ex.*\n)*`)

// TestPristineSums fails when pristine.go's list of files or pristine.sum does not match the
// test files, manifests, go.mod and go.sum of this tree. Run with -update after changing one of
// them on purpose (then run it once more: the embedded files are those of the previous build).
func TestPristineSums(t *testing.T) {
	const top = "../../.."
	gomod, err := os.ReadFile(filepath.Join(top, "go.mod"))
	require.NoError(t, err)

	src, err := os.ReadFile(filepath.Join(top, "pristine.go"))
	require.NoError(t, err)
	list, err := shippedFiles(top)
	require.NoError(t, err)
	var lines strings.Builder
	for _, dir := range list {
		lines.WriteString("//go:embed " + strings.Join(dir, " ") + "\n")
	}
	require.Regexp(t, embedList, string(src), "pristine.go has no generated //go:embed lines")
	wantSrc := embedList.ReplaceAllLiteralString(string(src), lines.String())
	if *update {
		require.NoError(t, os.WriteFile(filepath.Join(top, "pristine.go"), []byte(wantSrc), 0o644))
	} else {
		assert.Equal(t, wantSrc, string(src),
			"pristine.go does not list every shipped test file and manifest; run: go test ./grader/internal/pristine -run TestPristineSums -update")
	}

	want, err := FormatSums(workbook.Pristine(), gomod)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile("pristine.sum", want, 0o644))
		return
	}
	assert.Equal(t, string(want), string(sumFile),
		"pristine.sum is out of date; run: go test ./grader/internal/pristine -run TestPristineSums -update")

	set, err := Embedded()
	require.NoError(t, err)
	assert.Empty(t, set.Mismatches(""))
}

// shippedFiles lists, one exercise directory per entry, the files of the tree at top that are
// pristine: each exercise's criteria.json and test files, but for the student's own test file.
func shippedFiles(top string) ([][]string, error) {
	dirs, err := filepath.Glob(filepath.Join(top, "ex[0-9][0-9]-*"))
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, d := range dirs {
		tests, err := filepath.Glob(filepath.Join(d, "*_test.go"))
		if err != nil {
			return nil, err
		}
		names := []string{filepath.Join(d, "criteria.json")}
		for _, f := range tests {
			if filepath.Base(f) != workbook.StudentTestFile {
				names = append(names, f)
			}
		}
		for i, n := range names {
			rel, err := filepath.Rel(top, n)
			if err != nil {
				return nil, err
			}
			names[i] = filepath.ToSlash(rel)
		}
		slices.Sort(names)
		out = append(out, names)
	}
	return out, nil
}

func TestMismatches(t *testing.T) {
	files := fstest.MapFS{
		"ex07-breaker/criteria_test.go": {Data: []byte("package breaker\n")},
		"ex07-breaker/extra_test.go":    {Data: []byte("package breaker\n")},
		"ex01-decomposition/a_test.go":  {Data: []byte("package decomposition\n")},
	}
	sums, err := FormatSums(files, []byte("module m\n\ngo 1.26\n\nrequire example.com/x v1.2.3\n"))
	require.NoError(t, err)
	set, err := ParseSums(sums)
	require.NoError(t, err)
	set.Files = files
	assert.Equal(t, map[string]string{"example.com/x": "v1.2.3"}, set.Modules)
	assert.Empty(t, set.Mismatches(""))

	files["ex07-breaker/criteria_test.go"] = &fstest.MapFile{Data: []byte("package breaker // edited\n")}
	delete(files, "ex07-breaker/extra_test.go")
	files["ex07-breaker/new_test.go"] = &fstest.MapFile{Data: []byte("package breaker\n")}
	assert.Equal(t, []string{
		"ex07-breaker/criteria_test.go",
		"ex07-breaker/extra_test.go",
		"ex07-breaker/new_test.go",
	}, set.Mismatches("ex07-breaker"))
	assert.Empty(t, set.Mismatches("ex01-decomposition"))

	names, err := set.TestFiles("ex07-breaker")
	require.NoError(t, err)
	assert.Equal(t, []string{"criteria_test.go", "extra_test.go"}, names, "the pristine test files are those of pristine.sum, not those embedded")
}

func TestParseSumsRejectsGarbage(t *testing.T) {
	_, err := ParseSums([]byte("not a sum line\n"))
	assert.Error(t, err)
	set, err := ParseSums([]byte("# comment\n\nmodule example.com/x v1.0.0\n" + Hash(nil) + "  a/b_test.go\n"))
	require.NoError(t, err)
	assert.Equal(t, Hash(nil), set.Sums["a/b_test.go"])
	assert.Equal(t, "v1.0.0", set.Modules["example.com/x"])
}
