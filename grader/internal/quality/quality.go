// Package quality measures the code quality of an exercise's own (non-test) Go files: gofmt,
// doc comments on exported names and TODOs left. go vet and the race detector are run by the
// grader, which reports them next to these.
package quality

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"regexp"
	"strings"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// Finding is the result of one check: OK, or what is wrong (in English and Spanish).
type Finding struct {
	OK      bool
	Message i18n.Text
}

// Report holds the findings of the checks run over a set of files.
type Report struct {
	Gofmt Finding
	Docs  Finding
	TODOs Finding
}

// Check runs the gofmt, doc-comment and TODO checks over the Go files among files. The files
// the workbook generates (generated, by path) answer to their generator and are left out; a
// "Code generated" comment in any other file changes nothing.
func Check(files []workspace.File, generated map[string]bool) Report {
	var unformatted, undocumented, todos []i18n.Text
	fset := token.NewFileSet()
	for _, file := range files {
		name, src := file.Path, file.Data
		if !strings.HasSuffix(name, ".go") || generated[name] {
			continue
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			unformatted = append(unformatted, i18n.T("%s (does not parse)", name))
			continue
		}
		if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
			unformatted = append(unformatted, i18n.Plain(name))
		}
		for _, n := range Undocumented(f) {
			undocumented = append(undocumented, i18n.Plain(n))
		}
		for _, t := range TODOs(fset, f) {
			todos = append(todos, i18n.Plain(t))
		}
	}
	return Report{
		Gofmt: finding(unformatted, i18n.T("not gofmt-formatted")),
		Docs:  finding(undocumented, i18n.T("exported without a doc comment")),
		TODOs: finding(todos, i18n.T("TODOs left")),
	}
}

func finding(items []i18n.Text, what i18n.Text) Finding {
	if len(items) == 0 {
		return Finding{OK: true}
	}
	shown := items
	if len(shown) > 5 {
		shown = shown[:5]
	}
	list := i18n.Join(shown, ", ")
	if len(items) > len(shown) {
		list = i18n.T("%s, …", list)
	}
	return Finding{Message: i18n.T("%d %s: %s", len(items), what, list)}
}

// Undocumented returns the exported top-level names of f that have no doc comment: functions,
// methods of exported types, types, and constants and variables (a comment on their group
// counts).
func Undocumented(f *ast.File) []string {
	var names []string
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil {
				recv := receiverType(d.Recv)
				if !ast.IsExported(recv) {
					continue
				}
				names = append(names, recv+"."+d.Name.Name)
				continue
			}
			names = append(names, d.Name.Name)
		case *ast.GenDecl:
			if d.Tok == token.IMPORT || (d.Doc != nil && d.Lparen.IsValid()) {
				continue
			}
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						names = append(names, s.Name.Name)
					}
				case *ast.ValueSpec:
					if s.Doc != nil || d.Doc != nil {
						continue
					}
					for _, n := range s.Names {
						if n.IsExported() {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
	}
	return names
}

func receiverType(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	t := fl.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

var todo = regexp.MustCompile(`\bTODO\b`)

// TODOs returns the positions of comments in f that contain TODO.
func TODOs(fset *token.FileSet, f *ast.File) []string {
	var at []string
	for _, g := range f.Comments {
		for _, c := range g.List {
			if todo.MatchString(c.Text) {
				at = append(at, fset.Position(c.Pos()).String())
			}
		}
	}
	return at
}
