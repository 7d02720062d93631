// Package workspace reads a checkout's files into memory, within limits, and writes the module
// trees the grader builds in. Nothing here runs code: the trees are built by the go command
// and their tests run in the sandbox.
package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Limits bound what Collect and Copy take from a checkout. Each zero field takes its default.
type Limits struct {
	// MaxFiles is the most files taken. Default 2000.
	MaxFiles int
	// MaxFileBytes is the size above which a file is left out. Default 4 MiB.
	MaxFileBytes int64
	// MaxTotalBytes is the most bytes taken in all. Default 64 MiB.
	MaxTotalBytes int64
}

func (l *Limits) defaults() {
	if l.MaxFiles <= 0 {
		l.MaxFiles = 2000
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 4 << 20
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = 64 << 20
	}
}

// ErrTooLarge is returned when a directory exceeds the limits on files or bytes.
var ErrTooLarge = errors.New("too large to grade")

// skipDirs are directories never taken: version control and installed dependencies.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true}

// File is one file read from a checkout.
type File struct {
	// Path is the file's path relative to the directory read, slash-separated.
	Path string
	Data []byte
}

// Collect reads the regular files below dir. It leaves out version-control and vendor
// directories, symbolic links, devices and files over the size limit (listed in skipped), and
// fails with ErrTooLarge when the directory holds more than the limits allow.
func Collect(dir string, lim Limits) (files []File, skipped []string, err error) {
	lim.defaults()
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if rel != "." && skipDirs[d.Name()] {
				skipped = append(skipped, rel+"/")
				return filepath.SkipDir
			}
			return nil
		case !d.Type().IsRegular():
			skipped = append(skipped, rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > lim.MaxFileBytes {
			skipped = append(skipped, rel)
			return nil
		}
		total += info.Size()
		if len(files) >= lim.MaxFiles || total > lim.MaxTotalBytes {
			return fmt.Errorf("%w: more than %d files or %d bytes", ErrTooLarge, lim.MaxFiles, lim.MaxTotalBytes)
		}
		data, err := readLimited(p, lim.MaxFileBytes)
		if err != nil {
			return err
		}
		files = append(files, File{Path: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return files, skipped, nil
}

// readLimited reads at most max bytes of a file (it may have grown since it was listed).
func readLimited(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// Copy copies the regular files of the tree at src into dst, with the same exclusions and
// limits as Collect.
func Copy(dst, src string, lim Limits) error {
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = 100000
	}
	if lim.MaxTotalBytes <= 0 {
		lim.MaxTotalBytes = 256 << 20
	}
	files, _, err := Collect(src, lim)
	if err != nil {
		return err
	}
	t, err := NewTree(dst)
	if err != nil {
		return err
	}
	return t.WriteFiles("", files)
}

// Tree is a directory the grader writes a module tree into.
type Tree struct {
	// Root is the tree's directory.
	Root string
}

// NewTree creates the directory root (and its parents) for a tree.
func NewTree(root string) (*Tree, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	return &Tree{Root: root}, nil
}

// Path returns the host path of rel (slash-separated, relative to the tree's root). It fails
// for paths that would leave the tree.
func (t *Tree) Path(rel string) (string, error) {
	clean := path.Clean("/" + rel)
	if clean == "/" || strings.Contains(rel, "\x00") || clean != "/"+strings.TrimPrefix(rel, "./") && clean != "/"+rel {
		return "", fmt.Errorf("workspace: bad path %q", rel)
	}
	return filepath.Join(t.Root, filepath.FromSlash(clean[1:])), nil
}

// Write writes one file of the tree.
func (t *Tree) Write(rel string, data []byte) error {
	p, err := t.Path(rel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// WriteFiles writes files under the directory prefix of the tree.
func (t *Tree) WriteFiles(prefix string, files []File) error {
	for _, f := range files {
		if err := t.Write(path.Join(prefix, f.Path), f.Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFS writes the files of fsys below dir, for which keep (given the path relative to dir)
// is true, under the directory prefix of the tree.
func (t *Tree) WriteFS(prefix string, fsys fs.FS, dir string, keep func(rel string) bool) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if keep != nil && !keep(rel) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return t.Write(path.Join(prefix, rel), data)
	})
}

// GoFiles returns the .go files below dir (relative, slash-separated, sorted), split into test
// and non-test files. Directories named testdata, or starting with "." or "_", are left out,
// as the go command leaves them out.
func GoFiles(dir string) (code, tests []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && Ignored(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(rel, "_test.go") {
			tests = append(tests, rel)
		} else {
			code = append(code, rel)
		}
		return nil
	})
	sort.Strings(code)
	sort.Strings(tests)
	return code, tests, err
}

// Ignored reports whether the go command ignores a directory of this name.
func Ignored(name string) bool {
	return name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}
