// Package mutant reads the workbook's mutants: plausible wrong implementations of an exercise,
// each described as text replacements in one file of its reference solution, with the criteria
// that must then fail (see CONTRIBUTING.md).
package mutant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Dir is where the mutants live, relative to the module root: one directory per exercise.
const Dir = "grader/testdata/mutants"

// Replacement is one text replacement.
type Replacement struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// Mutant is one plausible wrong implementation.
type Mutant struct {
	Description string `json:"description"`
	// DescriptionES says it in Spanish: a student whose tests miss the mutant reads it.
	DescriptionES string        `json:"description_es,omitempty"`
	File          string        `json:"file"`
	Replace       []Replacement `json:"replace"`
	// Race grades the mutant with the race detector on, as students are graded: the mutant
	// is a data race that only the detector shows.
	Race bool `json:"race,omitempty"`
	// Fails lists the criteria that must not be met with the mutant applied.
	Fails []string `json:"fails"`

	// Exercise is the exercise's directory ("ex07-breaker"); Name is the file's name
	// without ".json". Neither is part of the file.
	Exercise string `json:"-"`
	Name     string `json:"-"`
}

// ID returns "exercise-dir/name".
func (m Mutant) ID() string { return m.Exercise + "/" + m.Name }

// Load reads the mutants under base (usually Dir) of one exercise directory, or of every
// exercise when exercise is empty, from fsys.
func Load(fsys fs.FS, base, exercise string) ([]Mutant, error) {
	pattern := path.Join(base, "*", "*.json")
	if exercise != "" {
		pattern = path.Join(base, exercise, "*.json")
	}
	paths, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Mutant
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		var m Mutant
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if m.File == "" || len(m.Replace) == 0 || len(m.Fails) == 0 {
			return nil, fmt.Errorf("%s: a mutant names a file, its replacements and the criteria that must fail", p)
		}
		m.Exercise = path.Base(path.Dir(p))
		m.Name = strings.TrimSuffix(path.Base(p), ".json")
		out = append(out, m)
	}
	return out, nil
}

// Apply returns src with the mutant's replacements made. Each old text must occur exactly once.
func (m Mutant) Apply(src []byte) ([]byte, error) {
	s := string(src)
	for _, r := range m.Replace {
		if n := strings.Count(s, r.Old); n != 1 {
			return nil, fmt.Errorf("mutant %s: the text to replace occurs %d times in %s, not once:\n%s", m.ID(), n, m.File, r.Old)
		}
		s = strings.Replace(s, r.Old, r.New, 1)
	}
	return []byte(s), nil
}
