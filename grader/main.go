// Command grader grades a checkout of the workbook against the criteria of its exercises and
// scores it on the 24-point rubric.
//
// Usage:
//
//	go run ./grader [flags] [exNN | exNN.criterion ...]
//
// With no exercise named it grades every exercise; a criterion id grades just that criterion. It grades with its own pristine copies of the
// test files; run it from a trusted copy (for example a tagged version of the module) to make it
// tamper-proof.
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
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
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
	minScore int
	quiet    bool
	verbose  bool
	lang     i18n.Lang
	watch    bool
}

func parse(wd string, args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("grader", flag.ContinueOnError)
	// The grader says what is wrong with the command line itself, in the student's language.
	fs.SetOutput(io.Discard)
	var (
		cfg      = config{lang: langOf(args, os.Getenv)}
		lang     = fs.String("lang", "", "`language` of the report and messages: en or es (default: es when LC_ALL, LC_MESSAGES or LANG starts with es)")
		dir      = fs.String("dir", "", "grade the checkout at `DIR` (default: the workbook containing the current directory)")
		format   = fs.String("format", "text", "report `format`: text, json, markdown or junit")
		noRace   = fs.Bool("no-race", false, "run the tests without the race detector (the race check is then unmet)")
		exLimit  = fs.Duration("timeout", 10*time.Minute, "time limit for each exercise, builds included")
		tLimit   = fs.Duration("test-timeout", 2*time.Minute, "time limit for one run of an exercise's tests (go test -timeout)")
		noCache  = fs.Bool("no-cache", false, "grade every exercise again, even those whose inputs have not changed")
		count    = fs.Int("count", 0, "with 1, as -no-cache (go test's spelling)")
		reviewed = fs.String("reviewed", "", "comma-separated `exercises` whose review findings you have checked and accept")
		memory   = fs.Int("memory", 4096, "most memory, in `MiB`, that one run of an exercise's tests may use")
		isolate  = fs.String("sandbox", "auto", "how the exercises' code runs: auto (bubblewrap where it works), bubblewrap, or none (as you; with -dir only with -unsandboxed)")
	)
	fs.BoolVar(&cfg.opts.Solutions, "solutions", false, "grade the reference solutions in solutions/ instead of the exercises")
	fs.StringVar(&cfg.out, "o", "", "write the report to `FILE` instead of standard output")
	fs.IntVar(&cfg.minScore, "min-score", 0, "exit with status 1 when the score is lower than `N` (out of the report's max_score)")
	fs.BoolVar(&cfg.quiet, "q", false, "do not print progress on standard error")
	fs.BoolVar(&cfg.verbose, "v", false, "also print how long each build and run took")
	fs.BoolVar(&cfg.opts.Unsandboxed, "unsandboxed", false, "with -dir, grade even where no sandbox is available (the checkout's code then runs as you)")
	fs.IntVar(&cfg.opts.Parallel, "p", runtime.NumCPU(), "grade up to `N` exercises, builds and runs at once")
	fs.BoolVar(&cfg.watch, "watch", false, "grade once, then again on every saved change in the exercises, until Ctrl-C")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), i18n.S(cfg.lang, "usage: go run ./grader [flags] [exNN | exNN.criterion ...]\n\nGrades the workbook's exercises (all when none is named) and scores them on the 24-point rubric.\n\nflags:\n"))
		printDefaults(fs, cfg.lang)
	}
	localizeFlags(fs, cfg.lang)
	if err := fs.Parse(args); err != nil {
		fs.SetOutput(stderr)
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return nil, err
		}
		return nil, flagError(err)
	}
	if *lang != "" {
		l, ok := i18n.Parse(*lang)
		if !ok {
			return nil, usagef("unknown -lang %q: want en or es", *lang)
		}
		cfg.lang = l
	}
	cfg.format = report.Format(*format)
	if !slices.Contains(report.Formats(), cfg.format) {
		return nil, usagef("unknown -format %q: want text, json, markdown or junit", *format)
	}
	if *exLimit <= 0 || *tLimit <= 0 {
		return nil, usagef("-timeout and -test-timeout must be positive")
	}
	if cfg.minScore < 0 {
		return nil, usagef("-min-score must not be negative")
	}
	if cfg.opts.Parallel < 1 {
		return nil, usagef("-p must be at least 1")
	}
	if *memory < 64 {
		return nil, usagef("-memory must be at least 64 (MiB)")
	}
	cfg.opts.Limits.Memory = int64(*memory) << 20
	switch *isolate {
	case "auto":
	case string(sandbox.Bubblewrap), string(sandbox.None):
		cfg.opts.Sandbox = sandbox.Kind(*isolate)
	default:
		return nil, usagef("unknown -sandbox %q: want auto, bubblewrap or none", *isolate)
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
	if !*noCache && *count != 1 {
		if d, err := cache.DefaultDir(); err == nil {
			cfg.opts.CacheDir = d
		}
	}
	cfg.opts.Exercises = fs.Args()
	cfg.opts.NoRace = *noRace
	cfg.opts.ExerciseTimeout = *exLimit
	cfg.opts.TestTimeout = *tLimit
	return &cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIn(ctx, "", args, stdout, stderr)
}

// runIn runs the command as if started in the directory wd (the process's own when empty).
func runIn(ctx context.Context, wd string, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(wd, args, stderr)
	lang := langOf(args, os.Getenv)
	if cfg != nil {
		lang = cfg.lang
	}
	var uerr usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &uerr) || errors.Is(err, errUsage):
		fmt.Fprint(stderr, i18n.S(lang, "grader: %s\nRun 'go run ./grader -h' for usage.\n", i18n.Message(err, lang)))
		return exitUsage
	case err != nil:
		fmt.Fprint(stderr, i18n.S(lang, "grader: %s\n", i18n.Message(err, lang)))
		return exitFailed
	}
	level := slog.LevelInfo
	switch {
	case cfg.quiet:
		level = slog.LevelError
	case cfg.verbose:
		level = slog.LevelDebug
	}
	cfg.opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cfg.watch {
		return runWatch(ctx, cfg, stdout, stderr)
	}
	stopProgress := showProgress(ctx, cfg, stderr)

	rep, err := grade.Grade(ctx, cfg.opts)
	stopProgress()
	if errors.Is(err, grade.ErrUnknownExercise) || errors.Is(err, grade.ErrNoSandbox) {
		fmt.Fprint(stderr, i18n.S(lang, "grader: %s\n", i18n.Message(err, lang)))
		return exitUsage
	}
	if err != nil {
		fmt.Fprint(stderr, i18n.S(lang, "grader: %s\n", i18n.Message(err, lang)))
		return exitFailed
	}
	if err := write(rep, cfg, stdout); err != nil {
		fmt.Fprint(stderr, i18n.S(lang, "grader: writing the report: %v\n", err))
		return exitFailed
	}
	if cfg.minScore > 0 && rep.Score < cfg.minScore {
		fmt.Fprint(stderr, i18n.S(lang, "grader: score %d/%d is below -min-score %d\n", rep.Score, rep.MaxScore, cfg.minScore))
		return exitLowScore
	}
	return exitOK
}

func write(rep *report.Report, cfg *config, stdout io.Writer) (err error) {
	if cfg.out == "" {
		return report.WriteIn(stdout, rep, cfg.format, cfg.lang)
	}
	f, err := os.Create(cfg.out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	w := bufio.NewWriter(f)
	if err := report.WriteIn(w, rep, cfg.format, cfg.lang); err != nil {
		return err
	}
	return w.Flush()
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
			return "", usagef("-dir %s: no go.mod there", dir)
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
			return "", usagef("not inside the workbook (no go.mod declaring %s here or above); use -dir", modulePath)
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
