// Package manifest reads the criteria manifests (criteria.json) of the workbook's exercises: the
// single source of truth for each criterion's id, titles, rubric category, weight, deciding test
// and hint.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// FileName is the name of the manifest file in each exercise directory.
const FileName = "criteria.json"

// Category is one of the six rubric categories of the workbook.
type Category string

// The rubric categories, in the order the rubric lists them.
const (
	Architecture  Category = "architecture"
	Communication Category = "communication"
	Resilience    Category = "resilience"
	Observability Category = "observability"
	CodeQuality   Category = "code_quality"
	ErrorHandling Category = "error_handling"
)

// Categories lists the rubric categories in rubric order.
func Categories() []Category {
	return []Category{Architecture, Communication, Resilience, Observability, CodeQuality, ErrorHandling}
}

// Title returns the category's bilingual display name: "Resilience / Resiliencia".
func (c Category) Title() string {
	en, es := c.Names()
	if en == es {
		return en
	}
	return en + " / " + es
}

// Names returns the category's display name in English and in Spanish.
func (c Category) Names() (en, es string) {
	switch c {
	case Architecture:
		return "Architecture", "Arquitectura"
	case Communication:
		return "Communication patterns", "Patrones de comunicación"
	case Resilience:
		return "Resilience", "Resiliencia"
	case Observability:
		return "Observability", "Observabilidad"
	case CodeQuality:
		return "Code quality", "Calidad de código"
	case ErrorHandling:
		return "Error handling", "Manejo de errores"
	}
	return string(c), string(c)
}

// Valid reports whether c is one of the six rubric categories.
func (c Category) Valid() bool {
	for _, k := range Categories() {
		if c == k {
			return true
		}
	}
	return false
}

// Text is a text in English and Spanish.
type Text struct {
	EN string `json:"en"`
	ES string `json:"es"`
}

// Kind says how a criterion is decided.
type Kind string

// The kinds of criteria.
const (
	// KindTest (the default, written as "" or "test") is decided by one test of the exercise's
	// criteria_test.go, run against the student's code.
	KindTest Kind = "test"
	// KindStudentTests is decided by the student's own tests: the tests declared in the test
	// files that are not the workbook's must pass against the student's code and the
	// reference solution, and fail against at least MinCaught of the listed Mutants.
	KindStudentTests Kind = "student_tests"
)

// Criterion is one checklist item of an exercise.
type Criterion struct {
	ID       string   `json:"id"`
	Title    Text     `json:"title"`
	Category Category `json:"category"`
	Weight   int      `json:"weight"`
	// Kind is how the criterion is decided; empty means KindTest.
	Kind Kind `json:"kind,omitempty"`
	// Test names the top-level test of criteria_test.go that decides a KindTest criterion.
	Test string `json:"test,omitempty"`
	// Mutants names the mutants (files of grader/testdata/mutants/<dir>/, without ".json")
	// that the student's tests must catch, for a KindStudentTests criterion.
	Mutants []string `json:"mutants,omitempty"`
	// MinCaught is how many of Mutants the student's tests must catch.
	MinCaught int `json:"min_caught,omitempty"`
	// Hint tells a student who missed the criterion where to look; HintES says it in
	// Spanish.
	Hint     string   `json:"hint"`
	HintES   string   `json:"hint_es,omitempty"`
	Requires []string `json:"requires"`
}

// StudentTests reports whether c is decided by the student's own tests.
func (c Criterion) StudentTests() bool { return c.Kind == KindStudentTests }

// Manifest is the parsed criteria.json of one exercise.
type Manifest struct {
	Exercise string      `json:"exercise"`
	Title    Text        `json:"title"`
	Criteria []Criterion `json:"criteria"`
	// Concurrent says that the criteria tests exercise the code from several goroutines at
	// once, so that the race detector's verdict means something and counts.
	Concurrent bool `json:"concurrent,omitempty"`
	// Generated lists the files (relative to the exercise directory) that the workbook's
	// generators write: the code-quality and review checks judge the generator, not them.
	Generated []string `json:"generated,omitempty"`

	// Dir is the exercise's directory relative to the module root ("ex07-breaker").
	// It is not part of the file: Load fills it in.
	Dir string `json:"-"`
	// Partial is set on a copy that keeps only some criteria (a selection of them).
	Partial bool `json:"-"`
}

// ErrInvalid is wrapped by every validation error of a manifest.
var ErrInvalid = errors.New("invalid manifest")

var (
	exerciseID  = regexp.MustCompile(`^ex[0-9]{2}$`)
	criterionID = regexp.MustCompile(`^ex[0-9]{2}\.[a-z0-9]+(-[a-z0-9]+)*$`)
	testName    = regexp.MustCompile(`^Test[A-Z_][A-Za-z0-9_]*$`)
)

// Parse decodes and validates one manifest. dir is the exercise directory it was read from.
func Parse(dir string, data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, dir, err)
	}
	m.Dir = dir
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, m.Dir, fmt.Sprintf(format, args...)))
	}
	if !exerciseID.MatchString(m.Exercise) {
		bad("exercise %q is not of the form exNN", m.Exercise)
	}
	if !strings.HasPrefix(m.Dir, m.Exercise+"-") {
		bad("directory %q does not start with %q", m.Dir, m.Exercise+"-")
	}
	if m.Title.EN == "" || m.Title.ES == "" {
		bad("title needs both en and es")
	}
	if len(m.Criteria) == 0 {
		bad("no criteria")
	}
	for _, g := range m.Generated {
		if g == "" || strings.HasPrefix(g, "/") || strings.Contains(g, "..") || !strings.HasSuffix(g, ".go") {
			bad("generated file %q is not a Go file's path inside the exercise", g)
		}
	}
	ids := map[string]bool{}
	tests := map[string]bool{}
	for i, c := range m.Criteria {
		switch {
		case !criterionID.MatchString(c.ID) || !strings.HasPrefix(c.ID, m.Exercise+"."):
			bad("criterion %d: id %q is not of the form %s.kebab-name", i, c.ID, m.Exercise)
		case ids[c.ID]:
			bad("criterion %q appears twice", c.ID)
		}
		ids[c.ID] = true
		if c.Title.EN == "" || c.Title.ES == "" {
			bad("criterion %q: title needs both en and es", c.ID)
		}
		if !c.Category.Valid() {
			bad("criterion %q: unknown category %q", c.ID, c.Category)
		}
		if c.Weight < 1 {
			bad("criterion %q: weight %d is not positive", c.ID, c.Weight)
		}
		switch c.Kind {
		case "", KindTest:
			if !testName.MatchString(c.Test) {
				bad("criterion %q: test %q is not a Go test name", c.ID, c.Test)
			} else if tests[c.Test] {
				bad("criterion %q: test %s decides another criterion too", c.ID, c.Test)
			}
			tests[c.Test] = true
			if len(c.Mutants) > 0 || c.MinCaught != 0 {
				bad("criterion %q: mutants and min_caught belong to a %s criterion", c.ID, KindStudentTests)
			}
		case KindStudentTests:
			if c.Test != "" {
				bad("criterion %q: a %s criterion is decided by the student's tests, not by test %q", c.ID, KindStudentTests, c.Test)
			}
			if len(c.Mutants) == 0 {
				bad("criterion %q: a %s criterion lists the mutants the student's tests must catch", c.ID, KindStudentTests)
			}
			if c.MinCaught < 1 || c.MinCaught > len(c.Mutants) {
				bad("criterion %q: min_caught %d is not between 1 and the %d mutants listed", c.ID, c.MinCaught, len(c.Mutants))
			}
		default:
			bad("criterion %q: unknown kind %q", c.ID, c.Kind)
		}
		if c.Hint == "" {
			bad("criterion %q: no hint", c.ID)
		}
	}
	return errors.Join(errs...)
}

// Load reads every exercise manifest ("exNN-slug/criteria.json") found in fsys, sorted by
// exercise id.
func Load(fsys fs.FS) ([]*Manifest, error) {
	paths, err := fs.Glob(fsys, "ex*-*/"+FileName)
	if err != nil {
		return nil, fmt.Errorf("finding manifests: %w", err)
	}
	var ms []*Manifest
	seen := map[string]string{}
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		m, err := Parse(path.Dir(p), data)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[m.Exercise]; ok {
			return nil, fmt.Errorf("%w: %s and %s both declare %s", ErrInvalid, other, m.Dir, m.Exercise)
		}
		seen[m.Exercise] = m.Dir
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Exercise < ms[j].Exercise })
	return ms, nil
}

// Tests returns the names of the tests that decide m's criteria, in manifest order (criteria
// decided by the student's own tests have none).
func (m *Manifest) Tests() []string {
	var names []string
	for _, c := range m.Criteria {
		if c.Test != "" {
			names = append(names, c.Test)
		}
	}
	return names
}
