// Package batch grades a class: every student's checkout, several at a time within the
// machine's cores, all sharing the go command's build cache and the grader's verdict cache. It
// writes one report per student and a gradebook CSV. A checkout that hangs, crashes, floods its
// output or does not compile is one row of the gradebook like any other: it never stops the
// batch.
package batch

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// Checkout is one student's checkout.
type Checkout struct {
	// Student names the student: their row in the gradebook and their reports' file names.
	Student string
	// Dir is the checkout's module root.
	Dir string
}

// GradeFunc grades one checkout; grade.Grade is the one used outside tests.
type GradeFunc func(context.Context, grade.Options) (*report.Report, error)

// Options configure a batch.
type Options struct {
	// Checkouts are the checkouts to grade, in gradebook order.
	Checkouts []Checkout
	// Out is the directory the reports and the gradebook are written to.
	Out string
	// Grade holds the options every checkout is graded with; Root is set per checkout and
	// Trusted is always on (a student's checkout is someone else's code). Default Parallel:
	// the CPUs shared out between the Jobs.
	Grade grade.Options
	// Jobs bounds the checkouts graded at once. Default: the number of CPUs.
	Jobs int
	// CheckoutTimeout bounds the grading of one checkout. Default 30 minutes.
	CheckoutTimeout time.Duration
	// Force grades every checkout, even one whose report is newer than its last change.
	Force bool
	// Format is the format of each student's readable report, written beside its JSON report.
	// Default Markdown.
	Format report.Format
	// Progress receives a progress bar, redrawn in place; nil for none.
	Progress io.Writer
	// Log receives a line per checkout graded. Default: none.
	Log *slog.Logger
	// GradeFunc grades one checkout. Default grade.Grade.
	GradeFunc GradeFunc
	// Executable is the grader's program: a report older than it is stale. Default: the
	// running program.
	Executable string
}

// The statuses of a gradebook row.
const (
	// Graded: the checkout was graded now.
	Graded = "graded"
	// Unchanged: the checkout has not changed since its report was written, which is used.
	Unchanged = "unchanged"
	// Failed: the checkout could not be graded (see the row's Note); it has no report.
	Failed = "failed"
)

// Row is one student's line of the gradebook.
type Row struct {
	Checkout
	Status string
	// Note says why a checkout failed.
	Note string
	// Report is the checkout's report; nil when it failed.
	Report *report.Report
	// ReportFile is the readable report's file name, relative to Options.Out.
	ReportFile string
	// Duration is how long grading took (0 for an unchanged checkout).
	Duration time.Duration
}

// ErrNoCheckouts is returned for a batch with nothing to grade.
var ErrNoCheckouts = errors.New("no checkouts to grade")

// Run grades the checkouts and writes, in opts.Out, each student's reports (STUDENT.json and
// a readable one) and gradebook.csv. It returns an error only when the batch itself cannot go
// on (the output cannot be written, ctx ends); a checkout that fails is a row.
func Run(ctx context.Context, opts Options) ([]Row, error) {
	if len(opts.Checkouts) == 0 {
		return nil, ErrNoCheckouts
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	names, err := fileNames(opts.Checkouts)
	if err != nil {
		return nil, err
	}
	graderTime := time.Time{}
	if info, err := os.Stat(opts.Executable); err == nil {
		graderTime = info.ModTime()
	}

	// A problem of the machine rather than of a checkout (no sandbox) stops the batch.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	rows := make([]Row, len(opts.Checkouts))
	bar := newProgress(opts.Progress, len(rows))
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, opts.Jobs)
		mu   sync.Mutex
		ferr error
	)
	for i, co := range opts.Checkouts {
		rows[i] = Row{Checkout: co, ReportFile: names[i] + extension(opts.Format)}
		jsonPath := filepath.Join(opts.Out, names[i]+".json")
		readable := filepath.Join(opts.Out, rows[i].ReportFile)
		if !opts.Force {
			if rep := fresh(co.Dir, jsonPath, graderTime); rep != nil {
				rows[i].Status, rows[i].Report = Unchanged, rep
				bar.skip(rows[i])
				continue
			}
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				rows[i].Status, rows[i].Note = Failed, "not graded: the batch was stopped"
				bar.skip(rows[i])
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				rows[i].Status, rows[i].Note = Failed, "not graded: the batch was stopped"
				bar.skip(rows[i])
				return
			}
			bar.start()
			row, err := gradeOne(ctx, opts, rows[i])
			if err != nil {
				stop(err)
			}
			if row.Report != nil {
				if err := writeReports(row.Report, jsonPath, readable, opts.Format); err != nil {
					mu.Lock()
					ferr = errors.Join(ferr, err)
					mu.Unlock()
				}
			}
			rows[i] = row
			bar.done(row)
			opts.Log.Info(fmt.Sprintf("graded %s: %s", co.Student, summary(row)))
		})
	}
	wg.Wait()
	bar.finish()
	if ferr != nil {
		return rows, ferr
	}
	// A stopped batch still writes what it graded: run again, it grades only the rest.
	if err := writeGradebookFile(filepath.Join(opts.Out, GradebookFile), rows, opts.Grade); err != nil {
		return rows, err
	}
	return rows, context.Cause(ctx)
}

// GradebookFile is the gradebook's file name in Options.Out.
const GradebookFile = "gradebook.csv"

func (o *Options) defaults() error {
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Grade.Parallel <= 0 {
		o.Grade.Parallel = max(1, runtime.NumCPU()/o.Jobs)
	}
	if o.CheckoutTimeout <= 0 {
		o.CheckoutTimeout = 30 * time.Minute
	}
	if o.Format == "" {
		o.Format = report.Markdown
	}
	if o.Format == report.JSON {
		return fmt.Errorf("the JSON report is always written: choose another format for the readable one")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.GradeFunc == nil {
		o.GradeFunc = grade.Grade
	}
	if o.Executable == "" {
		o.Executable, _ = os.Executable()
	}
	o.Grade.Trusted = true
	o.Grade.Log = nil
	return nil
}

// gradeOne grades one checkout within the checkout time limit. Whatever happens to the
// checkout (a grading error, a panic of the grader, the time limit) becomes the row's status;
// the error is for what stops the batch (no sandbox on this machine).
func gradeOne(ctx context.Context, opts Options, row Row) (out Row, fatal error) {
	start := time.Now()
	out = row
	defer func() {
		out.Duration = time.Since(start)
		if p := recover(); p != nil {
			out.Status, out.Report = Failed, nil
			out.Note = fmt.Sprintf("the grader failed on this checkout (%v)", p)
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, opts.CheckoutTimeout)
	defer cancel()
	g := opts.Grade
	g.Root = row.Dir
	rep, err := opts.GradeFunc(cctx, g)
	switch {
	case err == nil:
		out.Status, out.Report = Graded, rep
	case errors.Is(err, grade.ErrNoSandbox):
		out.Status, out.Note, fatal = Failed, "not graded: the batch was stopped", err
	case ctx.Err() != nil:
		out.Status, out.Note = Failed, "not graded: the batch was stopped"
	case cctx.Err() != nil:
		out.Status, out.Note = Failed, fmt.Sprintf("grading stopped after the %s limit for one checkout", opts.CheckoutTimeout)
	default:
		out.Status, out.Note = Failed, "not graded: "+err.Error()
	}
	return out, fatal
}

func summary(r Row) string {
	if r.Report == nil {
		return r.Note
	}
	return fmt.Sprintf("%d/%d in %s", r.Report.Score, r.Report.MaxScore, r.Duration.Round(100*time.Millisecond))
}

// fresh returns the report at jsonPath when it is newer than the checkout's last change and
// than the grader, and is of this grader's schema; else nil.
func fresh(dir, jsonPath string, graderTime time.Time) *report.Report {
	info, err := os.Stat(jsonPath)
	if err != nil {
		return nil
	}
	changed, err := LastChange(dir)
	if err != nil || !info.ModTime().After(changed) || !info.ModTime().After(graderTime) {
		return nil
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	rep, err := report.Read(f)
	if err != nil {
		return nil
	}
	return rep
}

// LastChange returns the time of the latest change under dir: the newest modification time
// of its files and directories (a directory's changes when an entry is added, removed or
// renamed), the .git directory left out.
func LastChange(dir string) (time.Time, error) {
	var last time.Time
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(last) {
			last = info.ModTime()
		}
		return nil
	})
	return last, err
}

// writeReports writes a checkout's JSON report and its readable one, each atomically.
func writeReports(rep *report.Report, jsonPath, readable string, format report.Format) error {
	if err := writeFile(readable, func(w io.Writer) error { return report.Write(w, rep, format) }); err != nil {
		return err
	}
	// The JSON report last: its time says the grading is complete.
	return writeFile(jsonPath, func(w io.Writer) error { return report.Write(w, rep, report.JSON) })
}

func writeFile(name string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-")
	if err != nil {
		return err
	}
	werr := write(tmp)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

func extension(f report.Format) string {
	switch f {
	case report.Markdown:
		return ".md"
	case report.JUnit:
		return ".xml"
	case report.Gradescope:
		return ".gradescope.json"
	case report.Classroom:
		return ".classroom.txt"
	}
	return ".txt"
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileNames returns each checkout's report file name (without extension): the student's name
// made safe for a file name, distinct for every student.
func fileNames(cos []Checkout) ([]string, error) {
	seen := map[string]string{}
	var out []string
	for _, co := range cos {
		if strings.TrimSpace(co.Student) == "" {
			return nil, fmt.Errorf("the checkout %s has no student name", co.Dir)
		}
		n := strings.Trim(unsafeName.ReplaceAllString(co.Student, "_"), "._")
		if n == "" || strings.EqualFold(n, strings.TrimSuffix(GradebookFile, ".csv")) {
			n = "student_" + n
		}
		if other, ok := seen[strings.ToLower(n)]; ok {
			return nil, fmt.Errorf("students %q and %q would share the report file %s.json", other, co.Student, n)
		}
		seen[strings.ToLower(n)] = co.Student
		out = append(out, n)
	}
	return out, nil
}

// FromDir returns the checkouts in dir: each of its directories holding a go.mod, named after
// the directory, in name order.
func FromDir(dir string) ([]Checkout, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Checkout
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err != nil {
			continue
		}
		out = append(out, Checkout{Student: e.Name(), Dir: p})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no directory of %s holds a go.mod", ErrNoCheckouts, dir)
	}
	return out, nil
}

// FromRoster reads a roster CSV: a header row naming the columns student and dir (others are
// ignored), then one row per student. A relative dir is relative to the roster's directory.
func FromRoster(name string) ([]Checkout, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	si, ok1 := col["student"]
	di, ok2 := col["dir"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: the first row must name the columns student and dir (it has %s)", name, strings.Join(header, ", "))
	}
	base := filepath.Dir(name)
	var out []Checkout
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) <= max(si, di) {
			return nil, fmt.Errorf("%s:%d: a row needs the student and dir columns", name, line)
		}
		student, dir := strings.TrimSpace(rec[si]), strings.TrimSpace(rec[di])
		if student == "" && dir == "" {
			continue
		}
		if student == "" || dir == "" {
			return nil, fmt.Errorf("%s:%d: a row needs both a student and a dir", name, line)
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		out = append(out, Checkout{Student: student, Dir: dir})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s names no student", ErrNoCheckouts, name)
	}
	return out, nil
}
