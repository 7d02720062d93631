// Package review finds, in a student's code, the means a forger needs: the calls and
// constructs that can reach the grader's verdict channel, end the test process on their own
// terms, start other programs, write where the grader reads, or change another package's
// state. Honest solutions to the workbook need none of them outside a `cmd/` program, so an
// exercise where one is found earns nothing until an instructor has looked at it.
//
// The check reads source with go/parser; it runs no code. It cannot see through every
// disguise (a path built at run time, say): it makes forging visible, it does not make it
// impossible.
package review

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// Rule names one kind of finding.
type Rule string

// The rules.
const (
	Unsafe     Rule = "unsafe"      // imports unsafe
	Syscall    Rule = "syscall"     // uses syscall or golang.org/x/sys beyond signal and errno names
	Linkname   Rule = "linkname"    // a //go:linkname directive
	NonGo      Rule = "non-go"      // assembly, C or object files, or cgo
	NewFile    Rule = "newfile"     // os.NewFile: a file from a raw descriptor
	Proc       Rule = "proc"        // a path under /proc or /dev/fd
	Exit       Rule = "exit"        // ends the process: os.Exit, log.Fatal…
	Exec       Rule = "exec"        // starts programs: os/exec, plugin
	Stdio      Rule = "stdio"       // writes to standard output or error directly
	Init       Rule = "init"        // a func init
	ForeignVar Rule = "foreign-var" // assigns to another package's variable
	TestMain   Rule = "testmain"    // a TestMain in the student's tests
)

// Finding is one place that needs review.
type Finding struct {
	// File is the file's path relative to the checked directory, slash-separated.
	File string `json:"file"`
	Line int    `json:"line"`
	Rule Rule   `json:"rule"`
	// Text says what was found, for the instructor; TextES says it in Spanish.
	Text   string `json:"text"`
	TextES string `json:"text_es,omitempty"`
}

func (f Finding) String() string { return f.Say().EN }

// Say says where the finding is and what it is, in both languages.
func (f Finding) Say() i18n.Text {
	return i18n.T("%s:%d: %s (%s)", f.File, f.Line, i18n.Text{EN: f.Text, ES: f.TextES}, f.Rule)
}

// Options tune a check.
type Options struct {
	// Generated lists files (relative, slash-separated) that the workbook's generators
	// write; the generated code's own unsafe and init are allowed there.
	Generated map[string]bool
	// Tests checks test files rather than the package's code: printing is allowed, a
	// TestMain is not.
	Tests bool
}

// nonGo are the file extensions of sources the go command compiles or links besides Go.
var nonGo = map[string]bool{
	".s": true, ".S": true, ".sx": true, ".c": true, ".cc": true, ".cpp": true, ".cxx": true,
	".h": true, ".hh": true, ".hpp": true, ".hxx": true, ".m": true, ".f": true, ".F": true,
	".for": true, ".f90": true, ".syso": true, ".swig": true, ".swigcxx": true,
}

// Check reviews files. Go files that do not parse are left to the compiler; files in
// directories the go command ignores (testdata, _x, .x) are not code.
func Check(files []workspace.File, opts Options) []Finding {
	var out []Finding
	for _, file := range files {
		name, src := file.Path, file.Data
		if ignored(name) {
			continue
		}
		if nonGo[path.Ext(name)] {
			t := i18n.T("a non-Go source file the go command would compile or link")
			out = append(out, Finding{File: name, Line: 1, Rule: NonGo, Text: t.EN, TextES: t.ES})
			continue
		}
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		c := &checker{fset: fset, file: name, opts: opts, generated: opts.Generated[name]}
		c.cmd = f.Name.Name == "main" && inCmd(name)
		c.check(f)
		out = append(out, c.found...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// ignored reports whether a file lies in a directory the go command ignores.
func ignored(name string) bool {
	dirs := strings.Split(path.Dir(name), "/")
	for _, d := range dirs {
		if d != "." && workspace.Ignored(d) {
			return true
		}
	}
	return false
}

// inCmd reports whether the file is in a directory under a "cmd" directory.
func inCmd(name string) bool {
	dir := path.Dir(name)
	for _, elem := range strings.Split(dir, "/") {
		if elem == "cmd" {
			return true
		}
	}
	return false
}

type checker struct {
	fset      *token.FileSet
	file      string
	opts      Options
	generated bool
	cmd       bool
	// imports maps the names a file uses for packages to their paths.
	imports map[string]string
	found   []Finding
}

func (c *checker) add(pos token.Pos, rule Rule, t i18n.Text) {
	c.found = append(c.found, Finding{File: c.file, Line: c.fset.Position(pos).Line, Rule: rule, Text: t.EN, TextES: t.ES})
}

// allowedSyscall matches the names of syscall and x/sys packages that carry no power: signals
// and error numbers.
var allowedSyscall = regexp.MustCompile(`^(SIG[A-Z0-9]+|E[A-Z0-9]+|Signal|Errno)$`)

var procPath = regexp.MustCompile(`(^|[^A-Za-z0-9])/(proc|dev/fd|dev/std(in|out|err))(/|$)`)

func (c *checker) check(f *ast.File) {
	c.imports = map[string]string{}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		c.imports[name] = p
		switch {
		case p == "unsafe" && !c.generated:
			c.add(imp.Pos(), Unsafe, i18n.T("imports unsafe"))
		case p == "C":
			c.add(imp.Pos(), NonGo, i18n.T("uses cgo"))
		case p == "plugin" || p == "os/exec" && !c.cmd:
			c.add(imp.Pos(), Exec, i18n.T("imports %s", p))
		case p == "runtime/cgo":
			c.add(imp.Pos(), NonGo, i18n.T("imports runtime/cgo"))
		}
		if name == "." && (p == "os" || p == "syscall" || p == "unsafe" || strings.HasPrefix(p, "golang.org/x/sys/")) {
			c.add(imp.Pos(), Syscall, i18n.T("dot-imports %s", p))
		}
	}
	for _, group := range f.Comments {
		for _, cm := range group.List {
			if strings.HasPrefix(cm.Text, "//go:linkname") {
				c.add(cm.Pos(), Linkname, i18n.T("a //go:linkname directive"))
			}
		}
	}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
			switch {
			case fn.Name.Name == "init" && !c.generated && !c.opts.Tests:
				c.add(fn.Pos(), Init, i18n.T("a func init: code that runs before any test"))
			case fn.Name.Name == "init" && c.opts.Tests:
				c.add(fn.Pos(), Init, i18n.T("a func init in a test file"))
			case fn.Name.Name == "TestMain" && c.opts.Tests:
				c.add(fn.Pos(), TestMain, i18n.T("a TestMain: the grader runs your tests itself"))
			}
		}
	}
	ast.Inspect(f, c.visit)
}

func (c *checker) visit(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			if s, err := strconv.Unquote(x.Value); err == nil && procPath.MatchString(s) {
				c.add(x.Pos(), Proc, i18n.T("names %s", cutString(s)))
			}
		}
	case *ast.SelectorExpr:
		c.selector(x)
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok && (id.Name == "print" || id.Name == "println") && !c.cmd && !c.opts.Tests {
			c.add(x.Pos(), Stdio, i18n.T("the builtin %s writes to standard error", id.Name))
		}
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && !c.cmd && !c.opts.Tests {
			if _, isPkg := c.pkgOf(sel.X); !isPkg && strings.HasPrefix(sel.Sel.Name, "Fatal") {
				c.add(x.Pos(), Exit, i18n.T("calls %s, which ends the process", sel.Sel.Name))
			}
		}
	case *ast.AssignStmt:
		for _, lhs := range x.Lhs {
			c.foreignWrite(lhs)
		}
	case *ast.IncDecStmt:
		c.foreignWrite(x.X)
	case *ast.UnaryExpr:
		if x.Op == token.AND {
			// Taking the address of another package's variable lets code write it later.
			if sel, ok := x.X.(*ast.SelectorExpr); ok {
				if p, isPkg := c.pkgOf(sel.X); isPkg && !c.cmd && !c.opts.Tests && mutableVar(p, sel.Sel.Name) {
					c.add(x.Pos(), ForeignVar, i18n.T("takes the address of %s.%s", p, sel.Sel.Name))
				}
			}
		}
	}
	return true
}

// pkgOf returns the import path x names when x is a package name of the file.
func (c *checker) pkgOf(x ast.Expr) (string, bool) {
	id, ok := x.(*ast.Ident)
	if !ok {
		return "", false
	}
	p, ok := c.imports[id.Name]
	return p, ok
}

func (c *checker) selector(x *ast.SelectorExpr) {
	p, ok := c.pkgOf(x.X)
	if !ok {
		return
	}
	name := x.Sel.Name
	switch {
	case p == "syscall" || strings.HasPrefix(p, "golang.org/x/sys/"):
		if !allowedSyscall.MatchString(name) {
			c.add(x.Pos(), Syscall, i18n.T("uses %s.%s", path.Base(p), name))
		}
	case p == "os" && name == "NewFile":
		c.add(x.Pos(), NewFile, i18n.T("calls os.NewFile: a file from a raw descriptor"))
	case c.cmd || c.opts.Tests:
	case p == "os" && name == "Exit", p == "log" && strings.HasPrefix(name, "Fatal"):
		c.add(x.Pos(), Exit, i18n.T("calls %s.%s, which ends the process", path.Base(p), name))
	case p == "os" && (name == "Stdout" || name == "Stderr"):
		c.add(x.Pos(), Stdio, i18n.T("uses os.%s directly (log through an injected *slog.Logger)", name))
	case p == "fmt" && (name == "Print" || name == "Printf" || name == "Println"):
		c.add(x.Pos(), Stdio, i18n.T("calls fmt.%s, which writes to standard output", name))
	}
}

// foreignWrite reports an assignment whose target is, or is inside, another package's
// variable: os.Args = …, http.DefaultClient.Timeout = ….
func (c *checker) foreignWrite(lhs ast.Expr) {
	root := lhs
	for {
		switch x := root.(type) {
		case *ast.SelectorExpr:
			if p, ok := c.pkgOf(x.X); ok {
				if !c.cmd || p == "os" {
					c.add(lhs.Pos(), ForeignVar, i18n.T("assigns to %s.%s, another package's variable", path.Base(p), x.Sel.Name))
				}
				return
			}
			root = x.X
		case *ast.IndexExpr:
			root = x.X
		case *ast.StarExpr:
			root = x.X
		case *ast.ParenExpr:
			root = x.X
		default:
			return
		}
	}
}

// mutableVar reports whether pkg.name may be a variable worth guarding (exported names of the
// standard library's mutable globals). Constants and functions cannot be told apart without
// type information, so only well-known variables are listed.
func mutableVar(pkg, name string) bool {
	switch pkg {
	case "os":
		return name == "Args" || name == "Stdout" || name == "Stderr" || name == "Stdin"
	case "net/http":
		return name == "DefaultClient" || name == "DefaultTransport" || name == "DefaultServeMux"
	}
	return false
}

func cutString(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
