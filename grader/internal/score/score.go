// Package score turns met and unmet weights into the seed's rubric: a level from 1 to 4 for each
// of the six categories, a total out of 24 and a band.
package score

import (
	"math"

	"github.com/microservices-workbook/workbook/grader/internal/manifest"
)

// Item is one graded thing that carries weight in a category: a criterion or an exercise's
// code-quality checks.
type Item struct {
	Category manifest.Category
	Weight   int
	Met      bool
	// Excluded items (criteria that could not be verified here) count neither way.
	Excluded bool
	// Mechanical items are measured without running anything (formatting, vet, docs): they
	// cannot carry a category above level 2 by themselves.
	Mechanical bool
}

// Category is the score of one rubric category.
type Category struct {
	Category manifest.Category
	// Level is 1–4, or 0 when nothing in the category was graded.
	Level int
	// Met and Total are weights; excluded items count in neither.
	Met, Total int
	// Capped is set when the level was held at 2 because only mechanical items were met.
	Capped bool
}

// Result is the rubric score.
type Result struct {
	Categories []Category
	// Score is the sum of the levels; MaxScore is 4 for each category that was graded
	// (24 when all six were).
	Score, MaxScore int
	Band            Band
}

// Band is one of the seed's score bands.
type Band struct {
	// Min is the lowest score (out of 24) in the band.
	Min int
	// Title is the band's name in English and Spanish; ES in Spanish only.
	Title, ES string
}

// Bands lists the seed's bands, best first.
func Bands() []Band {
	return []Band{
		{22, "Excellent / Excelente — ¡Master de Microservices!", "Excelente — ¡Master de Microservices!"},
		{18, "Good / Bueno — ¡Desarrollador Senior!", "Bueno — ¡Desarrollador Senior!"},
		{14, "Fair / Regular — ¡Desarrollador Mid-level!", "Regular — ¡Desarrollador Mid-level!"},
		{0, "Needs improvement / Necesita mejora — ¡Sigue practicando!", "Necesita mejora — ¡Sigue practicando!"},
	}
}

// MechanicalCap is the highest level a category reaches on mechanical items alone: the seed's
// code quality asks for tested code from level 3 ("good quality with tests").
const MechanicalCap = 2

// Level maps the share of a category's weight that was met to a rubric level: 4 at 90 % or
// more, 3 at 70 %, 2 at 40 %, else 1.
func Level(met, total int) int {
	if total <= 0 {
		return 0
	}
	share := float64(met) / float64(total)
	switch {
	case share >= 0.9:
		return 4
	case share >= 0.7:
		return 3
	case share >= 0.4:
		return 2
	default:
		return 1
	}
}

// Compute scores items. Categories with no graded weight get level 0 and are left out of
// MaxScore; the band is chosen on the score scaled to 24.
func Compute(items []Item) Result {
	var r Result
	for _, c := range manifest.Categories() {
		cat := Category{Category: c}
		substantive := 0
		for _, it := range items {
			if it.Category != c || it.Excluded {
				continue
			}
			cat.Total += it.Weight
			if it.Met {
				cat.Met += it.Weight
				if !it.Mechanical {
					substantive += it.Weight
				}
			}
		}
		cat.Level = Level(cat.Met, cat.Total)
		if cat.Level > MechanicalCap && substantive == 0 {
			cat.Level, cat.Capped = MechanicalCap, true
		}
		if cat.Level > 0 {
			r.Score += cat.Level
			r.MaxScore += 4
		}
		r.Categories = append(r.Categories, cat)
	}
	r.Band = BandFor(r.Score, r.MaxScore)
	return r
}

// BandFor returns the band of score out of max, scaled to 24.
func BandFor(score, max int) Band {
	bands := Bands()
	if max <= 0 {
		return bands[len(bands)-1]
	}
	scaled := int(math.Round(float64(score) * 24 / float64(max)))
	for _, b := range bands {
		if scaled >= b.Min {
			return b
		}
	}
	return bands[len(bands)-1]
}

// Descriptor returns the seed rubric's words for level in category c, in English and Spanish.
func Descriptor(c manifest.Category, level int) (en, es string) {
	if level < 1 || level > 4 {
		return "", ""
	}
	d := descriptors[c]
	return d[4-level][0], d[4-level][1]
}

// descriptors holds, for each category, the words for levels 4, 3, 2 and 1.
var descriptors = map[manifest.Category][4][2]string{
	manifest.Architecture: {
		{"Clean, scalable, well-documented", "Limpia, escalable y bien documentada"},
		{"Good structure, minor issues", "Buena estructura, detalles menores"},
		{"Basic structure", "Estructura básica"},
		{"Poor separation", "Separación pobre"},
	},
	manifest.Communication: {
		{"Multiple patterns used correctly", "Varios patrones bien usados"},
		{"HTTP + Events working", "HTTP y eventos funcionando"},
		{"Basic HTTP only", "Solo HTTP básico"},
		{"Poor implementation", "Implementación pobre"},
	},
	manifest.Resilience: {
		{"Circuit breakers + retries + timeouts", "Circuit breakers, reintentos y timeouts"},
		{"Some patterns implemented", "Algunos patrones implementados"},
		{"Basic error handling", "Manejo de errores básico"},
		{"No resilience", "Sin resiliencia"},
	},
	manifest.Observability: {
		{"Full tracing + metrics + logging", "Trazas, métricas y logs completos"},
		{"Good monitoring setup", "Buena monitorización"},
		{"Basic logging", "Logs básicos"},
		{"No observability", "Sin observabilidad"},
	},
	manifest.CodeQuality: {
		{"Clean, tested, documented", "Limpio, probado y documentado"},
		{"Good quality with tests", "Buena calidad, con tests"},
		{"Working code", "Código que funciona"},
		{"Poor quality", "Calidad pobre"},
	},
	manifest.ErrorHandling: {
		{"Comprehensive error management", "Gestión de errores completa"},
		{"Good error handling", "Buen manejo de errores"},
		{"Basic error handling", "Manejo de errores básico"},
		{"Poor error handling", "Manejo de errores pobre"},
	},
}
