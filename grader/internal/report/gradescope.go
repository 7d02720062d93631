package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// GradescopeResults is a Gradescope autograder's results.json. Gradescope takes the
// submission's score from Score (which overrides the sum of the tests' scores) and shows Output
// (here the Markdown report) above the tests.
type GradescopeResults struct {
	Score    int `json:"score"`
	MaxScore int `json:"max_score"`
	// ExecutionTime is in seconds.
	ExecutionTime int64  `json:"execution_time"`
	Output        string `json:"output"`
	// OutputFormat says how Output is rendered: "md" (Markdown).
	OutputFormat string           `json:"output_format"`
	Visibility   string           `json:"visibility"`
	Tests        []GradescopeTest `json:"tests"`
}

// GradescopeTest is one test of GradescopeResults.
type GradescopeTest struct {
	Name     string `json:"name"`
	Score    int    `json:"score"`
	MaxScore int    `json:"max_score"`
	// Status is "passed" or "failed"; empty (left out) for a criterion not verified here,
	// which counts neither way.
	Status     string   `json:"status,omitempty"`
	Output     string   `json:"output"`
	Tags       []string `json:"tags,omitempty"`
	Visibility string   `json:"visibility"`
}

// The Gradescope statuses and settings used.
const (
	gradescopePassed  = "passed"
	gradescopeFailed  = "failed"
	gradescopeVisible = "visible"
)

// ToGradescope returns r as Gradescope results, with the same tests and points as ToClassroom:
// one test per criterion (no points of its own) and one per graded rubric category, scoring its
// level out of 4.
func ToGradescope(r *Report) (GradescopeResults, error) {
	var md bytes.Buffer
	if err := writeMarkdown(&md, r, i18n.English); err != nil {
		return GradescopeResults{}, err
	}
	out := GradescopeResults{
		Score: r.Score, MaxScore: r.MaxScore, ExecutionTime: (r.DurationMS + 999) / 1000,
		Output: md.String(), OutputFormat: "md", Visibility: gradescopeVisible, Tests: []GradescopeTest{},
	}
	for _, ex := range r.Exercises {
		for _, c := range ex.Criteria {
			t := GradescopeTest{Name: testName(c), Status: gradescopeFailed, Output: criterionText(ex, c),
				Tags: []string{ex.ID, c.Category}, Visibility: gradescopeVisible}
			switch c.Status {
			case Met:
				t.Status = gradescopePassed
			case NotVerified:
				t.Status = ""
			}
			out.Tests = append(out.Tests, t)
		}
	}
	for _, c := range r.Rubric {
		if c.Level == 0 {
			continue
		}
		t := GradescopeTest{Name: categoryName(c), Score: c.Level, MaxScore: 4, Status: gradescopeFailed,
			Output: categoryText(c), Tags: []string{"rubric", c.Category}, Visibility: gradescopeVisible}
		if c.Level == 4 {
			t.Status = gradescopePassed
		}
		out.Tests = append(out.Tests, t)
	}
	return out, nil
}

func writeGradescope(w io.Writer, r *Report) error {
	res, err := ToGradescope(r)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// ReadGradescope parses a results.json that writeGradescope wrote.
func ReadGradescope(data []byte) (GradescopeResults, error) {
	var out GradescopeResults
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("gradescope results: %w", err)
	}
	return out, nil
}
