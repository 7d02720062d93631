// Package export writes the student edition of the workbook: the repository a class receives.
// It holds the exercises, the grader, the README and the CI workflow, and nothing that reveals a
// solution: no solutions/, no mutants, none of the grader's own tests and test data (they are
// built on the solutions), and a reference.go that embeds nothing, so that the edition's grader
// reports the criteria graded on the student's own tests as not verified.
//
// What goes in is decided by an allowlist of the workbook's layout (Included), so that a file
// added upstream stays out of the edition until the list names it.
package export

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Options configure an export.
type Options struct {
	// Root is the module root of the full workbook.
	Root string
	// Dest is the directory the edition is written to: it must not exist, or be empty, and
	// must not be inside Root.
	Dest string
	// GraderRepository is the GitHub repository ("owner/name") from which the edition's
	// workflow builds the trusted grader: the upstream workbook, or an instructor's copy.
	// Default DefaultGraderRepository.
	GraderRepository string
	// GraderRef is the tag or commit of GraderRepository that the workflow builds the grader
	// from. Required: the workflow's grader is pinned.
	GraderRef string
}

// DefaultGraderRepository is the upstream workbook's repository.
const DefaultGraderRepository = "microservices-workbook/workbook"

// Result says what an export wrote.
type Result struct {
	// Files are the edition's files, with slash paths from its root, sorted.
	Files []string
	// Omitted are the workbook's files left out, sorted.
	Omitted []string
}

// ErrUsage wraps a problem with the options.
var ErrUsage = errors.New("export")

var (
	exercisePattern = regexp.MustCompile(`^ex[0-9]{2}-[a-z0-9-]+$`)
	repoPattern     = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	refPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
)

// The files the edition adds or replaces, from edition/: its workflow, the Gradescope scripts,
// its reference.go and .gitignore.
//
//go:embed all:edition
var editionFiles embed.FS

// Included reports whether a file of the full workbook (a slash path from its root) goes into
// the edition as it is, or transformed (Markdown). The exercises, the grader's code, the code
// generators' module, the module files and the pristine test files go in; the solutions, the
// mutants and the grader's tests and test data, the workbook's own CI and the contributors'
// guide stay out, and so does anything this list does not name.
func Included(name string) bool {
	top, rest, nested := strings.Cut(name, "/")
	switch {
	case !nested:
		switch top {
		case "go.mod", "go.sum", "pristine.go", "README.md", "README.es.md", "LICENSE", "LICENSE.md":
			return true
		}
		return false
	case exercisePattern.MatchString(top):
		return true
	case top == "grader":
		if strings.HasSuffix(name, "_test.go") {
			return false
		}
		for _, part := range strings.Split(rest, "/") {
			if part == "testdata" {
				return false
			}
		}
		return true
	case top == "tools":
		return true
	}
	return false
}

// Export writes the edition.
func Export(ctx context.Context, opts Options) (*Result, error) {
	if opts.GraderRepository == "" {
		opts.GraderRepository = DefaultGraderRepository
	}
	if !repoPattern.MatchString(opts.GraderRepository) {
		return nil, fmt.Errorf("%w: the grader's repository %q is not owner/name", ErrUsage, opts.GraderRepository)
	}
	if opts.GraderRef == "" {
		return nil, fmt.Errorf("%w: name the tag or commit the edition's workflow builds its grader from", ErrUsage)
	}
	if !refPattern.MatchString(opts.GraderRef) {
		return nil, fmt.Errorf("%w: %q is not a tag, branch or commit name", ErrUsage, opts.GraderRef)
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	dest, err := filepath.Abs(opts.Dest)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(root, dest); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("%w: write the edition outside the workbook (%s is inside %s)", ErrUsage, dest, root)
	}
	if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s is not empty", ErrUsage, dest)
	}

	names, err := listFiles(ctx, root)
	if err != nil {
		return nil, err
	}
	added, err := editionContent(opts)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	write := func(name string, data []byte, mode fs.FileMode) error {
		p := filepath.Join(dest, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		res.Files = append(res.Files, name)
		return os.WriteFile(p, data, mode)
	}
	for _, name := range names {
		if _, replaced := added[name]; replaced || !Included(name) {
			res.Omitted = append(res.Omitted, name)
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		info, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // listed by git, deleted in the working tree
			}
			return nil, err
		}
		if !info.Mode().IsRegular() {
			res.Omitted = append(res.Omitted, name)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(name, ".md") {
			if data, err = EditionMarkdown(data); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		if err := write(name, data, info.Mode().Perm()|0o644); err != nil {
			return nil, err
		}
	}
	for name, f := range added {
		if err := write(name, f.data, f.mode); err != nil {
			return nil, err
		}
	}
	sort.Strings(res.Files)
	sort.Strings(res.Omitted)
	return res, nil
}

// listFiles returns the workbook's files: when root is a git checkout, those git tracks or
// would track (what .gitignore leaves out, such as built programs, is not exported); else
// every file under root.
func listFiles(ctx context.Context, root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, ".git")); err == nil {
		cmd := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("listing the workbook's files with git ls-files: %w", err)
		}
		var names []string
		for _, n := range strings.Split(string(out), "\x00") {
			if n != "" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return names, nil
	}
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	return names, err
}

// renamed maps the edition's files that cannot have their name in the grader's tree: a Go
// file would be built into the grader, a .gitignore would apply to the grader's tree.
var renamed = map[string]string{
	"reference.go.txt": "reference.go",
	"gitignore.txt":    ".gitignore",
}

type file struct {
	data []byte
	mode fs.FileMode
}

// The lines of the workflow that name the trusted grader; Export pins them.
const (
	repositoryLine = "  WORKBOOK_GRADER_REPOSITORY: "
	refLine        = "  WORKBOOK_GRADER_REF: "
)

// editionContent returns the files the edition adds or replaces, by path.
func editionContent(opts Options) (map[string]file, error) {
	out := map[string]file{}
	err := fs.WalkDir(editionFiles, "edition", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := editionFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "edition/")
		mode := fs.FileMode(0o644)
		if path.Dir(name) == "gradescope" && !strings.HasSuffix(name, ".md") {
			mode = 0o755
		}
		if to, ok := renamed[name]; ok {
			name = to
		}
		if strings.HasPrefix(name, ".github/workflows/") {
			if data, err = pin(data, opts); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		out[name] = file{data, mode}
		return nil
	})
	return out, err
}

// pin writes the grader's repository and ref into a workflow.
func pin(data []byte, opts Options) ([]byte, error) {
	var found [2]bool
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, repositoryLine):
			lines[i], found[0] = repositoryLine+opts.GraderRepository, true
		case strings.HasPrefix(l, refLine):
			lines[i], found[1] = refLine+opts.GraderRef, true
		}
	}
	if !found[0] || !found[1] {
		return nil, errors.New("the workflow does not name its grader's repository and ref")
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// The markers of a Markdown file's parts that differ between the workbook and its edition. A
// part between upstreamBegin and upstreamEnd lines is the workbook's only: the edition drops
// it. A part between editionBegin and editionEnd lines is an HTML comment in the workbook (so
// not shown) and plain text in the edition.
const (
	upstreamBegin = "<!-- upstream:begin -->"
	upstreamEnd   = "<!-- upstream:end -->"
	editionBegin  = "<!-- edition:begin"
	editionEnd    = "edition:end -->"
)

// EditionMarkdown returns the edition's text of a Markdown file of the workbook.
func EditionMarkdown(src []byte) ([]byte, error) {
	var out bytes.Buffer
	state := ""
	for i, line := range strings.SplitAfter(string(src), "\n") {
		marker := strings.TrimSpace(line)
		switch marker {
		case upstreamBegin, editionBegin:
			if state != "" {
				return nil, fmt.Errorf("line %d: %s inside another marked part", i+1, marker)
			}
			state = marker
			continue
		case upstreamEnd, editionEnd:
			if (marker == upstreamEnd) != (state == upstreamBegin) || state == "" {
				return nil, fmt.Errorf("line %d: %s does not close a marked part", i+1, marker)
			}
			state = ""
			continue
		}
		if state != upstreamBegin {
			out.WriteString(line)
		}
	}
	if state != "" {
		return nil, fmt.Errorf("%s is not closed", state)
	}
	return out.Bytes(), nil
}
