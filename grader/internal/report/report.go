// Package report holds the grader's report and renders it as text, JSON, Markdown or JUnit XML.
package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// Version is the version of the JSON schema. Fields may be added without changing it; a field
// that is renamed, removed or changes meaning bumps it. Version 2: tampered means forged
// verdicts (edited shipped files are notes); needs_review; sandbox and mode; failures.
const Version = 2

// Criterion statuses.
const (
	Met         = "met"
	Unmet       = "unmet"
	NotVerified = "not_verified" // a program the test needs is not installed, or the reference is missing
	Error       = "error"        // the build failed, or the test panicked or crashed
	Timeout     = "timeout"      // the test ran out of time
	// NeedsReview marks a criterion whose test passed in an exercise whose code uses means a
	// forger needs (see Exercise.Review): it earns nothing until an instructor has looked.
	NeedsReview = "needs_review"
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
	// Target says what was graded: the working tree, or the reference solutions, and where;
	// TargetES says it in Spanish.
	Target   string `json:"target"`
	TargetES string `json:"target_es,omitempty"`
	// Mode is "trusted" (a grader run on someone else's checkout, with -dir) or "student"
	// (a grader run on its own checkout).
	Mode string `json:"mode"`
	// Sandbox is how student code ran: "bubblewrap", or "none" (no isolation).
	Sandbox string `json:"sandbox"`
	// Score is the sum of the category levels; MaxScore is 4 per graded category.
	Score    int `json:"score"`
	MaxScore int `json:"max_score"`
	// Band is the seed's band for the score, in English and Spanish; BandES in Spanish only.
	Band   string `json:"band"`
	BandES string `json:"band_es,omitempty"`
	// Rubric has one entry for each of the six categories, in rubric order.
	Rubric    []Category `json:"rubric"`
	Exercises []Exercise `json:"exercises"`
	// NotVerified lists the criteria left out of the score because a program is missing.
	NotVerified []string `json:"not_verified"`
	// Warnings are problems with the grading itself (for example a grader built from an edited
	// tree, or no sandbox).
	Warnings   []string `json:"warnings,omitempty"`
	WarningsES []string `json:"warnings_es,omitempty"`
	// Notes are neutral observations about the checkout (for example a go.mod that differs
	// from the workbook's, which is not used).
	Notes      []string `json:"notes,omitempty"`
	NotesES    []string `json:"notes_es,omitempty"`
	DurationMS int64    `json:"duration_ms"`
}

// Category is one rubric row.
type Category struct {
	Category string `json:"category"`
	// Title is the category's name in English and Spanish; TitleES in Spanish only.
	Title   string `json:"title"`
	TitleES string `json:"title_es,omitempty"`
	// Level is 1–4, or 0 when nothing in the category was graded.
	Level int `json:"level"`
	// Descriptor is the seed rubric's words for the level, in English and Spanish.
	Descriptor   string `json:"descriptor,omitempty"`
	DescriptorES string `json:"descriptor_es,omitempty"`
	// Met and Total are weights.
	Met   int `json:"met"`
	Total int `json:"total"`
	// Capped says why the level is lower than the weights alone would give, if it is.
	Capped   string `json:"capped,omitempty"`
	CappedES string `json:"capped_es,omitempty"`
}

// Exercise is the outcome for one exercise.
type Exercise struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	TitleES string `json:"title_es,omitempty"`
	// Dir is the graded directory, relative to the checkout root.
	Dir string `json:"dir"`
	// Build is "ok" or "failed".
	Build string `json:"build"`
	// BuildOutput is the compiler's output when the build failed, or the grader's account of
	// what stopped the exercise; BuildOutputES is set when it is the grader's, in Spanish.
	BuildOutput   string `json:"build_output,omitempty"`
	BuildOutputES string `json:"build_output_es,omitempty"`
	// Tampered is set when the exercise's code forged verdicts (lines on the grader's
	// verdict channel that did not verify); it then earns nothing.
	Tampered        bool     `json:"tampered"`
	TamperReasons   []string `json:"tamper_reasons,omitempty"`
	TamperReasonsES []string `json:"tamper_reasons_es,omitempty"`
	// NeedsReview is set when the exercise's code uses means a forger needs; Review lists
	// them. Its criteria earn nothing until an instructor has looked (grader -reviewed).
	NeedsReview bool            `json:"needs_review"`
	Review      []ReviewFinding `json:"review,omitempty"`
	// Reviewed is set when the instructor accepted the findings with -reviewed.
	Reviewed bool `json:"reviewed,omitempty"`
	// Notes are neutral observations: shipped test files that were edited (the grader used
	// its own copies), the student's own test files, files left out.
	Notes   []string `json:"notes,omitempty"`
	NotesES []string `json:"notes_es,omitempty"`
	// Cached is set when the verdicts come from the grader's cache: nothing the grading
	// depends on changed since they were made.
	Cached     bool          `json:"cached,omitempty"`
	DurationMS int64         `json:"duration_ms"`
	Criteria   []Criterion   `json:"criteria"`
	Quality    []QualityItem `json:"quality"`
}

// ReviewFinding is one place in an exercise's code that needs an instructor's review.
type ReviewFinding struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Rule   string `json:"rule"`
	Text   string `json:"text"`
	TextES string `json:"text_es,omitempty"`
}

// Failure is one failed check of a criterion's test: a testify assertion or a t.Error line.
type Failure struct {
	// Test is the (sub)test it happened in: "TestStateMachine/open_rejects".
	Test     string `json:"test"`
	Location string `json:"location,omitempty"`
	Error    string `json:"error"`
	Messages string `json:"messages,omitempty"`
}

// Criterion is the outcome of one checklist criterion.
type Criterion struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	TitleES  string `json:"title_es"`
	Category string `json:"category"`
	Weight   int    `json:"weight"`
	Status   string `json:"status"`
	// Test is the test that decides the criterion (empty for one decided by the student's
	// own tests).
	Test string `json:"test"`
	// Kind is "student_tests" for a criterion decided by the student's own tests.
	Kind string `json:"kind,omitempty"`
	// Message is what the test printed when it did not pass (capped), or why the criterion
	// has its status; MessageES is set when the message is the grader's, in Spanish.
	Message   string `json:"message,omitempty"`
	MessageES string `json:"message_es,omitempty"`
	// TimeLimitMS is the time limit that ran out, for a criterion whose status is Timeout.
	TimeLimitMS int64 `json:"time_limit_ms,omitempty"`
	// FailedTests are the deepest subtests that failed; Failures their failed checks.
	FailedTests []string  `json:"failed_tests,omitempty"`
	Failures    []Failure `json:"failures,omitempty"`
	// Missed describes the wrong implementations the student's own tests did not catch.
	Missed   []string `json:"missed,omitempty"`
	MissedES []string `json:"missed_es,omitempty"`
	Hint     string   `json:"hint"`
	HintES   string   `json:"hint_es,omitempty"`
}

// QualityItem is one measured code-quality check of an exercise.
type QualityItem struct {
	Check     string `json:"check"`
	Status    string `json:"status"`
	Message   string `json:"message,omitempty"`
	MessageES string `json:"message_es,omitempty"`
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

// Write renders r to w in format f, in English.
func Write(w io.Writer, r *Report, f Format) error { return WriteIn(w, r, f, i18n.English) }

// WriteIn renders r to w in format f; the text and Markdown reports are written in l (JSON
// carries both languages, JUnit stays in English).
func WriteIn(w io.Writer, r *Report, f Format, l i18n.Lang) error {
	switch f {
	case Text:
		return writeText(w, r, l)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case Markdown:
		return writeMarkdown(w, r, l)
	case JUnit:
		return writeJUnit(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}
