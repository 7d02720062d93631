package report

import (
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// Say sets the criterion's message to a sentence of the grader's, in both languages.
func (c *Criterion) Say(t i18n.Text) { c.Message, c.MessageES = t.EN, t.ES }

// Say sets the check's message to a sentence of the grader's, in both languages.
func (q *QualityItem) Say(t i18n.Text) { q.Message, q.MessageES = t.EN, t.ES }

// Warn adds a warning about the grading, in both languages.
func (r *Report) Warn(t i18n.Text) {
	r.Warnings, r.WarningsES = append(r.Warnings, t.EN), append(r.WarningsES, t.ES)
}

// Note adds a note about the checkout, in both languages.
func (r *Report) Note(t i18n.Text) {
	r.Notes, r.NotesES = append(r.Notes, t.EN), append(r.NotesES, t.ES)
}

// Note adds a note about the exercise, in both languages.
func (e *Exercise) Note(t i18n.Text) {
	e.Notes, e.NotesES = append(e.Notes, t.EN), append(e.NotesES, t.ES)
}

// Tamper adds a reason why the exercise is tampered, in both languages.
func (e *Exercise) Tamper(t i18n.Text) {
	e.Tampered = true
	e.TamperReasons, e.TamperReasonsES = append(e.TamperReasons, t.EN), append(e.TamperReasonsES, t.ES)
}

// Stop records the grader's account of what stopped the exercise, in both languages, in
// place of the build output.
func (e *Exercise) Stop(t i18n.Text) { e.BuildOutput, e.BuildOutputES = t.EN, t.ES }

// pick returns es in Spanish when there is one, else en.
func pick(l i18n.Lang, en, es string) string {
	if l == i18n.Spanish && es != "" {
		return es
	}
	return en
}

// pickAll returns es in Spanish when it matches en item for item, else en.
func pickAll(l i18n.Lang, en, es []string) []string {
	if l == i18n.Spanish && len(es) == len(en) {
		return es
	}
	return en
}

// StatusText names a status for a person.
func StatusText(status string) i18n.Text {
	switch status {
	case Met:
		return i18n.T("met")
	case Unmet:
		return i18n.T("unmet")
	case NotVerified:
		return i18n.T("not verified")
	case Error:
		return i18n.T("error")
	case Timeout:
		return i18n.T("timed out")
	case NeedsReview:
		return i18n.T("needs review")
	case NotCounted:
		return i18n.T("not counted")
	}
	return i18n.Plain(status)
}

// checkText names a code-quality check for a person.
func checkText(check string) i18n.Text {
	switch check {
	case "docs":
		return i18n.T("docs")
	case "todos":
		return i18n.T("todos")
	case "race":
		return i18n.T("race")
	}
	return i18n.Plain(check)
}

// Duration formats a duration for a person: to the millisecond under a second, to a tenth of
// a second under a minute, to the second above.
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
