// Package progress shows how far a grading has got, one line at a time on standard error:
// which exercise started, which reached its slow stage, which finished and how, and, while a
// long one runs, a reminder of what is still running.
package progress

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// Printer writes progress lines. It is safe for concurrent use.
type Printer struct {
	w    io.Writer
	lang i18n.Lang
	now  func() time.Time

	mu      sync.Mutex
	done    int
	total   int
	running map[string]time.Time
	stage   map[string]grade.Stage
}

// New returns a printer that writes to w in l.
func New(w io.Writer, l i18n.Lang) *Printer {
	return &Printer{w: w, lang: l, now: time.Now, running: map[string]time.Time{}, stage: map[string]grade.Stage{}}
}

// IsTerminal reports whether w is a terminal: progress is for a person watching.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Event shows one event of a grading (see grade.Options.Progress).
func (p *Printer) Event(ev grade.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = ev.Total
	switch ev.Stage {
	case grade.Started:
		p.running[ev.Exercise] = p.now()
		p.stage[ev.Exercise] = ev.Stage
		p.line("grading %s…", ev.Exercise)
	case grade.StudentTests:
		p.stage[ev.Exercise] = ev.Stage
		p.line("%s: running your own tests against the reference solution and the wrong implementations…", ev.Exercise)
	case grade.Graded:
		delete(p.running, ev.Exercise)
		delete(p.stage, ev.Exercise)
		p.done = ev.Done
		cached := i18n.Text{}
		if ev.Cached {
			cached = i18n.T(" (cached)")
		}
		p.line("%s: %d/%d met in %s%s", ev.Exercise, ev.Met, ev.Criteria, report.Duration(ev.Elapsed), cached)
	}
}

// line writes one line, prefixed with how many exercises are done. The caller holds p.mu.
func (p *Printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, "[%d/%d] %s\n", p.done, p.total, i18n.S(p.lang, format, args...))
}

// Tick writes what is still running and for how long, if anything is.
func (p *Printer) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.running) == 0 {
		return
	}
	var names []string
	for ex := range p.running {
		names = append(names, ex)
	}
	slices.Sort(names)
	var parts []string
	for _, ex := range names {
		part := fmt.Sprintf("%s (%s)", ex, report.Duration(p.now().Sub(p.running[ex])))
		if p.stage[ex] == grade.StudentTests {
			part = i18n.S(p.lang, "%s (%s, your own tests)", ex, report.Duration(p.now().Sub(p.running[ex])))
		}
		parts = append(parts, part)
	}
	p.line("still grading: %s", strings.Join(parts, ", "))
}

// Run calls Tick every interval until ctx ends.
func (p *Printer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Tick()
		}
	}
}
