// Package pristine gives the grader its trusted copies of the exercises' test files and
// manifests, and checks them against the hash list kept with the grader (pristine.sum).
//
// Built from a trusted copy of the workbook, the embedded files are the upstream ones and the
// grader is tamper-proof. Built from the checkout it grades, the files may have been edited;
// comparing them with pristine.sum makes such edits evident.
package pristine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"

	workbook "github.com/microservices-workbook/workbook"
)

//go:embed pristine.sum
var sumFile []byte

// Set is a collection of pristine files, the hashes they are expected to have, and the module
// versions the workbook's go.mod requires.
type Set struct {
	// Files holds the files, with paths relative to the module root.
	Files fs.FS
	// Sums maps each path to its expected SHA-256, hex-encoded.
	Sums map[string]string
	// Modules maps each module that go.mod requires to its version.
	Modules map[string]string
}

// Embedded returns the set compiled into this grader.
func Embedded() (*Set, error) {
	set, err := ParseSums(sumFile)
	if err != nil {
		return nil, fmt.Errorf("pristine.sum: %w", err)
	}
	set.Files = workbook.Pristine()
	return set, nil
}

// Hash returns the hex-encoded SHA-256 of data.
func Hash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// ParseSums parses a sum file: lines "<sha256>  <path>" for files and "module <path> <version>"
// for required modules. The returned set has no Files.
func ParseSums(data []byte) (*Set, error) {
	set := &Set{Sums: map[string]string{}, Modules: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "module" {
			set.Modules[f[1]] = f[2]
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != sha256.Size*2 || name == "" {
			return nil, fmt.Errorf("line %d: want \"<sha256>  <path>\" or \"module <path> <version>\", got %q", n, line)
		}
		set.Sums[name] = sum
	}
	return set, sc.Err()
}

// FormatSums renders the hashes of every file in fsys, and the modules required by gomod, in the
// format ParseSums reads.
func FormatSums(fsys fs.FS, gomod []byte) ([]byte, error) {
	mf, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil, err
	}
	var names []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# SHA-256 of the pristine test files and manifests, and the modules go.mod requires.\n")
	b.WriteString("# Regenerate: go test ./grader/internal/pristine -run TestPristineSums -update\n")
	for _, r := range mf.Require {
		fmt.Fprintf(&b, "module %s %s\n", r.Mod.Path, r.Mod.Version)
	}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s  %s\n", Hash(data), n)
	}
	return b.Bytes(), nil
}

// Mismatches returns the paths under dir whose embedded content does not match Sums, and the
// paths listed in Sums under dir that are not embedded. A non-empty result means this grader was
// built from an edited tree.
func (s *Set) Mismatches(dir string) []string {
	var bad []string
	for name, sum := range s.Sums {
		if !under(name, dir) {
			continue
		}
		data, err := fs.ReadFile(s.Files, name)
		if err != nil || Hash(data) != sum {
			bad = append(bad, name)
		}
	}
	_ = fs.WalkDir(s.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && under(p, dir) && s.Sums[p] == "" {
			bad = append(bad, p)
		}
		return nil
	})
	sort.Strings(bad)
	return bad
}

// TestFiles returns the names (relative to dir) of the pristine test files of the exercise in
// dir: those listed in pristine.sum, sorted.
func (s *Set) TestFiles(dir string) ([]string, error) {
	var names []string
	for p := range s.Sums {
		if name, ok := strings.CutPrefix(p, dir+"/"); ok && strings.HasSuffix(name, "_test.go") && !strings.Contains(name, "/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func under(name, dir string) bool {
	return dir == "" || dir == "." || strings.HasPrefix(name, dir+"/")
}
