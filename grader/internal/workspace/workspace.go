// Package workspace makes the throwaway copy of a checkout that the grader builds and tests, so
// that nothing the grader or the student's code does touches the checkout itself.
package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Limits bound what Copy takes from a checkout.
type Limits struct {
	// MaxFileBytes is the size above which a file is left out. Default 8 MiB.
	MaxFileBytes int64
	// MaxTotalBytes is the most Copy writes in all. Default 256 MiB.
	MaxTotalBytes int64
}

// ErrTooLarge is returned when a checkout exceeds Limits.MaxTotalBytes.
var ErrTooLarge = errors.New("checkout too large to grade")

// skipDirs are directories never copied: version control and installed dependencies.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true}

// Copy copies the regular files of the tree at src into dst, leaving out version-control
// directories, vendor directories, symbolic links and files over the size limit.
func Copy(dst, src string, lim Limits) error {
	if lim.MaxFileBytes <= 0 {
		lim.MaxFileBytes = 8 << 20
	}
	if lim.MaxTotalBytes <= 0 {
		lim.MaxTotalBytes = 256 << 20
	}
	var total int64
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if rel != "." && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil // symbolic links, devices, sockets
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > lim.MaxFileBytes {
			return nil
		}
		total += info.Size()
		if total > lim.MaxTotalBytes {
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxTotalBytes)
		}
		return copyFile(target, p)
	})
}

func copyFile(dst, src string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// Overlay writes each file of fsys named in names (paths relative to fsys's root) to the
// directory dir, replacing what is there.
func Overlay(dir string, fsys fs.FS, names map[string]string) error {
	for from, to := range names {
		data, err := fs.ReadFile(fsys, from)
		if err != nil {
			return fmt.Errorf("pristine %s: %w", from, err)
		}
		target := filepath.Join(dir, filepath.FromSlash(to))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// GoFiles returns the .go files below dir (relative, slash-separated), split into test and
// non-test files.
func GoFiles(dir string) (code, tests []string, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
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
	return code, tests, err
}
