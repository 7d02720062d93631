package report

import (
	"io"
	"strings"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

func writeMarkdown(w io.Writer, r *Report, l i18n.Lang) error {
	tw := &textWriter{errWriter: &errWriter{w: w}, lang: l}
	tw.say("## Workbook grade: %d/%d — %s\n\n", r.Score, r.MaxScore, pick(l, r.Band, r.BandES))
	tw.say("Graded: %s (sandbox: %s)\n\n", pick(l, r.Target, r.TargetES), r.Sandbox)
	for _, warn := range pickAll(l, r.Warnings, r.WarningsES) {
		tw.say("> **Warning:** %s\n\n", warn)
	}
	for _, n := range pickAll(l, r.Notes, r.NotesES) {
		tw.say("> Note: %s\n\n", n)
	}
	tw.say("| Category | Level | Weight met | The rubric says |\n")
	tw.printf("|---|---|---|---|\n")
	for _, c := range r.Rubric {
		level, says := "—", ""
		if c.Level > 0 {
			level = strings.Repeat("★", c.Level) + strings.Repeat("☆", 4-c.Level)
		}
		if c.Descriptor != "" {
			says = c.Descriptor + " / " + c.DescriptorES
			if l == i18n.Spanish {
				says = c.DescriptorES
			}
		}
		tw.printf("| %s | %s | %d/%d | %s |\n", pick(l, c.Title, c.TitleES), level, c.Met, c.Total, says)
	}
	for _, ex := range r.Exercises {
		build := i18n.T("ok")
		if ex.Build != "ok" {
			build = i18n.T("failed")
		}
		tw.say("\n### %s %s — %d/%d met (build %s)\n\n", ex.ID, pick(l, ex.Title, ex.TitleES), ex.Met(), len(ex.Criteria), build)
		if ex.Tampered {
			tw.say("**Tampered** — this exercise earns no criterion:\n\n")
			for _, why := range pickAll(l, ex.TamperReasons, ex.TamperReasonsES) {
				tw.printf("- %s\n", why)
			}
			tw.printf("\n")
		}
		if ex.NeedsReview && !ex.Reviewed {
			tw.say("**Needs review** — the code uses means that could forge a grade; it earns nothing until an instructor has looked:\n\n")
			for _, f := range ex.Review {
				tw.printf("- `%s:%d`: %s\n", f.File, f.Line, pick(l, f.Text, f.TextES))
			}
			tw.printf("\n")
		}
		for _, c := range ex.Criteria {
			tw.printf("- %s **%s** (`%s`)", symbol(c.Status), pick(l, c.Title, c.TitleES), c.ID)
			if c.Status != Met {
				tw.printf(" — %s: %s", StatusText(c.Status).In(l), pick(l, c.Hint, c.HintES))
				for i, f := range c.Failures {
					if i == 2 {
						break
					}
					tw.printf("\n  ```\n%s\n  ```", indent(FailureText(f, 4), "  "))
				}
				for _, m := range pickAll(l, c.Missed, c.MissedES) {
					tw.say("\n  - your tests did not notice: %s", m)
				}
			}
			tw.printf("\n")
		}
		var q []string
		for _, it := range ex.Quality {
			q = append(q, symbol(it.Status)+" "+checkText(it.Check).In(l))
		}
		if len(q) > 0 {
			tw.say("\nCode quality: %s\n", strings.Join(q, " · "))
		}
		switch {
		case ex.BuildOutputES != "":
			tw.printf("\n%s\n", pick(l, ex.BuildOutput, ex.BuildOutputES))
		case ex.Build != "ok" && ex.BuildOutput != "":
			errs, _ := CompilerErrors(ex.BuildOutput, 10)
			tw.say("\n<details><summary>Build output</summary>\n\n```\n%s\n```\n</details>\n", strings.Join(errs, "\n"))
		}
	}
	if len(r.NotVerified) > 0 {
		tw.say("\nNot verified here: %s\n", strings.Join(r.NotVerified, ", "))
	}
	return tw.err
}
