// Package tamper finds the ways a checkout can make tests pass without meeting them: edited or
// missing pristine test files, an added TestMain or init in a test file, a replace directive, a
// go.work file, or a changed version of a module the tests rely on.
package tamper

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/microservices-workbook/workbook/grader/internal/pristine"
)

// Input describes one exercise to check.
type Input struct {
	// Root is the checkout's module root.
	Root string
	// Dir is the exercise directory in the pristine set ("ex07-breaker").
	Dir string
	// GradedDir is the directory graded, relative to Root: Dir for a student's work,
	// "solutions/"+Dir for the reference solution.
	GradedDir string
	// ExpectTests is set when the checkout must carry the pristine test files in GradedDir
	// (a student's checkout does; solutions/ does not).
	ExpectTests bool
	// Pristine is the grader's trusted set of files.
	Pristine *pristine.Set
}

// Check returns why the exercise counts as tampered, or nothing when it does not.
func Check(in Input) ([]string, error) {
	var reasons []string
	for _, name := range in.Pristine.Mismatches(in.Dir) {
		reasons = append(reasons, fmt.Sprintf("the grader's copy of %s does not match pristine.sum: it was built from an edited tree", name))
	}
	names, err := in.Pristine.TestFiles(in.Dir)
	if err != nil {
		return nil, err
	}
	isPristine := map[string]bool{}
	for _, n := range names {
		isPristine[n] = true
		if !in.ExpectTests {
			continue
		}
		want, err := fs.ReadFile(in.Pristine.Files, path.Join(in.Dir, n))
		if err != nil {
			return nil, err
		}
		got, err := os.ReadFile(filepath.Join(in.Root, filepath.FromSlash(in.GradedDir), n))
		switch {
		case os.IsNotExist(err):
			reasons = append(reasons, fmt.Sprintf("%s/%s is missing", in.GradedDir, n))
		case err != nil:
			return nil, err
		case !bytes.Equal(got, want):
			reasons = append(reasons, fmt.Sprintf("%s/%s was edited", in.GradedDir, n))
		}
	}
	extra, err := filepath.Glob(filepath.Join(in.Root, filepath.FromSlash(in.GradedDir), "*_test.go"))
	if err != nil {
		return nil, err
	}
	for _, p := range extra {
		if isPristine[filepath.Base(p)] {
			continue
		}
		found, err := hooks(p)
		if err != nil {
			return nil, err
		}
		for _, h := range found {
			reasons = append(reasons, fmt.Sprintf("%s/%s declares %s", in.GradedDir, filepath.Base(p), h))
		}
	}
	mod, err := moduleReasons(in)
	if err != nil {
		return nil, err
	}
	return append(reasons, mod...), nil
}

// hooks returns the functions of a test file that run before or instead of the tests.
func hooks(file string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, nil // it will fail to build, which fails the exercise anyway
	}
	var found []string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && (fn.Name.Name == "TestMain" || fn.Name.Name == "init") {
			found = append(found, fn.Name.Name)
		}
	}
	return found, nil
}

func moduleReasons(in Input) ([]string, error) {
	var reasons []string
	if _, err := os.Stat(filepath.Join(in.Root, "go.work")); err == nil {
		reasons = append(reasons, "go.work is present: it can redirect modules away from the pristine ones")
	}
	data, err := os.ReadFile(filepath.Join(in.Root, "go.mod"))
	if err != nil {
		return nil, err
	}
	tree, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil, fmt.Errorf("checkout go.mod: %w", err)
	}
	for _, r := range tree.Replace {
		reasons = append(reasons, fmt.Sprintf("go.mod replaces %s", r.Old.Path))
	}
	relied, err := reliedModules(in)
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	for _, r := range tree.Require {
		have[r.Mod.Path] = r.Mod.Version
	}
	for _, m := range relied {
		if got := have[m.Path]; got != m.Version {
			if got == "" {
				got = "no version"
			}
			reasons = append(reasons, fmt.Sprintf("go.mod changes %s, which the tests rely on, from %s to %s", m.Path, m.Version, got))
		}
	}
	return reasons, nil
}

type module struct{ Path, Version string }

// reliedModules returns the modules required by the pristine go.mod that the exercise's pristine
// test files import, with their pristine versions.
func reliedModules(in Input) ([]module, error) {
	names, err := in.Pristine.TestFiles(in.Dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []module
	for _, n := range names {
		src, err := fs.ReadFile(in.Pristine.Files, path.Join(in.Dir, n))
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(token.NewFileSet(), n, src, parser.ImportsOnly)
		if err != nil {
			return nil, fmt.Errorf("pristine %s: %w", n, err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			best := ""
			for mod := range in.Pristine.Modules {
				if (p == mod || strings.HasPrefix(p, mod+"/")) && len(mod) > len(best) {
					best = mod
				}
			}
			version := in.Pristine.Modules[best]
			if best != "" && !seen[best] {
				seen[best] = true
				out = append(out, module{best, version})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
