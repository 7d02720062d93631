package batch

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a progress bar on a terminal: one line, redrawn in place as checkouts start
// and finish.
type progress struct {
	mu                                   sync.Mutex
	w                                    io.Writer
	total, completed, running, unchanged int
	failed                               int
	began                                time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, began: time.Now()}
}

// start records a checkout whose grading begins.
func (p *progress) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running++
	p.draw()
}

// done records a checkout whose grading ended.
func (p *progress) done(r Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	p.count(r)
}

// skip records a checkout left unchanged since its report.
func (p *progress) skip(r Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count(r)
}

func (p *progress) count(r Row) {
	p.completed++
	switch r.Status {
	case Unchanged:
		p.unchanged++
	case Failed:
		p.failed++
	}
	p.draw()
}

func (p *progress) draw() {
	if p.w == nil {
		return
	}
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = width * p.completed / p.total
	}
	elapsed := time.Since(p.began).Round(time.Second)
	line := fmt.Sprintf("[%s%s] %d/%d checkouts · %d grading · %d unchanged · %d failed · %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.completed, p.total, p.running, p.unchanged, p.failed, elapsed)
	graded := p.completed - p.unchanged
	if graded > 0 && p.completed < p.total {
		left := time.Duration(float64(time.Since(p.began)) / float64(graded) * float64(p.total-p.completed)).Round(time.Second)
		line += fmt.Sprintf(" · about %s left", left)
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
}

// finish ends the bar's line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
