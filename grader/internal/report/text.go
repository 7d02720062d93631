package report

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
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

// textWriter renders a report as text in one language.
type textWriter struct {
	*errWriter
	lang i18n.Lang
}

// say writes the catalog message format in the writer's language.
func (tw *textWriter) say(format string, args ...any) {
	tw.printf("%s", i18n.S(tw.lang, format, args...))
}

func writeText(w io.Writer, r *Report, l i18n.Lang) error {
	tw := &textWriter{errWriter: &errWriter{w: w}, lang: l}
	tw.say("Grading %s (sandbox: %s)\n", pick(l, r.Target, r.TargetES), r.Sandbox)
	for _, warn := range pickAll(l, r.Warnings, r.WarningsES) {
		tw.say("warning: %s\n", warn)
	}
	for _, n := range pickAll(l, r.Notes, r.NotesES) {
		tw.say("note: %s\n", n)
	}
	for _, ex := range r.Exercises {
		tw.printf("\n")
		WriteExercise(tw.errWriter, ex, l)
	}
	tw.printf("\n")
	writeRubric(tw, r)
	return tw.err
}

// WriteExercise renders one exercise of a text report: its heading, notes and build, the
// checklist with what to do about each unmet criterion, and its code-quality checks.
func WriteExercise(w io.Writer, ex Exercise, l i18n.Lang) {
	tw := &textWriter{errWriter: asErrWriter(w), lang: l}
	cached := ""
	if ex.Cached {
		cached = i18n.S(l, "  (cached: nothing it depends on changed)")
	}
	build := i18n.T("ok")
	if ex.Build != "ok" {
		build = i18n.T("failed")
	}
	tw.say("%s  %s (%s)  build %s  %d/%d met  %s%s\n", ex.ID, pick(l, ex.Title, ex.TitleES), ex.Dir, build,
		ex.Met(), len(ex.Criteria), Duration(time.Duration(ex.DurationMS)*time.Millisecond), cached)
	if ex.Tampered {
		tw.say("  TAMPERED: this exercise earns no criterion:\n")
		for _, why := range pickAll(l, ex.TamperReasons, ex.TamperReasonsES) {
			tw.printf("    - %s\n", why)
		}
	}
	if ex.NeedsReview {
		if ex.Reviewed {
			tw.say("  Reviewed: the instructor accepted these uses:\n")
		} else {
			tw.say("  NEEDS REVIEW: the code uses means that could forge a grade; it earns nothing until an instructor\n  has looked (then: grader -reviewed %s). Remove them if you can:\n", ex.ID)
		}
		for _, f := range ex.Review {
			tw.printf("    - %s:%d: %s\n", f.File, f.Line, pick(l, f.Text, f.TextES))
		}
	}
	for _, n := range pickAll(l, ex.Notes, ex.NotesES) {
		tw.say("  note: %s\n", n)
	}
	writeBuild(tw, ex)
	for _, c := range ex.Criteria {
		if l == i18n.Spanish {
			tw.printf("  %s %s (%s)\n", symbol(c.Status), c.TitleES, c.ID)
		} else {
			tw.printf("  %s %s — %s (%s)\n", symbol(c.Status), c.Title, c.TitleES, c.ID)
		}
		// When the exercise does not build, the compiler's errors above are the one thing to
		// act on: a line per criterion would only repeat them.
		if c.Status == Met || ex.Build != "ok" && c.Status == Error {
			continue
		}
		writeCriterion(tw, ex, c)
	}
	writeQuality(tw, ex)
}

// writeBuild shows why an exercise did not build, or what stopped it: the compiler's first
// errors, each with its file and line, or the grader's own account.
func writeBuild(tw *textWriter, ex Exercise) {
	switch {
	case ex.BuildOutputES != "":
		tw.printf("  %s\n", pick(tw.lang, ex.BuildOutput, ex.BuildOutputES))
	case ex.Build != "ok" && ex.BuildOutput != "":
		errs, more := CompilerErrors(ex.BuildOutput, 5)
		tw.say("  build failed; the compiler says:\n")
		tw.printf("%s\n", indent(strings.Join(errs, "\n"), "    | "))
		if more > 0 {
			tw.say("    … and %d more\n", more)
		}
		tw.say("  nothing of this exercise is graded until it builds; go vet ./%s/ lists every error\n", ex.Dir)
	case ex.BuildOutput != "":
		tw.printf("  %s\n", ex.BuildOutput)
	}
}

func writeQuality(tw *textWriter, ex Exercise) {
	if len(ex.Quality) == 0 {
		return
	}
	var q []string
	for _, it := range ex.Quality {
		q = append(q, symbol(it.Status)+" "+checkText(it.Check).In(tw.lang))
	}
	tw.say("  code quality: %s\n", strings.Join(q, "  "))
	for _, it := range ex.Quality {
		if it.Status != Met && it.Message != "" {
			tw.printf("      %s: %s\n", checkText(it.Check).In(tw.lang), pick(tw.lang, it.Message, it.MessageES))
		}
	}
}

func writeRubric(tw *textWriter, r *Report) {
	l := tw.lang
	tw.say("Rubric\n")
	tab := tabwriter.NewWriter(tw.errWriter, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tab, "  %s\n", i18n.S(l, "Category\tLevel\tWeight met\tThe rubric says"))
	for _, c := range r.Rubric {
		level, says := "—", ""
		if c.Level > 0 {
			level = fmt.Sprintf("%d/4", c.Level)
		}
		if c.Descriptor != "" {
			says = c.Descriptor + " / " + c.DescriptorES
			if l == i18n.Spanish {
				says = c.DescriptorES
			}
			if capped := pick(l, c.Capped, c.CappedES); capped != "" {
				says += " (" + capped + ")"
			}
		}
		fmt.Fprintf(tab, "  %s\t%s\t%d/%d\t%s\n", pick(l, c.Title, c.TitleES), level, c.Met, c.Total, says)
	}
	if err := tab.Flush(); err != nil && tw.err == nil {
		tw.err = err
	}
	tw.say("\nTotal: %d/%d — %s\n", r.Score, r.MaxScore, pick(l, r.Band, r.BandES))
	if len(r.NotVerified) > 0 {
		tw.say("Not verified here, left out of the score: %s\n", strings.Join(r.NotVerified, ", "))
	}
}

// writeCriterion shows why a criterion is not met: what failed, where, the test's own
// explanation, the hint, and the command that runs just that test again.
func writeCriterion(tw *textWriter, ex Exercise, c Criterion) {
	l := tw.lang
	what := c.Test
	if c.Kind == "student_tests" {
		what = i18n.S(l, "your own tests")
	}
	if n := len(c.FailedTests); n > 0 {
		what = c.FailedTests[0]
		switch {
		case n == 2:
			what += i18n.S(l, " (and 1 more subtest)")
		case n > 2:
			what += i18n.S(l, " (and %d more subtests)", n-1)
		}
	}
	tw.printf("      %s: %s\n", StatusText(c.Status).In(l), what)
	switch {
	case c.Status == Timeout && c.TimeLimitMS > 0:
		tw.say("      the test was stopped after %s (the grader's -test-timeout): look for a call that blocks or a loop that never ends\n",
			time.Duration(c.TimeLimitMS)*time.Millisecond)
	case c.MessageES != "":
		tw.printf("%s\n", indent(pick(l, c.Message, c.MessageES), "      "))
	}
	switch {
	case c.Status == Timeout && c.TimeLimitMS > 0 && len(c.Failures) == 0:
		// The binary's own account of the timeout is a goroutine dump: the subtest that hung
		// is named above.
	case len(c.Failures) > 0:
		shown := firstFailures(c, 2)
		for _, f := range shown {
			tw.printf("%s\n", indent(FailureText(f, 4), "      | "))
		}
		switch more := len(c.Failures) - len(shown); {
		case more == 1:
			tw.say("      … and 1 more failed check\n")
		case more > 1:
			tw.say("      … and %d more failed checks\n", more)
		}
	case ex.Build == "ok" && c.Message != "" && c.MessageES == "":
		tw.printf("%s\n", indent(Summary(c.Message, 6), "      | "))
	}
	for i, m := range pickAll(l, c.Missed, c.MissedES) {
		if i == 0 {
			tw.say("      your tests did not notice:\n")
		}
		tw.printf("        - %s\n", m)
	}
	if hint := pick(l, c.Hint, c.HintES); hint != "" {
		tw.say("      hint: %s\n", hint)
	}
	if cmd := Rerun(ex.Dir, c); cmd != "" && ex.Build == "ok" && c.Status != NotVerified {
		tw.say("      run it: %s\n", cmd)
	}
}

// firstFailures returns up to n of the criterion's failures, those of its first failed
// subtest first: the one the rerun command runs.
func firstFailures(c Criterion, n int) []Failure {
	var first, rest []Failure
	for _, f := range c.Failures {
		if len(c.FailedTests) > 0 && f.Test == c.FailedTests[0] {
			first = append(first, f)
		} else {
			rest = append(rest, f)
		}
	}
	all := append(first, rest...)
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// compilerError matches a compiler message: file.go:line[:col]: text.
var compilerError = regexp.MustCompile(`^\S+\.go:[0-9]+(:[0-9]+)?: `)

// CompilerErrors returns the first n errors of a go command's build output, each with its file
// and line, and how many more there are. Output that has none (a module or link error) gives
// its first n informative lines.
func CompilerErrors(out string, n int) (errs []string, more int) {
	var all []string
	for _, line := range strings.Split(out, "\n") {
		if compilerError.MatchString(strings.TrimSpace(line)) {
			all = append(all, strings.TrimSpace(line))
		}
	}
	if len(all) == 0 {
		for _, line := range strings.Split(Summary(out, n+1), "\n") {
			if !strings.HasPrefix(line, "# ") {
				all = append(all, line)
			}
		}
		if len(all) > n {
			all = all[:n]
		}
		return all, 0
	}
	if len(all) > n {
		return all[:n], len(all) - n
	}
	return all, 0
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

func asErrWriter(w io.Writer) *errWriter {
	if ew, ok := w.(*errWriter); ok {
		return ew
	}
	return &errWriter{w: w}
}
