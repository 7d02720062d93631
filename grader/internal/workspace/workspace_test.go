package workspace

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func TestCopyLeavesOutGitVendorLinksAndLargeFiles(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	write(t, src, "go.mod", "module m\n")
	write(t, src, "ex01-a/a.go", "package a\n")
	write(t, src, ".git/config", "secret")
	write(t, src, "vendor/modules.txt", "# fake\n")
	write(t, src, "big.bin", string(make([]byte, 2048)))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "link")))

	require.NoError(t, Copy(dst, src, Limits{MaxFileBytes: 1024}))

	assert.FileExists(t, filepath.Join(dst, "go.mod"))
	assert.FileExists(t, filepath.Join(dst, "ex01-a", "a.go"))
	for _, gone := range []string{".git", "vendor", "big.bin", "link"} {
		_, err := os.Lstat(filepath.Join(dst, gone))
		assert.True(t, os.IsNotExist(err), "%s should not be copied", gone)
	}
}

func TestCopyStopsAtTotalLimit(t *testing.T) {
	src := t.TempDir()
	write(t, src, "a.txt", "0123456789")
	write(t, src, "b.txt", "0123456789")
	err := Copy(t.TempDir(), src, Limits{MaxTotalBytes: 15})
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestGoFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "ex07/breaker.go", "package breaker\n")
	write(t, dir, "ex07/criteria_test.go", "package breaker\n")
	write(t, dir, "ex07/testdata/x.go", "package ignored\n")
	write(t, dir, "ex07/_old/y.go", "package ignored\n")

	code, tests, err := GoFiles(filepath.Join(dir, "ex07"))
	require.NoError(t, err)
	assert.Equal(t, []string{"breaker.go"}, code)
	assert.Equal(t, []string{"criteria_test.go"}, tests)
}

func TestCollect(t *testing.T) {
	src := t.TempDir()
	write(t, src, "a.go", "package a\n")
	write(t, src, "sub/b.go", "package sub\n")
	write(t, src, "big.bin", string(make([]byte, 2048)))
	require.NoError(t, os.Mkdir(filepath.Join(src, "criteria_test.go"), 0o755))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "link.go")))

	files, skipped, err := Collect(src, Limits{MaxFileBytes: 1024})
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Path)
	}
	assert.Equal(t, []string{"a.go", "sub/b.go"}, names)
	assert.ElementsMatch(t, []string{"big.bin", "link.go"}, skipped)

	_, _, err = Collect(src, Limits{MaxFiles: 1})
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestTreeStaysInside(t *testing.T) {
	tree, err := NewTree(t.TempDir())
	require.NoError(t, err)
	for _, bad := range []string{"../x", "a/../../x", "/etc/passwd", "", "."} {
		assert.Error(t, tree.Write(bad, nil), "%q must be refused", bad)
	}
	require.NoError(t, tree.Write("a/b.txt", []byte("b")))
	require.NoError(t, tree.WriteFS("c", fstest.MapFS{"x/y.go": {Data: []byte("y")}, "x/z_test.go": {Data: []byte("z")}}, "x",
		func(rel string) bool { return rel == "y.go" }))
	assert.FileExists(t, filepath.Join(tree.Root, "c", "y.go"))
	assert.NoFileExists(t, filepath.Join(tree.Root, "c", "z_test.go"))
}
