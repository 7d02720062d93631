// Package watch grades again whenever a file of the watched exercises is saved: the loop of
// `grader -watch`. It grades once, then waits for changes; a burst of changes (an editor
// writes a file in several steps, a save-all writes several files) is graded once, when the
// directory has been quiet for a moment.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
)

// Config configures a watch.
type Config struct {
	// Dirs are the directories watched, with their subdirectories.
	Dirs []string
	// Grade grades and writes the result to w, whatever it was: the grading failing is shown
	// too, and the watch goes on. It returns an error only when ctx ended.
	Grade func(ctx context.Context, w io.Writer) error
	// Out receives each screen.
	Out io.Writer
	// Clear clears the screen before each grading (for a terminal).
	Clear bool
	// Debounce is how long the directories must be quiet after a change before grading.
	// Default 300ms.
	Debounce time.Duration
	// Lang is the language of the watch's own lines.
	Lang i18n.Lang
	// Graded, when set, is called after each grading (for tests).
	Graded func()
}

// clearScreen moves the cursor home and clears the screen (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// Run grades, then grades again after each change, until ctx ends; it then returns nil. It
// returns an error when the directories cannot be watched.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 300 * time.Millisecond
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	for _, d := range cfg.Dirs {
		if err := addTree(w, d); err != nil {
			return err
		}
	}
	grade := func(why string) error {
		if cfg.Clear {
			fmt.Fprint(cfg.Out, clearScreen)
		}
		if why != "" {
			fmt.Fprintln(cfg.Out, i18n.S(cfg.Lang, "changed: %s", why))
		}
		if err := cfg.Grade(ctx, cfg.Out); err != nil {
			return err
		}
		var dirs []string
		for _, d := range cfg.Dirs {
			dirs = append(dirs, filepath.Base(d)+string(filepath.Separator))
		}
		fmt.Fprintln(cfg.Out, i18n.S(cfg.Lang, "\nwatching %s for changes; Ctrl-C to stop", strings.Join(dirs, ", ")))
		if cfg.Graded != nil {
			cfg.Graded()
		}
		return nil
	}
	if err := grade(""); err != nil {
		return quiet(ctx, err)
	}

	var (
		timer   *time.Timer
		fire    <-chan time.Time
		changed string
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			fmt.Fprintln(cfg.Out, i18n.S(cfg.Lang, "watching: %v", err))
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !relevant(ev) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					_ = addTree(w, ev.Name)
				}
			}
			changed = ev.Name
			if timer == nil {
				timer = time.NewTimer(cfg.Debounce)
			} else {
				timer.Reset(cfg.Debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			if err := grade(relativeTo(cfg.Dirs, changed)); err != nil {
				return quiet(ctx, err)
			}
		}
	}
}

// quiet returns nil when err is only ctx ending: stopping the watch is not an error.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

// addTree watches dir and the directories below it, hidden ones left out.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

// relevant reports whether an event may change a grade: a file written, made, removed or
// renamed, not an editor's scratch file or a change of mode.
func relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	switch {
	case strings.HasPrefix(base, "."), strings.HasPrefix(base, "#"), strings.HasSuffix(base, "~"),
		strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, ".tmp"),
		base == "4913": // vim checks that it may write the directory with this file
		return false
	}
	return true
}

// relativeTo shows path relative to the parent of the watched directory it is in.
func relativeTo(dirs []string, path string) string {
	for _, d := range dirs {
		if rel, err := filepath.Rel(filepath.Dir(d), path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}
