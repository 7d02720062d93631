package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// ClassroomResult is the result a GitHub Classroom autograding step hands to Classroom's
// reporter (classroom-resources/autograding-grading-reporter), which reads it, base64-encoded,
// from the step's output named result. The reporter adds up the tests' scores against
// MaxScore.
type ClassroomResult struct {
	// Version is the result format's version: 1.
	Version int `json:"version"`
	// Status is "pass" when no test failed, else "fail".
	Status   string          `json:"status"`
	MaxScore int             `json:"max_score"`
	Tests    []ClassroomTest `json:"tests"`
}

// ClassroomTest is one test of a ClassroomResult.
type ClassroomTest struct {
	Name string `json:"name"`
	// Status is "pass", "fail", or "error" for a test that could not run here (a criterion
	// not verified).
	Status   string `json:"status"`
	Score    int    `json:"score"`
	MaxScore int    `json:"max_score"`
	Message  string `json:"message"`
	// TestCode is shown under the test: the command that grades just that criterion again.
	TestCode string `json:"test_code,omitempty"`
	// Filename and LineNo are the reporter's source location; the grader gives none (the
	// reporter prints the line number unless it is 0).
	Filename string `json:"filename"`
	LineNo   int    `json:"line_no"`
}

// The classroom result's format version and statuses.
const (
	classroomVersion = 1
	classroomPass    = "pass"
	classroomFail    = "fail"
	classroomError   = "error"
)

// ToClassroom returns r as a Classroom result: one test per criterion and one per graded rubric
// category. The points are the rubric's: each category's test scores its level (out of 4), so
// the tests' scores add up to r.Score and their maxima to r.MaxScore. A criterion's test
// carries no points of its own (a rubric level is not a sum of criteria), only its status and
// what to fix.
func ToClassroom(r *Report) ClassroomResult {
	out := ClassroomResult{Version: classroomVersion, Status: classroomPass, MaxScore: r.MaxScore}
	for _, ex := range r.Exercises {
		for _, c := range ex.Criteria {
			t := ClassroomTest{Name: testName(c), Status: classroomFail, Message: criterionText(ex, c),
				TestCode: "go run ./grader " + c.ID}
			switch c.Status {
			case Met:
				t.Status = classroomPass
			case NotVerified:
				t.Status = classroomError
			}
			out.Tests = append(out.Tests, t)
		}
	}
	for _, c := range r.Rubric {
		if c.Level == 0 {
			continue
		}
		t := ClassroomTest{Name: categoryName(c), Status: classroomFail, Score: c.Level, MaxScore: 4, Message: categoryText(c)}
		if c.Level == 4 {
			t.Status = classroomPass
		}
		out.Tests = append(out.Tests, t)
	}
	for _, t := range out.Tests {
		if t.Status == classroomFail {
			out.Status = classroomFail
		}
	}
	return out
}

// writeClassroom writes the Classroom result as the reporter reads it: base64 of its JSON, on
// one line.
func writeClassroom(w io.Writer, r *Report) error {
	data, err := json.Marshal(ToClassroom(r))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, base64.StdEncoding.EncodeToString(data))
	return err
}

// ReadClassroom decodes what writeClassroom wrote.
func ReadClassroom(encoded []byte) (ClassroomResult, error) {
	var out ClassroomResult
	data, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(encoded)))
	if err != nil {
		return out, fmt.Errorf("classroom result: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("classroom result: %w", err)
	}
	return out, nil
}

// testName names a criterion's test in the Classroom and Gradescope results.
func testName(c Criterion) string { return c.ID + ": " + c.Title }

// categoryName names a rubric category's test.
func categoryName(c Category) string { return "Rubric: " + c.Title }

// categoryText says a category's level and why.
func categoryText(c Category) string {
	s := fmt.Sprintf("level %d of 4", c.Level)
	if c.Descriptor != "" {
		s += ": " + c.Descriptor + " / " + c.DescriptorES
	}
	s += fmt.Sprintf(" (weight met %d/%d)", c.Met, c.Total)
	if c.Capped != "" {
		s += "; " + c.Capped
	}
	return s
}

// criterionText says what a criterion's status is and, when it is not met, why and what to do:
// the terminal report's lines for it, without their indentation.
func criterionText(ex Exercise, c Criterion) string {
	var lines []string
	switch {
	case c.Status == Met:
		return "met"
	case c.Status == NotVerified:
		lines = append(lines, "not verified here, left out of the score: "+c.Message)
	case ex.Tampered:
		lines = append(lines, "the exercise forged verdicts and earns nothing")
	case ex.NeedsReview && !ex.Reviewed:
		lines = append(lines, "the exercise's code needs an instructor's review first")
	}
	if c.Status != NotVerified {
		var b strings.Builder
		// The course platforms show one language: the report's English.
		writeCriterion(&textWriter{errWriter: &errWriter{w: &b}, lang: i18n.English}, ex, c)
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, "      "))
		}
	}
	return strings.Join(lines, "\n")
}
