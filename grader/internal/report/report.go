// Package report holds the grader's report and renders it as text, JSON, Markdown or JUnit XML.
package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// Version is the version of the JSON schema. Fields may be added without changing it; a field
// that is renamed, removed or changes meaning bumps it.
const Version = 1

// Criterion statuses.
const (
	Met         = "met"
	Unmet       = "unmet"
	NotVerified = "not_verified" // a program the test needs is not installed
	Error       = "error"        // the build failed, or the test panicked or crashed
	Timeout     = "timeout"      // the test ran out of time
)

// Code-quality check statuses, besides Met and Unmet.
const (
	// NotCounted marks a check that is not counted because no functional criterion of the
	// exercise is met yet; it weighs as unmet.
	NotCounted = "not_counted"
)

// Report is the outcome of grading a checkout.
type Report struct {
	Version int `json:"version"`
	// Target says what was graded: the working tree, or the reference solutions, and where.
	Target string `json:"target"`
	// Score is the sum of the category levels; MaxScore is 4 per graded category.
	Score    int    `json:"score"`
	MaxScore int    `json:"max_score"`
	Band     string `json:"band"`
	// Rubric has one entry for each of the six categories, in rubric order.
	Rubric    []Category `json:"rubric"`
	Exercises []Exercise `json:"exercises"`
	// NotVerified lists the criteria left out of the score because a program is missing.
	NotVerified []string `json:"not_verified"`
	// Warnings are problems with the grading itself (for example a grader built from an edited
	// tree).
	Warnings   []string `json:"warnings,omitempty"`
	DurationMS int64    `json:"duration_ms"`
}

// Category is one rubric row.
type Category struct {
	Category string `json:"category"`
	Title    string `json:"title"`
	// Level is 1–4, or 0 when nothing in the category was graded.
	Level int `json:"level"`
	// Met and Total are weights.
	Met   int `json:"met"`
	Total int `json:"total"`
}

// Exercise is the outcome for one exercise.
type Exercise struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Dir is the graded directory, relative to the checkout root.
	Dir string `json:"dir"`
	// Build is "ok" or "failed".
	Build       string `json:"build"`
	BuildOutput string `json:"build_output,omitempty"`
	// Tampered is set when the checkout changed what decides the grade; it then earns nothing.
	Tampered      bool          `json:"tampered"`
	TamperReasons []string      `json:"tamper_reasons,omitempty"`
	DurationMS    int64         `json:"duration_ms"`
	Criteria      []Criterion   `json:"criteria"`
	Quality       []QualityItem `json:"quality"`
}

// Criterion is the outcome of one checklist criterion.
type Criterion struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	TitleES  string `json:"title_es"`
	Category string `json:"category"`
	Weight   int    `json:"weight"`
	Status   string `json:"status"`
	// Test is the test that decides the criterion.
	Test string `json:"test"`
	// Message is what the test printed when it did not pass (capped).
	Message string `json:"message,omitempty"`
	Hint    string `json:"hint"`
}

// QualityItem is one measured code-quality check of an exercise.
type QualityItem struct {
	Check   string `json:"check"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// Met counts the exercise's criteria that are met.
func (e *Exercise) Met() int {
	n := 0
	for _, c := range e.Criteria {
		if c.Status == Met {
			n++
		}
	}
	return n
}

// Format names an output format.
type Format string

// The output formats.
const (
	Text     Format = "text"
	JSON     Format = "json"
	Markdown Format = "markdown"
	JUnit    Format = "junit"
)

// Formats lists the output formats.
func Formats() []Format { return []Format{Text, JSON, Markdown, JUnit} }

// Write renders r to w in format f.
func Write(w io.Writer, r *Report, f Format) error {
	switch f {
	case Text:
		return writeText(w, r)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case Markdown:
		return writeMarkdown(w, r)
	case JUnit:
		return writeJUnit(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}
