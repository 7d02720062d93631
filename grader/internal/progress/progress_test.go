package progress

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

func TestPrinter(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		lang i18n.Lang
		want string
	}{
		{i18n.English, "[0/2] grading ex04…\n" +
			"[0/2] grading ex07…\n" +
			"[0/2] ex04: running your own tests against the reference solution and the wrong implementations…\n" +
			"[1/2] ex07: 3/6 met in 12.3s\n" +
			"[1/2] still grading: ex04 (1m30s, your own tests)\n" +
			"[2/2] ex04: 0/6 met in 1m40s (cached)\n"},
		{i18n.Spanish, "[0/2] corrigiendo ex04…\n" +
			"[0/2] corrigiendo ex07…\n" +
			"[0/2] ex04: ejecutando tus propios tests contra la solución de referencia y las implementaciones erróneas…\n" +
			"[1/2] ex07: 3/6 cumplidos en 12.3s\n" +
			"[1/2] aún corrigiendo: ex04 (1m30s, tus propios tests)\n" +
			"[2/2] ex04: 0/6 cumplidos en 1m40s (de la caché)\n"},
	}
	for _, tc := range cases {
		t.Run(string(tc.lang), func(t *testing.T) {
			var out bytes.Buffer
			p := New(&out, tc.lang)
			now := t0
			p.now = func() time.Time { return now }
			p.Tick() // nothing running: nothing to say
			p.Event(grade.Progress{Exercise: "ex04", Stage: grade.Started, Total: 2})
			p.Event(grade.Progress{Exercise: "ex07", Stage: grade.Started, Total: 2})
			p.Event(grade.Progress{Exercise: "ex04", Stage: grade.StudentTests, Total: 2})
			p.Event(grade.Progress{Exercise: "ex07", Stage: grade.Graded, Done: 1, Total: 2, Met: 3, Criteria: 6, Elapsed: 12345 * time.Millisecond})
			now = t0.Add(90 * time.Second)
			p.Tick()
			p.Event(grade.Progress{Exercise: "ex04", Stage: grade.Graded, Done: 2, Total: 2, Met: 0, Criteria: 6, Elapsed: 100 * time.Second, Cached: true})
			p.Tick()
			assert.Equal(t, tc.want, out.String())
		})
	}
}

func TestIsTerminal(t *testing.T) {
	assert.False(t, IsTerminal(&bytes.Buffer{}), "a buffer is no terminal")
}
