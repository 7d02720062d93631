package report

import (
	"fmt"
	"io"
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
	}
	return "❌"
}

func writeText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("Grading %s\n", r.Target)
	for _, warn := range r.Warnings {
		ew.printf("warning: %s\n", warn)
	}
	for _, ex := range r.Exercises {
		ew.printf("\n%s  %s (%s)  build %s  %d/%d met  %s\n", ex.ID, ex.Title, ex.Dir, ex.Build,
			ex.Met(), len(ex.Criteria), time.Duration(ex.DurationMS)*time.Millisecond)
		if ex.Tampered {
			ew.printf("  TAMPERED: this exercise earns no criterion:\n")
			for _, why := range ex.TamperReasons {
				ew.printf("    - %s\n", why)
			}
		}
		if ex.Build != "ok" && ex.BuildOutput != "" {
			ew.printf("  build output:\n%s\n", indent(Summary(ex.BuildOutput, 12), "    "))
		}
		for _, c := range ex.Criteria {
			ew.printf("  %s %s — %s (%s)\n", symbol(c.Status), c.Title, c.TitleES, c.ID)
			if c.Status == Met {
				continue
			}
			ew.printf("      %s: %s\n", c.Status, c.Test)
			if c.Hint != "" {
				ew.printf("      hint: %s\n", c.Hint)
			}
			if s := Summary(c.Message, 6); s != "" && ex.Build == "ok" {
				ew.printf("%s\n", indent(s, "      | "))
			}
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
	fmt.Fprintf(tw, "  Category\tLevel\tWeight met\n")
	for _, c := range r.Rubric {
		level := "—"
		if c.Level > 0 {
			level = fmt.Sprintf("%d/4", c.Level)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d/%d\n", c.Title, level, c.Met, c.Total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("\nTotal: %d/%d — %s\n", r.Score, r.MaxScore, r.Band)
	if len(r.NotVerified) > 0 {
		ew.printf("Not verified here (a program they need is missing), left out of the score: %s\n", strings.Join(r.NotVerified, ", "))
	}
	return ew.err
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
