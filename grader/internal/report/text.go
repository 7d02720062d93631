package report

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
)

// symbol returns the checklist mark for a status. The marks read the same with or without colour.
func symbol(status string) string {
	switch status {
	case Met:
		return "✅"
	case NotVerified:
		return "⚪"
	case Timeout:
		return "⏱️"
	case NotCounted:
		return "➖"
	case NeedsReview:
		return "🔍"
	}
	return "❌"
}

func writeText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("Grading %s (sandbox: %s)\n", r.Target, r.Sandbox)
	for _, warn := range r.Warnings {
		ew.printf("warning: %s\n", warn)
	}
	for _, n := range r.Notes {
		ew.printf("note: %s\n", n)
	}
	for _, ex := range r.Exercises {
		cached := ""
		if ex.Cached {
			cached = "  (cached: nothing it depends on changed)"
		}
		ew.printf("\n%s  %s (%s)  build %s  %d/%d met  %s%s\n", ex.ID, ex.Title, ex.Dir, ex.Build,
			ex.Met(), len(ex.Criteria), time.Duration(ex.DurationMS)*time.Millisecond, cached)
		if ex.Tampered {
			ew.printf("  TAMPERED: this exercise earns no criterion:\n")
			for _, why := range ex.TamperReasons {
				ew.printf("    - %s\n", why)
			}
		}
		if ex.NeedsReview {
			if ex.Reviewed {
				ew.printf("  Reviewed: the instructor accepted these uses:\n")
			} else {
				ew.printf("  NEEDS REVIEW: the code uses means that could forge a grade; it earns nothing until an instructor\n  has looked (then: grader -reviewed %s). Remove them if you can:\n", ex.ID)
			}
			for _, f := range ex.Review {
				ew.printf("    - %s:%d: %s\n", f.File, f.Line, f.Text)
			}
		}
		for _, n := range ex.Notes {
			ew.printf("  note: %s\n", n)
		}
		if ex.Build != "ok" && ex.BuildOutput != "" {
			ew.printf("  build output:\n%s\n", indent(Summary(ex.BuildOutput, 12), "    "))
		} else if ex.BuildOutput != "" {
			ew.printf("  %s\n", ex.BuildOutput)
		}
		for _, c := range ex.Criteria {
			ew.printf("  %s %s — %s (%s)\n", symbol(c.Status), c.Title, c.TitleES, c.ID)
			if c.Status == Met {
				continue
			}
			writeCriterion(ew, ex, c)
		}
		var q []string
		for _, it := range ex.Quality {
			q = append(q, symbol(it.Status)+" "+it.Check)
		}
		ew.printf("  code quality: %s\n", strings.Join(q, "  "))
		for _, it := range ex.Quality {
			if it.Status != Met && it.Message != "" {
				ew.printf("      %s: %s\n", it.Check, it.Message)
			}
		}
	}
	ew.printf("\nRubric\n")
	tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  Category\tLevel\tWeight met\tThe rubric says\n")
	for _, c := range r.Rubric {
		level, says := "—", ""
		if c.Level > 0 {
			level = fmt.Sprintf("%d/4", c.Level)
		}
		if c.Descriptor != "" {
			says = c.Descriptor + " / " + c.DescriptorES
			if c.Capped != "" {
				says += " (" + c.Capped + ")"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d/%d\t%s\n", c.Title, level, c.Met, c.Total, says)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("\nTotal: %d/%d — %s\n", r.Score, r.MaxScore, r.Band)
	if len(r.NotVerified) > 0 {
		ew.printf("Not verified here, left out of the score: %s\n", strings.Join(r.NotVerified, ", "))
	}
	return ew.err
}

// writeCriterion shows why a criterion is not met: what failed, where, the test's own
// explanation, the hint, and the command that runs just that test again.
func writeCriterion(ew *errWriter, ex Exercise, c Criterion) {
	what := c.Test
	if c.Kind == "student_tests" {
		what = "your own tests"
	}
	if len(c.FailedTests) > 0 {
		what = strings.Join(c.FailedTests, ", ")
	}
	ew.printf("      %s: %s\n", c.Status, what)
	switch {
	case len(c.Failures) > 0:
		for i, f := range c.Failures {
			if i == 3 {
				ew.printf("      … and %d more\n", len(c.Failures)-3)
				break
			}
			ew.printf("%s\n", indent(FailureText(f, 4), "      | "))
		}
	case ex.Build == "ok" && c.Message != "":
		ew.printf("%s\n", indent(Summary(c.Message, 6), "      | "))
	}
	for i, m := range c.Missed {
		if i == 0 {
			ew.printf("      your tests did not notice:\n")
		}
		ew.printf("        - %s\n", m)
	}
	if c.Hint != "" {
		ew.printf("      hint: %s\n", c.Hint)
	}
	if cmd := Rerun(ex.Dir, c); cmd != "" && ex.Build == "ok" && c.Status != NotVerified {
		ew.printf("      run it: %s\n", cmd)
	}
}

// FailureText renders a failure in at most n lines: location, the error, the test's message.
func FailureText(f Failure, n int) string {
	var lines []string
	head := f.Location
	if head != "" {
		head += ": "
	}
	errLines := strings.Split(strings.TrimSpace(f.Error), "\n")
	lines = append(lines, head+errLines[0])
	if f.Messages != "" {
		lines = append(lines, "  "+firstLines(f.Messages, 2))
	}
	for _, l := range errLines[1:] {
		if len(lines) >= n {
			break
		}
		lines = append(lines, "  "+l)
	}
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n  ")
}

// Rerun returns the go test command that runs the criterion's test (its first failed subtest
// when there is one) in the graded directory.
func Rerun(dir string, c Criterion) string {
	if c.Test == "" {
		return ""
	}
	name := c.Test
	if len(c.FailedTests) > 0 {
		name = c.FailedTests[0]
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		parts = append(parts, "^"+regexp.QuoteMeta(p)+"$")
	}
	return fmt.Sprintf("go test ./%s/ -run '%s'", dir, strings.ReplaceAll(strings.Join(parts, "/"), "'", `'\''`))
}

// Summary returns the first n informative lines of a test's output: the framing lines of the
// testing package are left out.
func Summary(out string, n int) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- FAIL") ||
			strings.HasPrefix(trimmed, "--- PASS") || trimmed == "FAIL" {
			continue
		}
		keep = append(keep, strings.TrimRight(line, " \t\r"))
		if len(keep) == n {
			break
		}
	}
	return strings.Join(keep, "\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// errWriter remembers the first write error so that rendering code can stay linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
