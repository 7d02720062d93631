package grade

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/manifest"
)

func manifests() []*manifest.Manifest {
	crit := func(id string) manifest.Criterion { return manifest.Criterion{ID: id, Test: "Test" + id} }
	return []*manifest.Manifest{
		{Exercise: "ex01", Dir: "ex01-decomposition", Criteria: []manifest.Criterion{crit("ex01.a"), crit("ex01.b")}},
		{Exercise: "ex07", Dir: "ex07-breaker", Criteria: []manifest.Criterion{crit("ex07.a"), crit("ex07.b"), crit("ex07.c")}},
	}
}

func ids(ms []*manifest.Manifest) map[string][]string {
	got := map[string][]string{}
	for _, m := range ms {
		for _, c := range m.Criteria {
			got[m.Exercise] = append(got[m.Exercise], c.ID)
		}
	}
	return got
}

func TestSelect(t *testing.T) {
	cases := []struct {
		name      string
		selectors []string
		want      map[string][]string
	}{
		{"all", nil, map[string][]string{"ex01": {"ex01.a", "ex01.b"}, "ex07": {"ex07.a", "ex07.b", "ex07.c"}}},
		{"by id", []string{"ex07"}, map[string][]string{"ex07": {"ex07.a", "ex07.b", "ex07.c"}}},
		{"by dir and number", []string{"solutions/ex07-breaker/", "1"}, map[string][]string{"ex01": {"ex01.a", "ex01.b"}, "ex07": {"ex07.a", "ex07.b", "ex07.c"}}},
		{"criteria keep manifest order", []string{"ex07.c", "ex07.a"}, map[string][]string{"ex07": {"ex07.a", "ex07.c"}}},
		{"a whole exercise wins over its criteria", []string{"ex07.c", "ex07"}, map[string][]string{"ex07": {"ex07.a", "ex07.b", "ex07.c"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Select(manifests(), tc.selectors)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(got))
		})
	}
	all := manifests()
	_, err := Select(all, []string{"ex07.c"})
	require.NoError(t, err)
	assert.Len(t, all[1].Criteria, 3, "selecting criteria must not change the manifests it was given")

	_, err = Select(manifests(), []string{"ex99"})
	assert.ErrorIs(t, err, ErrUnknownExercise)
}
