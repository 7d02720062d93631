// Package tools pins the code generators of the workbook as Go tools (see go.mod) and checks
// that the generated code committed in the workbook is what they generate.
package tools

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the code of every buf module of the workbook (each
// directory with a buf.gen.yaml) into a temporary directory, and compares it byte for byte
// with the committed files: it fails when a .proto was changed without regenerating, when
// generated code was edited by hand, or when a generated file is missing or left over.
func TestGeneratedCodeIsFresh(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	modfile, err := filepath.Abs("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var configs []string
	for _, pattern := range []string{"ex*/buf.gen.yaml", "solutions/ex*/buf.gen.yaml"} {
		found, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, found...)
	}
	if len(configs) == 0 {
		t.Fatalf("no buf.gen.yaml under %s", root)
	}

	for _, config := range configs {
		dir := filepath.Dir(config)
		rel, _ := filepath.Rel(root, dir)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			out := t.TempDir()
			// Run as go generate does: from the module's directory, so that the plugin
			// commands of buf.gen.yaml find tools/go.mod by their relative path.
			cmd := exec.Command("go", "tool", "-modfile="+modfile, "buf", "generate", "--output", out)
			cmd.Dir = dir
			if output, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("buf generate in %s: %v\n%s", rel, err, output)
			}

			generated := map[string]bool{}
			err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				name, _ := filepath.Rel(out, p)
				generated[name] = true
				want, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				got, err := os.ReadFile(filepath.Join(dir, name))
				switch {
				case os.IsNotExist(err):
					t.Errorf("%s/%s is missing: run go generate ./%s/", rel, name, filepath.ToSlash(rel))
				case err != nil:
					return err
				case !bytes.Equal(got, want):
					t.Errorf("%s/%s is out of date with its .proto: run go generate ./%s/", rel, name, filepath.ToSlash(rel))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(generated) == 0 {
				t.Fatalf("buf generate in %s wrote nothing", rel)
			}

			// A generated file that the .proto no longer produces is left over.
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pb.go") {
					return err
				}
				name, _ := filepath.Rel(dir, p)
				if !generated[name] {
					t.Errorf("%s/%s is not generated from any .proto: delete it", rel, name)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
