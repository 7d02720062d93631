package report

import (
	"io"
	"strings"
)

func writeMarkdown(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("## Workbook grade: %d/%d — %s\n\n", r.Score, r.MaxScore, r.Band)
	ew.printf("Graded: %s\n\n", r.Target)
	for _, warn := range r.Warnings {
		ew.printf("> **Warning:** %s\n\n", warn)
	}
	ew.printf("| Category | Level | Weight met |\n|---|---|---|\n")
	for _, c := range r.Rubric {
		level := "—"
		if c.Level > 0 {
			level = strings.Repeat("★", c.Level) + strings.Repeat("☆", 4-c.Level)
		}
		ew.printf("| %s | %s | %d/%d |\n", c.Title, level, c.Met, c.Total)
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
		for _, c := range ex.Criteria {
			ew.printf("- %s **%s** (`%s`)", symbol(c.Status), c.Title, c.ID)
			if c.Status != Met {
				ew.printf(" — %s: %s", c.Status, c.Hint)
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
		ew.printf("\nNot verified here (a program they need is missing): %s\n", strings.Join(r.NotVerified, ", "))
	}
	return ew.err
}
