// Package cache keeps the grader's verdicts by the content of everything they depend on, in
// the spirit of go test's cache: an exercise whose inputs have not changed is not graded again.
//
// A key is the hash of every input, so a stale entry cannot be found: any change to an input
// gives another key. The cache lives in the grader's own directory, which student code, run in
// the sandbox, never sees.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Key accumulates the inputs of one verdict.
type Key struct {
	parts map[string][]byte
}

// NewKey returns an empty key.
func NewKey() *Key { return &Key{parts: map[string][]byte{}} }

// Add records one named input. Adding a name twice keeps the last value.
func (k *Key) Add(name string, value []byte) { k.parts[name] = append([]byte(nil), value...) }

// AddString records one named input.
func (k *Key) AddString(name, value string) { k.Add(name, []byte(value)) }

// Sum returns the key's hash: the names and values, sorted by name, each length-prefixed so
// that no two different sets of inputs can give the same stream.
func (k *Key) Sum() string {
	names := make([]string, 0, len(k.parts))
	for n := range k.parts {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s:%d:", len(n), n, len(k.parts[n]))
		h.Write(k.parts[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Cache is a directory of entries.
type Cache struct {
	dir string
}

// Open returns the cache in dir, creating it.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Cache{dir: dir}, nil
}

// DefaultDir is the cache's default directory: workbook-grader under the user's cache
// directory.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "workbook-grader"), nil
}

func (c *Cache) path(sum string) string { return filepath.Join(c.dir, sum[:2], sum+".json") }

// Get decodes the entry for sum into v. It reports false when there is none (or it cannot be
// read: a broken entry is a miss, never an error).
func (c *Cache) Get(sum string, v any) bool {
	data, err := os.ReadFile(c.path(sum))
	if err != nil {
		return false
	}
	return json.Unmarshal(data, v) == nil
}

// Put stores v under sum, atomically.
func (c *Cache) Put(sum string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p := c.path(sum)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// FileHash returns the hash of a file's content, or "" when it cannot be read.
func FileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FSHash returns the hash of the files below dir of fsys (names and contents), or "" when one
// cannot be read.
func FSHash(fsys fs.FS, dir string) string {
	h := sha256.New()
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%d:%s:%d:", len(p), p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
