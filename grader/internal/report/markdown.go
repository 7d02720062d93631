package report

import (
	"io"
	"strings"
)

func writeMarkdown(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("## Workbook grade: %d/%d — %s\n\n", r.Score, r.MaxScore, r.Band)
	ew.printf("Graded: %s (sandbox: %s)\n\n", r.Target, r.Sandbox)
	for _, warn := range r.Warnings {
		ew.printf("> **Warning:** %s\n\n", warn)
	}
	for _, n := range r.Notes {
		ew.printf("> Note: %s\n\n", n)
	}
	ew.printf("| Category | Level | Weight met | The rubric says |\n|---|---|---|---|\n")
	for _, c := range r.Rubric {
		level, says := "—", ""
		if c.Level > 0 {
			level = strings.Repeat("★", c.Level) + strings.Repeat("☆", 4-c.Level)
		}
		if c.Descriptor != "" {
			says = c.Descriptor + " / " + c.DescriptorES
		}
		ew.printf("| %s | %s | %d/%d | %s |\n", c.Title, level, c.Met, c.Total, says)
	}
	for _, ex := range r.Exercises {
		ew.printf("\n### %s %s — %d/%d met (build %s)\n\n", ex.ID, ex.Title, ex.Met(), len(ex.Criteria), ex.Build)
		if ex.Tampered {
			ew.printf("**Tampered** — this exercise earns no criterion:\n\n")
			for _, why := range ex.TamperReasons {
				ew.printf("- %s\n", why)
			}
			ew.printf("\n")
		}
		if ex.NeedsReview && !ex.Reviewed {
			ew.printf("**Needs review** — the code uses means that could forge a grade; it earns nothing until an instructor has looked:\n\n")
			for _, f := range ex.Review {
				ew.printf("- `%s:%d`: %s\n", f.File, f.Line, f.Text)
			}
			ew.printf("\n")
		}
		for _, c := range ex.Criteria {
			ew.printf("- %s **%s** (`%s`)", symbol(c.Status), c.Title, c.ID)
			if c.Status != Met {
				ew.printf(" — %s: %s", c.Status, c.Hint)
				for i, f := range c.Failures {
					if i == 2 {
						break
					}
					ew.printf("\n  ```\n%s\n  ```", indent(FailureText(f, 4), "  "))
				}
				for _, m := range c.Missed {
					ew.printf("\n  - your tests did not notice: %s", m)
				}
			}
			ew.printf("\n")
		}
		var q []string
		for _, it := range ex.Quality {
			q = append(q, symbol(it.Status)+" "+it.Check)
		}
		ew.printf("\nCode quality: %s\n", strings.Join(q, " · "))
		if ex.Build != "ok" && ex.BuildOutput != "" {
			ew.printf("\n<details><summary>Build output</summary>\n\n```\n%s\n```\n</details>\n", Summary(ex.BuildOutput, 20))
		}
	}
	if len(r.NotVerified) > 0 {
		ew.printf("\nNot verified here: %s\n", strings.Join(r.NotVerified, ", "))
	}
	return ew.err
}
