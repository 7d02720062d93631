package pristine

import (
	"flag"
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
)

var update = flag.Bool("update", false, "rewrite pristine.sum from the embedded files")

// TestPristineSums fails when pristine.sum does not match the test files, manifests and go.mod
// of this tree. Run with -update after changing one of them on purpose.
func TestPristineSums(t *testing.T) {
	gomod, err := os.ReadFile("../../../go.mod")
	require.NoError(t, err)
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
	assert.Equal(t, []string{"criteria_test.go", "new_test.go"}, names)
}

func TestParseSumsRejectsGarbage(t *testing.T) {
	_, err := ParseSums([]byte("not a sum line\n"))
	assert.Error(t, err)
	set, err := ParseSums([]byte("# comment\n\nmodule example.com/x v1.0.0\n" + Hash(nil) + "  a/b_test.go\n"))
	require.NoError(t, err)
	assert.Equal(t, Hash(nil), set.Sums["a/b_test.go"])
	assert.Equal(t, "v1.0.0", set.Modules["example.com/x"])
}
