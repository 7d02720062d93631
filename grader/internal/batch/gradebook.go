package batch

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	workbook "github.com/microservices-workbook/workbook"
	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// column is one column of the gradebook.
type column struct {
	name  string
	value func(Row) string
}

// columns returns the gradebook's columns for the exercises the batch grades: the student,
// the row's status, the points (criteria weights met) of each exercise, the level of each
// rubric category, the total and its band, and the exercises tampered with or needing review
// and the criteria not verified.
func columns(exercises []*manifest.Manifest) []column {
	graded := func(f func(*report.Report) string) func(Row) string {
		return func(r Row) string {
			if r.Report == nil {
				return ""
			}
			return f(r.Report)
		}
	}
	cols := []column{
		{"student", func(r Row) string { return r.Student }},
		{"status", func(r Row) string { return r.Status }},
	}
	for _, m := range exercises {
		total := 0
		for _, c := range m.Criteria {
			total += c.Weight
		}
		cols = append(cols, column{fmt.Sprintf("%s (of %d)", m.Exercise, total), graded(func(rep *report.Report) string {
			for _, ex := range rep.Exercises {
				if ex.ID == m.Exercise {
					return strconv.Itoa(points(ex))
				}
			}
			return ""
		})})
	}
	for _, c := range manifest.Categories() {
		cols = append(cols, column{string(c), graded(func(rep *report.Report) string {
			for _, rc := range rep.Rubric {
				if rc.Category == string(c) && rc.Level > 0 {
					return strconv.Itoa(rc.Level)
				}
			}
			return ""
		})})
	}
	cols = append(cols,
		column{"total", graded(func(rep *report.Report) string { return strconv.Itoa(rep.Score) })},
		column{"max", graded(func(rep *report.Report) string { return strconv.Itoa(rep.MaxScore) })},
		column{"band", graded(func(rep *report.Report) string { return rep.Band })},
		column{"tampered", graded(func(rep *report.Report) string {
			return exercisesWhere(rep, func(ex report.Exercise) bool { return ex.Tampered })
		})},
		column{"needs_review", graded(func(rep *report.Report) string {
			return exercisesWhere(rep, func(ex report.Exercise) bool { return ex.NeedsReview && !ex.Reviewed })
		})},
		column{"not_verified", graded(func(rep *report.Report) string { return strings.Join(rep.NotVerified, " ") })},
		column{"note", func(r Row) string { return r.Note }},
		column{"report", func(r Row) string {
			if r.Report == nil {
				return ""
			}
			return r.ReportFile
		}},
	)
	return cols
}

// points is the weight of an exercise's criteria that are met.
func points(ex report.Exercise) int {
	n := 0
	for _, c := range ex.Criteria {
		if c.Status == report.Met {
			n += c.Weight
		}
	}
	return n
}

func exercisesWhere(rep *report.Report, f func(report.Exercise) bool) string {
	var ids []string
	for _, ex := range rep.Exercises {
		if f(ex) {
			ids = append(ids, ex.ID)
		}
	}
	return strings.Join(ids, " ")
}

// WriteGradebook writes the rows as CSV, one column per exercise of exercises.
func WriteGradebook(w io.Writer, rows []Row, exercises []*manifest.Manifest) error {
	cols := columns(exercises)
	cw := csv.NewWriter(w)
	var rec []string
	for _, c := range cols {
		rec = append(rec, c.name)
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, r := range rows {
		rec = rec[:0]
		for _, c := range cols {
			rec = append(rec, cell(c.value(r)))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a value from being read as a formula by a spreadsheet (a student name can be
// anything): a text that starts with =, +, -, @ or a control character gets a leading quote.
func cell(s string) string {
	if s == "" {
		return s
	}
	if _, err := strconv.Atoi(s); err == nil {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// gradedExercises returns the manifests of the exercises the batch grades, in order.
func gradedExercises(opts grade.Options) ([]*manifest.Manifest, error) {
	files := workbook.Pristine()
	if opts.Pristine != nil {
		files = opts.Pristine.Files
	}
	all, err := manifest.Load(files)
	if err != nil {
		return nil, err
	}
	return grade.Select(all, opts.Exercises)
}

func writeGradebookFile(name string, rows []Row, opts grade.Options) error {
	exercises, err := gradedExercises(opts)
	if err != nil {
		return err
	}
	return writeFile(name, func(w io.Writer) error { return WriteGradebook(w, rows, exercises) })
}
