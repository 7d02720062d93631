package quality

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const src = `package p

// Documented is fine.
type Documented struct{}

type Bare struct{}

type hidden struct{}

// Method is documented.
func (Documented) Method() {}

func (*Bare) Naked() {}

func (hidden) Exported() {}

func Func() {}

// Grouped constants share their group's comment.
const (
	A = 1
	B = 2
)

const (
	// C has its own.
	C = 3
	D = 4
)

var E, f = 1, 2

// G is generic.
type G[T any] struct{}

func (G[T]) Get() {} // TODO: document
`

func TestUndocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, parser.ParseComments)
	require.NoError(t, err)
	assert.Equal(t, []string{"Bare", "Bare.Naked", "Func", "D", "E", "G.Get"}, Undocumented(f))
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.go"), []byte("// Package p is fine.\npackage p\n\n// X is documented.\nconst X = 1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.go"), []byte("package p\nfunc   Y() {} // TODO\n"), 0o644))

	rep, err := Check(dir, []string{"ok.go"})
	require.NoError(t, err)
	assert.Equal(t, Report{Gofmt: Finding{OK: true}, Docs: Finding{OK: true}, TODOs: Finding{OK: true}}, rep)

	rep, err = Check(dir, []string{"ok.go", "bad.go"})
	require.NoError(t, err)
	assert.False(t, rep.Gofmt.OK)
	assert.Contains(t, rep.Gofmt.Message, "bad.go")
	assert.False(t, rep.Docs.OK)
	assert.Contains(t, rep.Docs.Message, "Y")
	assert.False(t, rep.TODOs.OK)
	assert.Contains(t, rep.TODOs.Message, "bad.go:2")
}
