package grade

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// TestWithoutAReferenceTheStudentsTestsAreNotVerified grades a correct exercise, with its model
// suite of tests, by a grader that carries no reference solutions (as a student edition's
// does): the criterion graded on the student's own tests is not verified, left out of the
// score, and the report says why.
func TestWithoutAReferenceTheStudentsTestsAreNotVerified(t *testing.T) {
	checkout := checkoutWith(t, "ex07-breaker")
	rep, err := Grade(context.Background(), Options{
		Root: checkout, Solutions: true, Exercises: []string{"ex07.all-states"}, NoReference: true, NoRace: true,
	})
	require.NoError(t, err)
	require.Len(t, rep.Exercises, 1)
	require.Len(t, rep.Exercises[0].Criteria, 1)
	c := rep.Exercises[0].Criteria[0]
	assert.Equal(t, report.NotVerified, c.Status, c.Message)
	assert.Contains(t, c.Message, "student edition")
	assert.Equal(t, []string{"ex07.all-states"}, rep.NotVerified)
	assert.Contains(t, rep.Notes, NoReferenceNote)
	assert.Zero(t, rep.MaxScore, "a criterion not verified is left out of the score")
}

// TestANilReferenceMeansNone checks the default: a nil Reference takes the workbook's
// embedded one, and NoReference leaves it out even when one is given.
func TestANilReferenceMeansNone(t *testing.T) {
	opts := Options{Root: t.TempDir()}
	require.NoError(t, opts.defaults())
	assert.NotNil(t, opts.Reference, "this workbook embeds its reference solutions")

	opts = Options{Root: t.TempDir(), NoReference: true}
	require.NoError(t, opts.defaults())
	assert.Nil(t, opts.Reference)
}

// TestSolutionsNeedASolutionsDirectory asks for the reference solutions of a checkout that has
// none: grading stops with an error that says so, before anything is built.
func TestSolutionsNeedASolutionsDirectory(t *testing.T) {
	checkout := checkoutWith(t)
	_, err := Grade(context.Background(), Options{Root: checkout, Solutions: true, Exercises: []string{"ex07"}})
	require.ErrorIs(t, err, ErrNoSolutions)
	assert.Contains(t, err.Error(), "student edition")
}
