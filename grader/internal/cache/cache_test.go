package cache

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyChangesWithEveryInput(t *testing.T) {
	base := func() *Key {
		k := NewKey()
		k.AddString("file:a.go", "package a")
		k.AddString("flag:race", "true")
		return k
	}
	sum := base().Sum()
	assert.Equal(t, sum, base().Sum(), "the same inputs give the same key")

	changed := []*Key{base(), base(), base(), base()}
	changed[0].AddString("file:a.go", "package b")
	changed[1].AddString("flag:race", "false")
	changed[2].AddString("file:b.go", "")
	changed[3].AddString("file:a.go", "package a\n")
	for i, k := range changed {
		assert.NotEqual(t, sum, k.Sum(), "change %d", i)
	}

	// Length prefixes keep a value from spilling into the next name.
	x, y := NewKey(), NewKey()
	x.AddString("a", "bc")
	x.AddString("d", "")
	y.AddString("a", "b")
	y.AddString("cd", "")
	assert.NotEqual(t, x.Sum(), y.Sum())
}

func TestPutGet(t *testing.T) {
	c, err := Open(t.TempDir())
	require.NoError(t, err)
	sum := NewKey().Sum()
	var got map[string]int
	assert.False(t, c.Get(sum, &got))
	require.NoError(t, c.Put(sum, map[string]int{"met": 6}))
	require.True(t, c.Get(sum, &got))
	assert.Equal(t, 6, got["met"])

	require.NoError(t, os.WriteFile(c.path(sum), []byte("{broken"), 0o600))
	assert.False(t, c.Get(sum, &got), "a broken entry is a miss")
}

func TestHashes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
	assert.NotEmpty(t, FileHash(p))
	assert.Empty(t, FileHash(p+"-missing"))
	a := FSHash(fstest.MapFS{"d/x": {Data: []byte("1")}}, "d")
	b := FSHash(fstest.MapFS{"d/x": {Data: []byte("2")}}, "d")
	assert.NotEqual(t, a, b)
}
