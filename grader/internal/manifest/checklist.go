package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// The markers around the generated checklist in an exercise README.
const (
	ChecklistBegin = "<!-- criteria:begin -->"
	ChecklistEnd   = "<!-- criteria:end -->"
)

// ErrNoChecklist is returned when a README lacks the checklist markers.
var ErrNoChecklist = errors.New("README has no checklist markers")

// Checklist renders m's criteria as the Markdown checklist that the exercise README shows.
func (m *Manifest) Checklist() string {
	var b strings.Builder
	b.WriteString("| | Criterion | Criterio | Id | Category |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, c := range m.Criteria {
		fmt.Fprintf(&b, "| ☐ | %s | %s | `%s` | %s |\n", c.Title.EN, c.Title.ES, c.ID, c.Category)
	}
	return b.String()
}

// SyncReadme returns readme with the text between the checklist markers replaced by
// m.Checklist().
func (m *Manifest) SyncReadme(readme string) (string, error) {
	begin := strings.Index(readme, ChecklistBegin)
	end := strings.Index(readme, ChecklistEnd)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("%s: %w (%s … %s)", m.Dir, ErrNoChecklist, ChecklistBegin, ChecklistEnd)
	}
	head := readme[:begin+len(ChecklistBegin)]
	return head + "\n" + m.Checklist() + readme[end:], nil
}
