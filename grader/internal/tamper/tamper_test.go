package tamper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/pristine"
)

const (
	goMod = `module example.com/wb

go 1.26

require (
	github.com/stretchr/testify v1.12.1
	golang.org/x/crypto v0.59.0
)
`
	criteria = `package breaker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStateMachine(t *testing.T) { require.True(t, false) }
`
)

// fixture returns a pristine set and a checkout that matches it.
func fixture(t *testing.T) (*pristine.Set, string) {
	t.Helper()
	files := fstest.MapFS{"ex07-breaker/criteria_test.go": {Data: []byte(criteria)}}
	data, err := pristine.FormatSums(files, []byte(goMod))
	require.NoError(t, err)
	set, err := pristine.ParseSums(data)
	require.NoError(t, err)
	set.Files = files

	root := t.TempDir()
	write(t, root, "go.mod", goMod)
	write(t, root, "ex07-breaker/criteria_test.go", criteria)
	write(t, root, "ex07-breaker/breaker.go", "package breaker\n")
	return set, root
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func check(t *testing.T, set *pristine.Set, root string) []string {
	t.Helper()
	reasons, err := Check(Input{Root: root, Dir: "ex07-breaker", GradedDir: "ex07-breaker", ExpectTests: true, Pristine: set})
	require.NoError(t, err)
	return reasons
}

func TestCleanCheckout(t *testing.T) {
	set, root := fixture(t)
	assert.Empty(t, check(t, set, root))

	// The student's own extra tests and added requires for their own code are fine.
	write(t, root, "ex07-breaker/mine_test.go", "package breaker\n\nimport \"testing\"\n\nfunc TestMine(t *testing.T) {}\n")
	write(t, root, "go.mod", goMod+"\nrequire github.com/sony/gobreaker/v2 v2.1.0\n")
	assert.Empty(t, check(t, set, root))
}

func TestFindsTampering(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, root string)
		want   string
	}{
		{"edited test", func(t *testing.T, root string) {
			write(t, root, "ex07-breaker/criteria_test.go", strings.Replace(criteria, "false", "true", 1))
		}, "criteria_test.go was edited"},
		{"missing test", func(t *testing.T, root string) {
			require.NoError(t, os.Remove(filepath.Join(root, "ex07-breaker", "criteria_test.go")))
		}, "criteria_test.go is missing"},
		{"build tag added", func(t *testing.T, root string) {
			write(t, root, "ex07-breaker/criteria_test.go", "//go:build ignore\n\n"+criteria)
		}, "criteria_test.go was edited"},
		{"TestMain", func(t *testing.T, root string) {
			write(t, root, "ex07-breaker/main_test.go", "package breaker\n\nimport (\"os\";\"testing\")\n\nfunc TestMain(m *testing.M) { os.Exit(0) }\n")
		}, "main_test.go declares TestMain"},
		{"init", func(t *testing.T, root string) {
			write(t, root, "ex07-breaker/zz_test.go", "package breaker\n\nfunc init() {}\n")
		}, "zz_test.go declares init"},
		{"replace", func(t *testing.T, root string) {
			write(t, root, "go.mod", goMod+"\nreplace github.com/stretchr/testify => ./fake\n")
		}, "go.mod replaces github.com/stretchr/testify"},
		{"changed version", func(t *testing.T, root string) {
			write(t, root, "go.mod", strings.Replace(goMod, "v1.12.1", "v1.8.4", 1))
		}, "go.mod changes github.com/stretchr/testify, which the tests rely on, from v1.12.1 to v1.8.4"},
		{"go.work", func(t *testing.T, root string) {
			write(t, root, "go.work", "go 1.26\n\nuse .\n")
		}, "go.work is present"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, root := fixture(t)
			tc.change(t, root)
			reasons := check(t, set, root)
			require.NotEmpty(t, reasons, "the change was not noticed")
			assert.Contains(t, strings.Join(reasons, "\n"), tc.want)
		})
	}
}

func TestUnrelatedModuleVersionIsFine(t *testing.T) {
	set, root := fixture(t)
	// criteria_test.go does not import x/crypto, so its version is the student's business.
	write(t, root, "go.mod", strings.Replace(goMod, "v0.59.0", "v0.60.0", 1))
	assert.Empty(t, check(t, set, root))
}

func TestGraderBuiltFromEditedTree(t *testing.T) {
	set, root := fixture(t)
	// The embedded copy itself was edited (and the checkout with it), but pristine.sum was not.
	edited := strings.Replace(criteria, "false", "true", 1)
	set.Files.(fstest.MapFS)["ex07-breaker/criteria_test.go"] = &fstest.MapFile{Data: []byte(edited)}
	write(t, root, "ex07-breaker/criteria_test.go", edited)
	reasons := check(t, set, root)
	assert.Contains(t, strings.Join(reasons, "\n"), "does not match pristine.sum")
}

func TestSolutionsNeedNoTestFiles(t *testing.T) {
	set, root := fixture(t)
	write(t, root, "solutions/ex07-breaker/breaker.go", "package breaker\n")
	reasons, err := Check(Input{Root: root, Dir: "ex07-breaker", GradedDir: "solutions/ex07-breaker", Pristine: set})
	require.NoError(t, err)
	assert.Empty(t, reasons)
}
