package mutant

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workbook "github.com/microservices-workbook/workbook"
)

func TestLoadAndApply(t *testing.T) {
	fsys := fstest.MapFS{
		Dir + "/ex07-breaker/never-half-opens.json": {Data: []byte(`{"description": "d", "file": "b.go",
			"replace": [{"old": "return true", "new": "return false"}], "fails": ["ex07.state-machine"]}`)},
		Dir + "/ex01-decomposition/x.json": {Data: []byte(`{"description": "d", "file": "a.go",
			"replace": [{"old": "a", "new": "b"}], "fails": ["ex01.user-service"]}`)},
	}
	ms, err := Load(fsys, Dir, "ex07-breaker")
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, "ex07-breaker/never-half-opens", ms[0].ID())
	out, err := ms[0].Apply([]byte("func f() bool { return true }"))
	require.NoError(t, err)
	assert.Equal(t, "func f() bool { return false }", string(out))
	_, err = ms[0].Apply([]byte("return true; return true"))
	assert.ErrorContains(t, err, "occurs 2 times")

	all, err := Load(fsys, Dir, "")
	require.NoError(t, err)
	assert.Len(t, all, 2)

	fsys[Dir+"/ex07-breaker/bad.json"] = &fstest.MapFile{Data: []byte(`{"description": "d", "file": "b.go", "replace": [], "fails": []}`)}
	_, err = Load(fsys, Dir, "ex07-breaker")
	assert.Error(t, err)
}

func TestTheWorkbooksMutantsLoad(t *testing.T) {
	ms, err := Load(workbook.Reference(), Dir, "")
	require.NoError(t, err)
	assert.NotEmpty(t, ms)
}
