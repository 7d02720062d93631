package score

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microservices-workbook/workbook/grader/internal/manifest"
)

func TestLevel(t *testing.T) {
	cases := []struct{ met, total, want int }{
		{0, 0, 0},
		{0, 10, 1},
		{3, 10, 1},
		{4, 10, 2},
		{6, 10, 2},
		{7, 10, 3},
		{8, 10, 3},
		{9, 10, 4},
		{10, 10, 4},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, Level(tc.met, tc.total), "Level(%d, %d)", tc.met, tc.total)
	}
}

func TestComputeAllSix(t *testing.T) {
	var items []Item
	for _, c := range manifest.Categories() {
		items = append(items, Item{Category: c, Weight: 1, Met: true})
	}
	r := Compute(items)
	assert.Equal(t, 24, r.Score)
	assert.Equal(t, 24, r.MaxScore)
	assert.Equal(t, 22, r.Band.Min)
}

func TestComputeExcludesNotVerifiedAndUngraded(t *testing.T) {
	r := Compute([]Item{
		{Category: manifest.Resilience, Weight: 1, Met: true},
		{Category: manifest.Resilience, Weight: 1, Excluded: true},
		{Category: manifest.Architecture, Weight: 2, Met: false},
		{Category: manifest.Architecture, Weight: 1, Met: true},
	})
	byCat := map[manifest.Category]Category{}
	for _, c := range r.Categories {
		byCat[c.Category] = c
	}
	assert.Equal(t, Category{Category: manifest.Resilience, Level: 4, Met: 1, Total: 1}, byCat[manifest.Resilience])
	assert.Equal(t, Category{Category: manifest.Architecture, Level: 1, Met: 1, Total: 3}, byCat[manifest.Architecture])
	assert.Equal(t, 0, byCat[manifest.Observability].Level)
	assert.Equal(t, 5, r.Score)
	assert.Equal(t, 8, r.MaxScore)
	assert.Equal(t, 14, r.Band.Min, "5/8 scales to 15/24")
}

func TestBandFor(t *testing.T) {
	cases := []struct{ score, max, want int }{
		{24, 24, 22}, {22, 24, 22}, {21, 24, 18}, {18, 24, 18},
		{17, 24, 14}, {14, 24, 14}, {13, 24, 0}, {6, 24, 0}, {0, 0, 0},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, BandFor(tc.score, tc.max).Min, "BandFor(%d, %d)", tc.score, tc.max)
	}
}

func TestMechanicalItemsAloneStopAtTwo(t *testing.T) {
	mech := Item{Category: manifest.CodeQuality, Weight: 1, Met: true, Mechanical: true}
	tests := Item{Category: manifest.CodeQuality, Weight: 3}
	level := func(items ...Item) Category {
		for _, c := range Compute(items).Categories {
			if c.Category == manifest.CodeQuality {
				return c
			}
		}
		return Category{}
	}
	assert.Equal(t, Category{Category: manifest.CodeQuality, Level: 2, Met: 1, Total: 1, Capped: true}, level(mech),
		"clean code without tests of one's own is 'working code', whatever the checks say")
	assert.Equal(t, 1, level(mech, tests).Level, "1 of 4")
	tests.Met = true
	assert.Equal(t, 4, level(mech, tests).Level)
	assert.Equal(t, 3, level(mech, mech, mech, tests, Item{Category: manifest.CodeQuality, Weight: 1}).Level, "6 of 7 is 86 %")
}

func TestDescriptors(t *testing.T) {
	for _, c := range manifest.Categories() {
		for level := 1; level <= 4; level++ {
			en, es := Descriptor(c, level)
			assert.NotEmpty(t, en, "%s %d", c, level)
			assert.NotEmpty(t, es, "%s %d", c, level)
		}
	}
	en, es := Descriptor(manifest.Communication, 3)
	assert.Equal(t, "HTTP + Events working", en)
	assert.Equal(t, "HTTP y eventos funcionando", es)
	en, _ = Descriptor(manifest.Communication, 0)
	assert.Empty(t, en)
}
