// Package workbook carries the pristine copies of the exercises' test files and their criteria
// manifests.
//
// The grader embeds them through this package, so a grader built from a trusted copy of the
// workbook (the upstream module at a tag) grades with these files rather than with the copies in
// the checkout it grades.
package workbook

import (
	"embed"
	"io/fs"
)

//go:embed ex*-*/criteria.json ex*-*/*_test.go
var pristine embed.FS

// Pristine returns the embedded files, with paths relative to the module root
// (for example "ex07-breaker/criteria_test.go").
func Pristine() fs.FS { return pristine }
