// Package studenttests grades the criteria that ask students to write tests (manifest kind
// student_tests) as what they are: the student's tests must pass against the student's code and
// against the reference solution (a test that fails a correct implementation is wrong), and
// must fail against enough of the listed mutants (plausible wrong implementations). The report
// names, as hints, the mutants they did not catch.
//
// Runs against the reference and the mutants never show the tests' output: it would carry the
// reference's behaviour into a report the student may see.
package studenttests

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/engine"
	"github.com/microservices-workbook/workbook/grader/internal/gotest"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/mutant"
	"github.com/microservices-workbook/workbook/grader/internal/workspace"
)

// Input is what grading one exercise's student-tests criteria needs.
type Input struct {
	// Manifest is the exercise's manifest.
	Manifest *manifest.Manifest
	// GradedDir is the graded directory ("ex07-breaker", or "solutions/ex07-breaker").
	GradedDir string
	// Package is the exercise package's Go name.
	Package string
	// Code are the student's files of the graded directory, test files left out, with paths
	// relative to it.
	Code []workspace.File
	// Pristine are the exercise's pristine test files, with paths relative to its directory.
	Pristine []workspace.File
	// Tests are the student's own test files (at the top of the graded directory).
	Tests []workspace.File
	// TestData are the files of the graded directory's testdata/, with paths relative to the
	// graded directory, which the student's tests may read.
	TestData []workspace.File
	// Reference holds solutions/ and the mutants, with paths from the module root; nil when
	// this grader has none.
	Reference fs.FS
	// Module is the workbook's module path.
	Module string
	// Engine runs the jobs.
	Engine *engine.Engine
	// Timeout bounds one run. Default 2 minutes.
	Timeout time.Duration
	// Race builds and runs with the race detector, as the criteria are (so that all builds of
	// a grading share the compiled dependencies).
	Race bool
}

// Verdict is the outcome for one criterion.
type Verdict struct {
	// Status is "met", "unmet" or "not_verified".
	Status string
	// Message says why, in a sentence or a few lines, in English and Spanish.
	Message i18n.Text
	// Missed describes the mutants the tests did not catch; MissedES in Spanish.
	Missed, MissedES []string
	// Caught and Total count the listed mutants.
	Caught, Total int
}

// The statuses a Verdict can have.
const (
	Met         = "met"
	Unmet       = "unmet"
	NotVerified = "not_verified"
)

// Grade grades every student-tests criterion of in.Manifest, by id. All of them share the runs
// against the student's code and the reference.
func Grade(ctx context.Context, in Input) (map[string]Verdict, error) {
	var criteria []manifest.Criterion
	for _, c := range in.Manifest.Criteria {
		if c.StudentTests() {
			criteria = append(criteria, c)
		}
	}
	out := map[string]Verdict{}
	if len(criteria) == 0 {
		return out, nil
	}
	all := func(v Verdict) map[string]Verdict {
		for _, c := range criteria {
			out[c.ID] = v
		}
		return out
	}
	names, err := TestNames(in.Tests)
	if err != nil {
		return all(Verdict{Status: Unmet, Message: i18n.T("%s", err)}), nil
	}
	if len(names) == 0 {
		return all(Verdict{Status: Unmet, Message: i18n.T(
			"no tests of yours found: write them in %s/student_test.go (or any new _test.go file there)", in.GradedDir)}), nil
	}
	if in.Reference == nil {
		return all(Verdict{Status: NotVerified, Message: i18n.T("this grader has no reference solution to check your tests against (a student edition)")}), nil
	}
	refDir := path.Join("solutions", in.Manifest.Dir)
	refCode, err := readDir(in.Reference, refDir)
	if err != nil || len(refCode) == 0 {
		return all(Verdict{Status: NotVerified, Message: i18n.T("this grader has no reference solution for %s", in.Manifest.Dir)}), nil
	}
	mutants, err := mutant.Load(in.Reference, mutant.Dir, in.Manifest.Dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]mutant.Mutant{}
	for _, m := range mutants {
		byName[m.Name] = m
	}

	// Every variant at once, in one tree and one build: the student's own code where it is,
	// the reference and each mutant at a directory of their own.
	wanted := map[string]bool{}
	var listed []string
	for _, c := range criteria {
		for _, n := range c.Mutants {
			if _, ok := byName[n]; !ok {
				return nil, fmt.Errorf("%s: a criterion lists mutant %q, which does not exist", in.Manifest.Dir, n)
			}
			if !wanted[n] {
				wanted[n] = true
				listed = append(listed, n)
			}
		}
	}
	sort.Strings(listed)
	b := &batch{in: in, refDir: refDir, names: names}
	b.add(in.GradedDir, in.Code, false)
	refVariant := variantDir("reference")
	if sameFiles(in.Code, refCode) {
		refVariant = in.GradedDir // the student's code is the reference: one run shows both
	} else {
		b.add(refVariant, refCode, false)
	}
	race := in.Race
	for _, n := range listed {
		code, err := applyTo(refCode, byName[n])
		if err != nil {
			return nil, err
		}
		b.add(variantDir("m-"+n), code, true)
		race = race || byName[n].Race
	}
	outcomes, err := in.Engine.Run(ctx, engine.Job{
		Label: in.Manifest.Exercise + "-tests", Files: b.files, Packages: b.packages, Race: race, Timeout: in.Timeout,
	})
	if err != nil {
		return nil, err
	}
	// A test that fails the reference is wrong, whatever it does with the student's code: say
	// that first.
	if bad := mustPass(outcomes[refVariant], names, refVariant == in.GradedDir); bad != nil {
		return all(Verdict{Status: Unmet, Message: i18n.T(
			"your tests fail against a correct implementation (the reference solution): %s; a test must accept every correct design the statement allows", join(bad))}), nil
	}
	if bad := mustPass(outcomes[in.GradedDir], names, true); bad != nil {
		return all(Verdict{Status: Unmet, Message: i18n.T("your tests do not pass against your own code: %s", join(bad))}), nil
	}

	// Against each mutant: caught when a test does not pass. A mutant that does not build
	// beside the tests is not caught: nothing was tested.
	caught := map[string]bool{}
	for _, n := range listed {
		o := outcomes[variantDir("m-"+n)]
		caught[n] = o.Run != nil && anyFailed(o.Run, names)
	}
	for _, c := range criteria {
		v := Verdict{Total: len(c.Mutants)}
		var missed []mutant.Mutant
		for _, n := range c.Mutants {
			if caught[n] {
				v.Caught++
			} else {
				missed = append(missed, byName[n])
			}
		}
		sort.Slice(missed, func(i, j int) bool { return missed[i].Description < missed[j].Description })
		for _, m := range missed {
			es := m.DescriptionES
			if es == "" {
				es = m.Description
			}
			v.Missed, v.MissedES = append(v.Missed, m.Description), append(v.MissedES, es)
		}
		v.Status = Unmet
		if v.Caught >= c.MinCaught {
			v.Status = Met
		}
		v.Message = i18n.T("your tests caught %d of %d wrong implementations (%d needed)", v.Caught, v.Total, c.MinCaught)
		out[c.ID] = v
	}
	return out, nil
}

// sameFiles reports whether a and b hold the same Go files with the same contents.
func sameFiles(a, b []workspace.File) bool {
	goFiles := func(fs []workspace.File) map[string]string {
		m := map[string]string{}
		for _, f := range fs {
			if strings.HasSuffix(f.Path, ".go") {
				m[f.Path] = string(f.Data)
			}
		}
		return m
	}
	return maps.Equal(goFiles(a), goFiles(b))
}

// variantDir is where a variant of the exercise lives in the batch's tree.
func variantDir(name string) string { return "variants/" + name }

// batch assembles the tree of the student's tests beside each variant of the code.
type batch struct {
	in       Input
	refDir   string
	names    []string
	files    []workspace.File
	packages []engine.Package
}

// add puts code at dir, with the pristine tests and the student's tests and test data beside
// it (the student's tests may use the pristine tests' helpers). Moved away from where they
// were written, the files' imports of the exercise's own subpackages follow them, so that
// the tests test this variant's, not another copy.
func (b *batch) add(dir string, code []workspace.File, failFast bool) {
	rewrite := func(data []byte) []byte {
		if dir == b.in.GradedDir || b.in.Module == "" {
			return data
		}
		s := string(data)
		for _, from := range []string{b.in.GradedDir, b.refDir} {
			s = strings.ReplaceAll(s, `"`+b.in.Module+"/"+from+"/", `"`+b.in.Module+"/"+dir+"/")
		}
		return []byte(s)
	}
	for _, group := range [][]workspace.File{code, b.in.Pristine, b.in.Tests, b.in.TestData} {
		for _, f := range group {
			data := f.Data
			if strings.HasSuffix(f.Path, ".go") {
				data = rewrite(data)
			}
			b.files = append(b.files, workspace.File{Path: path.Join(dir, f.Path), Data: data})
		}
	}
	// The run sees the student's test data, never the code's sources: a test that read them
	// could tell the reference from a mutant without testing anything.
	data := path.Join(dir, "testdata") + "/"
	b.packages = append(b.packages, engine.Package{
		Dir: dir, Name: b.in.Package, Tests: b.names, FailFast: failFast,
		Visible: func(p string) bool { return strings.HasPrefix(p, data) },
	})
}

// mustPass returns why the outcome is not a pass of every test, or nil. Output is shown only
// for the student's own code.
func mustPass(out *engine.Outcome, tests []string, show bool) []any {
	if out.Run == nil {
		if show {
			return []any{i18n.T("they do not build:\n%s", out.Build.Output)}
		}
		return []any{i18n.T("they do not build against it (do they use something only your code declares?)")}
	}
	var bad []any
	for _, t := range tests {
		r := out.Run.Results[t]
		if r.Status == gotest.Pass || r.Status == gotest.Skip {
			continue
		}
		detail := ""
		if show && len(r.Failures) > 0 {
			f := r.Failures[0]
			detail = fmt.Sprintf(", %s: %s", f.Location, firstLine(f.Error))
			if f.Messages != "" {
				detail += " — " + firstLine(f.Messages)
			}
		}
		bad = append(bad, i18n.T("%s (%s)%s", t, statusText(r.Status), detail))
	}
	if out.Run.Forged > 0 {
		bad = append(bad, i18n.T("lines on the grader's verdict channel that did not come from the grader"))
	}
	return bad
}

// statusText names a test's verdict for a person.
func statusText(s gotest.Status) i18n.Text {
	switch s {
	case gotest.Fail:
		return i18n.T("failed")
	case gotest.Panic:
		return i18n.T("panicked")
	case gotest.Timeout:
		return i18n.T("timed out")
	case gotest.NotRun:
		return i18n.T("did not run")
	}
	return i18n.Plain(string(s))
}

// join joins texts and strings with "; ", in both languages.
func join(parts []any) i18n.Text {
	var t i18n.Text
	for i, p := range parts {
		sep := ""
		if i > 0 {
			sep = "; "
		}
		t = i18n.T("%s%s%s", t, sep, p)
	}
	return t
}

func anyFailed(run *gotest.Run, tests []string) bool {
	for _, t := range tests {
		if s := run.Results[t].Status; s != gotest.Pass && s != gotest.Skip {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// TestNames returns the top-level tests the files declare, sorted.
func TestNames(files []workspace.File) ([]string, error) {
	var names []string
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Data, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("%s does not parse: %v", f.Path, err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && fn.Recv == nil && isTest(fn) {
				names = append(names, fn.Name.Name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// isTest reports whether fn is a test: TestXxx(t *testing.T).
func isTest(fn *ast.FuncDecl) bool {
	name := fn.Name.Name
	if !strings.HasPrefix(name, "Test") || name == "TestMain" {
		return false
	}
	if rest := name[len("Test"):]; rest != "" && rest[0] >= 'a' && rest[0] <= 'z' {
		return false
	}
	params := fn.Type.Params.List
	if len(params) != 1 || fn.Type.Results != nil {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "T"
}

// readDir reads the non-test files below dir of fsys, with paths relative to dir.
func readDir(fsys fs.FS, dir string) ([]workspace.File, error) {
	var out []workspace.File
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out = append(out, workspace.File{Path: strings.TrimPrefix(p, dir+"/"), Data: data})
		return nil
	})
	return out, err
}

// applyTo returns a copy of code with m applied to its file.
func applyTo(code []workspace.File, m mutant.Mutant) ([]workspace.File, error) {
	out := make([]workspace.File, len(code))
	found := false
	for i, f := range code {
		out[i] = f
		if f.Path == m.File {
			data, err := m.Apply(f.Data)
			if err != nil {
				return nil, err
			}
			out[i].Data = data
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("mutant %s: the reference has no file %s", m.ID(), m.File)
	}
	return out, nil
}
