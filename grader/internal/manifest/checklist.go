package manifest

import (
	"errors"
	"fmt"
	"regexp"
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

// ChecklistES renders m's criteria as the Spanish checklist that README.es.md shows.
func (m *Manifest) ChecklistES() string {
	var b strings.Builder
	b.WriteString("| | Criterio | Id | Categoría |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, c := range m.Criteria {
		_, category := c.Category.Names()
		fmt.Fprintf(&b, "| ☐ | %s | `%s` | %s |\n", c.Title.ES, c.ID, category)
	}
	return b.String()
}

// SyncReadme returns readme with the text between the checklist markers replaced by
// m.Checklist().
func (m *Manifest) SyncReadme(readme string) (string, error) { return m.sync(readme, m.Checklist()) }

// SyncReadmeES returns the Spanish readme with the text between the checklist markers
// replaced by m.ChecklistES().
func (m *Manifest) SyncReadmeES(readme string) (string, error) {
	return m.sync(readme, m.ChecklistES())
}

func (m *Manifest) sync(readme, checklist string) (string, error) {
	begin := strings.Index(readme, ChecklistBegin)
	end := strings.Index(readme, ChecklistEnd)
	if begin < 0 || end < begin {
		return "", fmt.Errorf("%s: %w (%s … %s)", m.Dir, ErrNoChecklist, ChecklistBegin, ChecklistEnd)
	}
	head := readme[:begin+len(ChecklistBegin)]
	return head + "\n" + checklist + readme[end:], nil
}

// ChecklistIDs returns the criterion ids of the checklist between the markers of readme, in
// order.
func ChecklistIDs(readme string) []string {
	begin := strings.Index(readme, ChecklistBegin)
	end := strings.Index(readme, ChecklistEnd)
	if begin < 0 || end < begin {
		return nil
	}
	var ids []string
	for _, line := range strings.Split(readme[begin:end], "\n") {
		if m := checklistID.FindStringSubmatch(line); m != nil {
			ids = append(ids, m[1])
		}
	}
	return ids
}

var checklistID = regexp.MustCompile("^\\|.*\\| `(ex[0-9]{2}\\.[a-z0-9-]+)` \\|")
