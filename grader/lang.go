package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/progress"
)

// errUsage marks a usage error that the catalog translates (see usagef).
var errUsage = errors.New("usage error")

// usagef returns a usage error with the catalog message format.
func usagef(format string, args ...any) error { return i18n.Errorf(errUsage, format, args...) }

// langOf returns the language the command line asks for with -lang (looked for before the
// flags are parsed, so that errors in them are told in it), else the environment's.
func langOf(args []string, getenv func(string) string) i18n.Lang {
	for i, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "lang" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		if l, ok := i18n.Parse(value); ok {
			return l
		}
	}
	return i18n.FromEnv(getenv)
}

// localizeFlags puts the flags' descriptions in l.
func localizeFlags(fs *flag.FlagSet, l i18n.Lang) {
	fs.VisitAll(func(f *flag.Flag) { f.Usage = i18n.S(l, f.Usage) })
}

// The errors of the flag package, which says them in English.
var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -(.*)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -(.*)$`)
	flagBadValue  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for flag -([^:]*): (.*)$`)
)

// flagError turns an error of the flag package into a usage error the catalog translates.
func flagError(err error) error {
	msg := err.Error()
	if m := flagUndefined.FindStringSubmatch(msg); m != nil {
		return usagef("flag provided but not defined: -%s", m[1])
	}
	if m := flagNoValue.FindStringSubmatch(msg); m != nil {
		return usagef("flag needs an argument: -%s", m[1])
	}
	if m := flagBadValue.FindStringSubmatch(msg); m != nil {
		why := i18n.Plain(m[3])
		switch m[3] {
		case "parse error":
			why = i18n.T("parse error")
		case "value out of range":
			why = i18n.T("value out of range")
		}
		return usagef("invalid value %q for flag -%s: %s", m[1], m[2], why)
	}
	return usageError{msg}
}

// printDefaults writes the flags and their descriptions as flag.PrintDefaults does, with the
// words it adds in l.
func printDefaults(fs *flag.FlagSet, l i18n.Lang) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		if len(line) <= 4 { // a one-letter flag without a value: usage on the same line
			line += "\t"
		} else {
			line += "\n    \t"
		}
		line += strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" { // as flag.PrintDefaults does
				line += i18n.S(l, " (default %q)", f.DefValue)
			} else {
				line += i18n.S(l, " (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(fs.Output(), line)
	})
}

// showProgress prints the grading's progress on stderr when a person is watching it there,
// and returns the function that stops it.
func showProgress(ctx context.Context, cfg *config, stderr io.Writer) (stop func()) {
	if cfg.quiet || !progress.IsTerminal(stderr) {
		return func() {}
	}
	p := progress.New(stderr, cfg.lang)
	cfg.opts.Progress = p.Event
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx, 15*time.Second) })
	return func() {
		cancel()
		wg.Wait()
	}
}
