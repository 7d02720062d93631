package workbook

import (
	"embed"
	"io/fs"
)

// The reference solutions, with their model test suites, and the mutants: what the grader needs
// to grade a student's own tests (they must pass against the reference and fail against enough
// mutants). A student edition of the workbook ships without them, and the grader then reports
// those criteria as not verified.
//
//go:embed solutions grader/testdata/mutants
var reference embed.FS

// Reference returns the embedded solutions and mutants, with paths relative to the module root
// ("solutions/ex07-breaker/breaker.go", "grader/testdata/mutants/ex07-breaker/….json").
func Reference() fs.FS { return reference }
