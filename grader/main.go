// Command grader grades a checkout of the workbook against the criteria of its exercises and
// scores it on the 24-point rubric.
//
// Usage:
//
//	go run ./grader [flags] [exNN | exNN.criterion ...]
//	go run ./grader export -o DIR -grader-ref TAG [flags]
//	go run ./grader batch [flags] CHECKOUTS-DIR|ROSTER.csv [exNN ...]
//
// With no exercise named it grades every exercise; a criterion id grades just that criterion. It grades with its own pristine copies of the
// test files; run it from a trusted copy (for example a tagged version of the module) to make it
// tamper-proof. export writes the student edition of the workbook (package export); batch
// grades a class of checkouts into a gradebook (package batch).
//
// Exit status: 0 when it graded, whatever the score; 1 when -min-score is set and the score is
// lower; 2 on a usage error; 3 when grading itself failed.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/cache"
	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
)

// The exit statuses.
const (
	exitOK       = 0
	exitLowScore = 1
	exitUsage    = 2
	exitFailed   = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a problem with the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type config struct {
	opts     grade.Options
	format   report.Format
	out      string
	from     string
	minScore int
	quiet    bool
	verbose  bool
}

// gradingFlags are the flags that set how checkouts are graded, shared by grading one
// checkout and by the batch.
type gradingFlags struct {
	noRace, noCache, unsandboxed bool
	exLimit, tLimit              time.Duration
	count, memory                int
	isolate                      string
}

func (g *gradingFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&g.noRace, "no-race", false, "run the tests without the race detector (the race check is then unmet)")
	fs.DurationVar(&g.exLimit, "timeout", 10*time.Minute, "time limit for each exercise, builds included")
	fs.DurationVar(&g.tLimit, "test-timeout", 2*time.Minute, "time limit for one run of an exercise's tests (go test -timeout)")
	fs.BoolVar(&g.noCache, "no-cache", false, "grade every exercise again, even those whose inputs have not changed")
	fs.IntVar(&g.count, "count", 0, "with 1, as -no-cache (go test's spelling)")
	fs.IntVar(&g.memory, "memory", 4096, "most memory, in `MiB`, that one run of an exercise's tests may use")
	fs.BoolVar(&g.unsandboxed, "unsandboxed", false, "with -dir, grade even where no sandbox is available (the checkout's code then runs as you)")
	fs.StringVar(&g.isolate, "sandbox", "auto", "how the exercises' code runs: auto (bubblewrap where it works), bubblewrap, or none (as you; with -dir only with -unsandboxed)")
}

// apply checks the flags and sets them in opts.
func (g *gradingFlags) apply(opts *grade.Options) error {
	if g.exLimit <= 0 || g.tLimit <= 0 {
		return usageError{"-timeout and -test-timeout must be positive"}
	}
	if g.memory < 64 {
		return usageError{"-memory must be at least 64 (MiB)"}
	}
	opts.Limits.Memory = int64(g.memory) << 20
	switch g.isolate {
	case "auto":
	case string(sandbox.Bubblewrap), string(sandbox.None):
		opts.Sandbox = sandbox.Kind(g.isolate)
	default:
		return usageError{fmt.Sprintf("unknown -sandbox %q: want auto, bubblewrap or none", g.isolate)}
	}
	if !g.noCache && g.count != 1 {
		if d, err := cache.DefaultDir(); err == nil {
			opts.CacheDir = d
		}
	}
	opts.NoRace = g.noRace
	opts.Unsandboxed = g.unsandboxed
	opts.ExerciseTimeout = g.exLimit
	opts.TestTimeout = g.tLimit
	return nil
}

// parseFlags parses args with fs, telling a usage error from a request for help.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

func parse(wd string, args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("grader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      config
		gf       gradingFlags
		dir      = fs.String("dir", "", "grade the checkout at `DIR` (default: the workbook containing the current directory)")
		format   = fs.String("format", "text", "report `format`: "+formatList())
		reviewed = fs.String("reviewed", "", "comma-separated `exercises` whose review findings you have checked and accept")
	)
	gf.register(fs)
	fs.BoolVar(&cfg.opts.Solutions, "solutions", false, "grade the reference solutions in solutions/ instead of the exercises")
	fs.StringVar(&cfg.out, "o", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&cfg.from, "from", "", "do not grade: render the JSON report in `FILE` (written earlier with -format json)")
	fs.IntVar(&cfg.minScore, "min-score", 0, "exit with status 1 when the score is lower than `N` (out of the report's max_score)")
	fs.BoolVar(&cfg.quiet, "q", false, "do not print progress on standard error")
	fs.BoolVar(&cfg.verbose, "v", false, "also print how long each build and run took")
	fs.IntVar(&cfg.opts.Parallel, "p", runtime.NumCPU(), "grade up to `N` exercises, builds and runs at once")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./grader [flags] [exNN | exNN.criterion ...]\n"+
			"       go run ./grader export -o DIR -grader-ref REF [flags]\n"+
			"       go run ./grader batch [flags] CHECKOUTS-DIR|ROSTER.csv [exNN ...]\n\n"+
			"Grades the workbook's exercises (all when none is named) and scores them on the 24-point rubric.\n"+
			"export writes the student edition; batch grades a class (see -h of each).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	for _, a := range fs.Args() {
		if a == "export" || a == "batch" {
			return nil, usageError{fmt.Sprintf("%s is a subcommand: put it first (go run ./grader %s …)", a, a)}
		}
	}
	cfg.format = report.Format(*format)
	if !slices.Contains(report.Formats(), cfg.format) {
		return nil, usageError{fmt.Sprintf("unknown -format %q: want %s", *format, formatList())}
	}
	if err := gf.apply(&cfg.opts); err != nil {
		return nil, err
	}
	if cfg.minScore < 0 {
		return nil, usageError{"-min-score must not be negative"}
	}
	if cfg.opts.Parallel < 1 {
		return nil, usageError{"-p must be at least 1"}
	}
	if cfg.from != "" {
		if *dir != "" || cfg.opts.Solutions || fs.NArg() > 0 {
			return nil, usageError{"-from renders a report graded earlier: it takes no -dir, -solutions or exercises"}
		}
		return &cfg, nil
	}
	root, err := findRoot(wd, *dir)
	if err != nil {
		return nil, err
	}
	cfg.opts.Root = root
	// A checkout named with -dir is someone else's: its code is hostile and must be sandboxed.
	cfg.opts.Trusted = *dir != ""
	if *reviewed != "" {
		cfg.opts.Reviewed = strings.Split(*reviewed, ",")
	}
	cfg.opts.Exercises = fs.Args()
	return &cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIn(ctx, "", args, stdout, stderr)
}

// runIn runs the command as if started in the directory wd (the process's own when empty).
func runIn(ctx context.Context, wd string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "export":
			return runExport(ctx, wd, args[1:], stdout, stderr)
		case "batch":
			return runBatch(ctx, wd, args[1:], stdout, stderr)
		}
	}
	cfg, err := parse(wd, args, stderr)
	if code, done := parseFailure(err, "", stderr); done {
		return code
	}
	level := slog.LevelInfo
	switch {
	case cfg.quiet:
		level = slog.LevelError
	case cfg.verbose:
		level = slog.LevelDebug
	}
	cfg.opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var rep *report.Report
	if cfg.from != "" {
		rep, err = readReport(cfg.from)
	} else {
		rep, err = grade.Grade(ctx, cfg.opts)
	}
	if errors.Is(err, grade.ErrUnknownExercise) || errors.Is(err, grade.ErrNoSandbox) || errors.Is(err, grade.ErrNoSolutions) ||
		errors.Is(err, report.ErrVersion) {
		fmt.Fprintf(stderr, "grader: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "grader: %v\n", err)
		return exitFailed
	}
	if err := write(rep, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "grader: writing the report: %v\n", err)
		return exitFailed
	}
	if cfg.minScore > 0 && rep.Score < cfg.minScore {
		fmt.Fprintf(stderr, "grader: score %d/%d is below -min-score %d\n", rep.Score, rep.MaxScore, cfg.minScore)
		return exitLowScore
	}
	return exitOK
}

func write(rep *report.Report, cfg *config, stdout io.Writer) (err error) {
	if cfg.out == "" {
		return report.Write(stdout, rep, cfg.format)
	}
	f, err := os.Create(cfg.out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	w := bufio.NewWriter(f)
	if err := report.Write(w, rep, cfg.format); err != nil {
		return err
	}
	return w.Flush()
}

// parseFailure reports a failure to parse a command line and its exit status; done is false
// when there was none.
func parseFailure(err error, sub string, stderr io.Writer) (code int, done bool) {
	var uerr usageError
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	case errors.As(err, &uerr):
		cmd := "go run ./grader"
		if sub != "" {
			cmd += " " + sub
		}
		fmt.Fprintf(stderr, "grader: %s\nRun '%s -h' for usage.\n", uerr.msg, cmd)
		return exitUsage, true
	}
	fmt.Fprintf(stderr, "grader: %v\n", err)
	return exitFailed, true
}

// readReport reads a JSON report written earlier.
func readReport(name string) (*report.Report, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, err := report.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rep, nil
}

// formatList names the report formats for messages.
func formatList() string {
	var names []string
	for _, f := range report.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// modulePath is the workbook's module path; findRoot looks for a go.mod that declares it.
const modulePath = "github.com/microservices-workbook/workbook"

// findRoot returns dir, or the closest directory above wd (the current one when empty) whose
// go.mod declares the workbook module.
func findRoot(wd, dir string) (string, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
			return "", usageError{fmt.Sprintf("-dir %s: no go.mod there", dir)}
		}
		return abs, nil
	}
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	for d := wd; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && declares(data, modulePath) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", usageError{"not inside the workbook (no go.mod declaring " + modulePath + " here or above); use -dir"}
		}
	}
}

func declares(gomod []byte, module string) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == module {
			return true
		}
	}
	return false
}
