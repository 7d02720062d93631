package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/batch"
	"github.com/microservices-workbook/workbook/grader/internal/export"
	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// runExport writes the student edition of the workbook.
func runExport(ctx context.Context, wd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grader export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts export.Options
	dir := fs.String("dir", "", "export the workbook at `DIR` (default: the workbook containing the current directory)")
	fs.StringVar(&opts.Dest, "o", "", "write the edition to `DIR` (new, or empty; outside the workbook)")
	fs.StringVar(&opts.GraderRef, "grader-ref", "", "the `tag` (or commit) of the trusted workbook whose grader the edition's workflow builds")
	fs.StringVar(&opts.GraderRepository, "grader-repo", export.DefaultGraderRepository, "the GitHub `repository` (owner/name) of that trusted workbook: this one, or your own copy")
	quiet := fs.Bool("q", false, "print nothing when it worked")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./grader export -o DIR -grader-ref TAG [flags]\n\n"+
			"Writes the student edition of the workbook to DIR: the exercises, the grader, the README, the\n"+
			"autograding workflow and the Gradescope scripts, without the solutions, the mutants or the\n"+
			"grader's own tests.\n\nflags:\n")
		fs.PrintDefaults()
	}
	err := parseFlags(fs, args)
	if err == nil {
		switch {
		case fs.NArg() > 0:
			err = usageError{"export takes no arguments, only flags"}
		case opts.Dest == "":
			err = usageError{"name the directory to write the edition to with -o"}
		case opts.GraderRef == "":
			err = usageError{"name the tag of the trusted workbook that the edition's workflow grades with: -grader-ref vX.Y.Z"}
		}
	}
	if err == nil {
		opts.Root, err = findRoot(wd, *dir)
	}
	if code, done := parseFailure(err, "export", stderr); done {
		return code
	}
	res, err := export.Export(ctx, opts)
	if errors.Is(err, export.ErrUsage) {
		fmt.Fprintf(stderr, "grader: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "grader: export: %v\n", err)
		return exitFailed
	}
	if !*quiet {
		fmt.Fprintf(stdout, "wrote the student edition to %s: %d files (%d of the workbook's left out: the solutions, the mutants, the grader's tests and test data)\n",
			opts.Dest, len(res.Files), len(res.Omitted))
	}
	return exitOK
}

// runBatch grades a class.
func runBatch(ctx context.Context, wd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grader batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts   batch.Options
		gf     gradingFlags
		format = fs.String("format", string(report.Markdown), "`format` of each student's readable report, beside its JSON: "+formatList())
		quiet  = fs.Bool("q", false, "print nothing on standard error but errors")
	)
	gf.register(fs)
	fs.StringVar(&opts.Out, "o", "grades", "write the reports and "+batch.GradebookFile+" to `DIR`")
	fs.IntVar(&opts.Jobs, "j", runtime.NumCPU(), "grade up to `N` checkouts at once")
	fs.IntVar(&opts.Grade.Parallel, "p", 0, "grade up to `N` exercises, builds and runs at once within a checkout (default: the CPUs shared out between the -j checkouts)")
	fs.DurationVar(&opts.CheckoutTimeout, "checkout-timeout", 30*time.Minute, "time limit for grading one checkout")
	fs.BoolVar(&opts.Force, "force", false, "grade every checkout, even one whose report is newer than its last change")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./grader batch [flags] CHECKOUTS-DIR|ROSTER.csv [exNN | exNN.criterion ...]\n\n"+
			"Grades every student's checkout with this grader (trusted mode, sandboxed): each directory of\n"+
			"CHECKOUTS-DIR that holds a go.mod (the student is the directory's name), or each row of a CSV\n"+
			"roster whose header names the columns student and dir. Writes DIR/STUDENT.json, a readable\n"+
			"report per student, and DIR/%s. A checkout whose report is newer than its last change\n"+
			"(and than the grader) is not graded again.\n\nflags:\n", batch.GradebookFile)
		fs.PrintDefaults()
	}
	err := parseFlags(fs, args)
	if err == nil {
		err = gf.apply(&opts.Grade)
	}
	if err == nil {
		opts.Format = report.Format(*format)
		switch {
		case fs.NArg() == 0:
			err = usageError{"name the directory of checkouts, or the roster CSV, to grade"}
		case !slices.Contains(report.Formats(), opts.Format) || opts.Format == report.JSON:
			err = usageError{fmt.Sprintf("-format %q: want one of %s but json (always written)", *format, formatList())}
		case opts.Jobs < 1:
			err = usageError{"-j must be at least 1"}
		case opts.Grade.Parallel < 0:
			err = usageError{"-p must be at least 1"}
		case opts.CheckoutTimeout <= 0:
			err = usageError{"-checkout-timeout must be positive"}
		}
	}
	if err == nil {
		opts.Checkouts, err = checkouts(wd, fs.Arg(0))
		opts.Grade.Exercises = fs.Args()[1:]
	}
	if err == nil {
		var all []*manifest.Manifest
		if all, err = manifest.Load(workbook.Pristine()); err == nil {
			if _, serr := grade.Select(all, opts.Grade.Exercises); serr != nil {
				err = usageError{serr.Error()}
			}
		}
	}
	if code, done := parseFailure(err, "batch", stderr); done {
		return code
	}
	if !filepath.IsAbs(opts.Out) && wd != "" {
		opts.Out = filepath.Join(wd, opts.Out)
	}
	if !*quiet && isTerminal(stderr) {
		opts.Progress = stderr
	}
	start := time.Now()
	rows, err := batch.Run(ctx, opts)
	if errors.Is(err, grade.ErrNoSandbox) {
		fmt.Fprintf(stderr, "grader: %v\n", err)
		return exitUsage
	}
	if err != nil && ctx.Err() != nil {
		fmt.Fprintf(stderr, "grader: the batch was stopped (%v); %s has what was graded: run it again to grade the rest\n",
			context.Cause(ctx), filepath.Join(opts.Out, batch.GradebookFile))
		return exitFailed
	}
	if err != nil {
		fmt.Fprintf(stderr, "grader: batch: %v\n", err)
		return exitFailed
	}
	if !*quiet {
		counts := map[string]int{}
		for _, r := range rows {
			counts[r.Status]++
		}
		noun := "checkouts"
		if len(rows) == 1 {
			noun = "checkout"
		}
		fmt.Fprintf(stderr, "grader: %d %s in %s (%d graded, %d unchanged, %d failed): %s\n",
			len(rows), noun, time.Since(start).Round(time.Second), counts[batch.Graded], counts[batch.Unchanged], counts[batch.Failed],
			filepath.Join(opts.Out, batch.GradebookFile))
	}
	return exitOK
}

// checkouts reads the batch's checkouts from a directory of checkouts or a roster CSV.
func checkouts(wd, arg string) ([]batch.Checkout, error) {
	if !filepath.IsAbs(arg) && wd != "" {
		arg = filepath.Join(wd, arg)
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	var cos []batch.Checkout
	if info.IsDir() {
		cos, err = batch.FromDir(arg)
	} else {
		cos, err = batch.FromRoster(arg)
	}
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return cos, nil
}

// isTerminal reports whether w is a terminal, where a progress bar can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
