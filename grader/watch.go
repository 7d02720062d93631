package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/pristine"
	"github.com/microservices-workbook/workbook/grader/internal/progress"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/watch"
)

// runWatch grades the selected exercises, then again on every saved change, until ctx ends.
func runWatch(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	dirs, err := watchedDirs(cfg)
	if err != nil {
		fmt.Fprint(stderr, i18n.S(cfg.lang, "grader: %s\n", i18n.Message(err, cfg.lang)))
		return exitUsage
	}
	err = watch.Run(ctx, watch.Config{
		Dirs:  dirs,
		Out:   stdout,
		Clear: progress.IsTerminal(stdout),
		Lang:  cfg.lang,
		Grade: func(ctx context.Context, w io.Writer) error {
			fmt.Fprintln(w, i18n.S(cfg.lang, "grading…"))
			rep, err := grade.Grade(ctx, cfg.opts)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				fmt.Fprint(w, i18n.S(cfg.lang, "grader: %s\n", i18n.Message(err, cfg.lang)))
				return nil
			}
			return report.WriteWatch(w, rep, cfg.lang)
		},
	})
	if err != nil {
		fmt.Fprint(stderr, i18n.S(cfg.lang, "grader: %s\n", i18n.Message(err, cfg.lang)))
		return exitFailed
	}
	return exitOK
}

// watchedDirs returns the directories of the exercises the options select.
func watchedDirs(cfg *config) ([]string, error) {
	set := cfg.opts.Pristine
	if set == nil {
		var err error
		if set, err = pristine.Embedded(); err != nil {
			return nil, err
		}
	}
	all, err := manifest.Load(set.Files)
	if err != nil {
		return nil, err
	}
	selected, err := grade.Select(all, cfg.opts.Exercises)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range selected {
		d := filepath.Join(cfg.opts.Root, m.Dir)
		if cfg.opts.Solutions {
			d = filepath.Join(cfg.opts.Root, "solutions", m.Dir)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}
