package report

import (
	"io"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// WriteWatch renders the screen of watch mode, one next step on top: for each exercise, the
// compiler's first errors when it does not build, else its first unmet criterion with the
// failing subtest, its assertion, the hint and the command that reruns it; then the checklist,
// one line per criterion; then the score.
func WriteWatch(w io.Writer, r *Report, l i18n.Lang) error {
	tw := &textWriter{errWriter: &errWriter{w: w}, lang: l}
	for _, warn := range pickAll(l, r.Warnings, r.WarningsES) {
		tw.say("warning: %s\n", warn)
	}
	for i, ex := range r.Exercises {
		if i > 0 {
			tw.printf("\n")
		}
		tw.say("%s  %s  %d/%d met\n", ex.ID, pick(l, ex.Title, ex.TitleES), ex.Met(), len(ex.Criteria))
		if ex.Build != "ok" || ex.BuildOutputES != "" {
			writeBuild(tw, ex)
		}
		if next := nextStep(ex); next != nil && ex.Build == "ok" {
			tw.say("\n  next: %s %s (%s)\n", symbol(next.Status), pick(l, next.Title, next.TitleES), next.ID)
			writeCriterion(tw, ex, *next)
			tw.printf("\n")
		}
		for _, c := range ex.Criteria {
			tw.printf("  %s %s (%s)\n", symbol(c.Status), pick(l, c.Title, c.TitleES), c.ID)
		}
		writeQuality(tw, ex)
	}
	tw.say("\nTotal: %d/%d — %s\n", r.Score, r.MaxScore, pick(l, r.Band, r.BandES))
	return tw.err
}

// nextStep returns the first criterion of ex that the student can work on: not met, and not
// waiting on a program or a reviewer.
func nextStep(ex Exercise) *Criterion {
	for i, c := range ex.Criteria {
		switch c.Status {
		case Met, NotVerified, NeedsReview:
			continue
		}
		return &ex.Criteria[i]
	}
	return nil
}
