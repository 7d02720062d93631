package batch

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microservices-workbook/workbook/grader/internal/grade"
	"github.com/microservices-workbook/workbook/grader/internal/report"
)

// checkout makes a directory with a go.mod for a student under dir.
func checkout(t *testing.T, dir, student string) Checkout {
	t.Helper()
	p := filepath.Join(dir, student)
	require.NoError(t, os.MkdirAll(filepath.Join(p, "ex07-breaker"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(p, "go.mod"), []byte("module x\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(p, "ex07-breaker", "breaker.go"), []byte("package breaker\n"), 0o644))
	return Checkout{Student: student, Dir: p}
}

// fakeReport is the report of a grading of ex07 in which met criteria are met.
func fakeReport(met int) *report.Report {
	ex := report.Exercise{ID: "ex07", Dir: "ex07-breaker", Build: "ok"}
	for i, id := range []string{"ex07.state-machine", "ex07.thresholds", "ex07.timeout-recovery"} {
		st := report.Unmet
		if i < met {
			st = report.Met
		}
		ex.Criteria = append(ex.Criteria, report.Criterion{ID: id, Weight: 1, Status: st, Category: "resilience"})
	}
	level := 1 + met
	return &report.Report{Version: report.Version, Score: level, MaxScore: 4, Band: "band", NotVerified: []string{},
		Rubric:    []report.Category{{Category: "resilience", Level: level}},
		Exercises: []report.Exercise{ex}}
}

// readGradebook returns the gradebook's rows by student.
func readGradebook(t *testing.T, out string) (header []string, rows map[string]map[string]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(out, GradebookFile))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	rows = map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows[row["student"]] = row
	}
	return recs[0], rows
}

// TestRunWritesReportsAndAGradebook grades four checkouts with a fake grading: one graded, one
// whose grading fails, one that hangs past the checkout time limit and one whose grading
// panics. The batch finishes, each row says what happened, and only graded ones have reports.
func TestRunWritesReportsAndAGradebook(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	cos := []Checkout{checkout(t, dir, "ada"), checkout(t, dir, "bob"), checkout(t, dir, "cy"), checkout(t, dir, "=HYPERLINK(x)")}
	fake := func(ctx context.Context, o grade.Options) (*report.Report, error) {
		assert.True(t, o.Trusted, "a student's checkout is graded in trusted mode")
		assert.Equal(t, []string{"ex07"}, o.Exercises)
		switch filepath.Base(o.Root) {
		case "ada":
			return fakeReport(2), nil
		case "bob":
			return nil, errors.New("the workspace could not be written")
		case "cy":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		panic("a bug of the grader")
	}
	rows, err := Run(context.Background(), Options{
		Checkouts: cos, Out: out, GradeFunc: fake, CheckoutTimeout: 200 * time.Millisecond,
		Grade: grade.Options{Exercises: []string{"ex07"}},
	})
	require.NoError(t, err)
	require.Len(t, rows, 4)

	header, book := readGradebook(t, out)
	assert.Equal(t, []string{"student", "status", "ex07 (of 8)", "architecture", "communication", "resilience", "observability",
		"code_quality", "error_handling", "total", "max", "band", "tampered", "needs_review", "not_verified", "note", "report"}, header)
	ada := book["ada"]
	assert.Equal(t, Graded, ada["status"])
	assert.Equal(t, "2", ada["ex07 (of 8)"])
	assert.Equal(t, "3", ada["resilience"])
	assert.Equal(t, "3", ada["total"])
	assert.Equal(t, "ada.md", ada["report"])
	assert.FileExists(t, filepath.Join(out, "ada.json"))
	assert.FileExists(t, filepath.Join(out, "ada.md"))

	assert.Equal(t, Failed, book["bob"]["status"])
	assert.Contains(t, book["bob"]["note"], "the workspace could not be written")
	assert.Empty(t, book["bob"]["total"])
	assert.NoFileExists(t, filepath.Join(out, "bob.json"))
	assert.Equal(t, Failed, book["cy"]["status"])
	assert.Contains(t, book["cy"]["note"], "grading stopped after the 200ms limit for one checkout")
	hyper := book["'=HYPERLINK(x)"]
	require.NotNil(t, hyper, "a name a spreadsheet would run as a formula is quoted")
	assert.Equal(t, Failed, hyper["status"])
	assert.Contains(t, hyper["note"], "the grader failed on this checkout (a bug of the grader)")
}

// TestUnchangedCheckoutsAreNotGradedAgain runs a batch twice: the second time only the
// checkout changed since its report is graded, and the other keeps its row; -force grades all.
func TestUnchangedCheckoutsAreNotGradedAgain(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	cos := []Checkout{checkout(t, dir, "ada"), checkout(t, dir, "bob")}
	var graded atomic.Int32
	fake := func(_ context.Context, o grade.Options) (*report.Report, error) {
		graded.Add(1)
		return fakeReport(1), nil
	}
	exe := filepath.Join(t.TempDir(), "grader")
	require.NoError(t, os.WriteFile(exe, nil, 0o755))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(exe, old, old))
	for _, co := range cos {
		require.NoError(t, filepath.Walk(co.Dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chtimes(p, old, old)
		}))
	}
	opts := Options{Checkouts: cos, Out: out, GradeFunc: fake, Executable: exe}
	_, err := Run(context.Background(), opts)
	require.NoError(t, err)
	require.EqualValues(t, 2, graded.Load())

	// bob edits a file: only bob is graded again.
	require.NoError(t, os.WriteFile(filepath.Join(cos[1].Dir, "ex07-breaker", "breaker.go"), []byte("package breaker\n\n"), 0o644))
	rows, err := Run(context.Background(), opts)
	require.NoError(t, err)
	assert.EqualValues(t, 3, graded.Load())
	assert.Equal(t, Unchanged, rows[0].Status)
	assert.Equal(t, Graded, rows[1].Status)
	_, book := readGradebook(t, out)
	assert.Equal(t, "2", book["ada"]["total"], "an unchanged checkout keeps its row")

	// A new grader is newer than every report: everything is graded again.
	require.NoError(t, os.Chtimes(exe, time.Now().Add(time.Minute), time.Now().Add(time.Minute)))
	_, err = Run(context.Background(), opts)
	require.NoError(t, err)
	assert.EqualValues(t, 5, graded.Load())

	opts.Executable = filepath.Join(t.TempDir(), "none")
	opts.Force = true
	_, err = Run(context.Background(), opts)
	require.NoError(t, err)
	assert.EqualValues(t, 7, graded.Load())
}

// TestNoSandboxStopsTheBatch: a machine without a sandbox fails every checkout alike, so the
// batch stops at once with that error.
func TestNoSandboxStopsTheBatch(t *testing.T) {
	dir := t.TempDir()
	var cos []Checkout
	for i := range 6 {
		cos = append(cos, checkout(t, dir, fmt.Sprintf("s%d", i)))
	}
	var calls atomic.Int32
	fake := func(context.Context, grade.Options) (*report.Report, error) {
		calls.Add(1)
		return nil, fmt.Errorf("%w: bwrap: no user namespaces", grade.ErrNoSandbox)
	}
	out := t.TempDir()
	_, err := Run(context.Background(), Options{Checkouts: cos, Out: out, GradeFunc: fake, Jobs: 1})
	require.ErrorIs(t, err, grade.ErrNoSandbox)
	assert.EqualValues(t, 1, calls.Load())
	_, book := readGradebook(t, out)
	assert.Len(t, book, 6, "a stopped batch still writes its gradebook")
	assert.Equal(t, "not graded: the batch was stopped", book["s5"]["note"])
}

// TestRunSharesTheCores checks the default parallelism: Jobs checkouts at once, each graded
// with its share of the CPUs, never more at once than Jobs.
func TestRunSharesTheCores(t *testing.T) {
	dir := t.TempDir()
	var cos []Checkout
	for i := range 8 {
		cos = append(cos, checkout(t, dir, fmt.Sprintf("s%d", i)))
	}
	var running, most atomic.Int32
	entered, gate := make(chan struct{}, len(cos)), make(chan struct{})
	fake := func(_ context.Context, o grade.Options) (*report.Report, error) {
		assert.Equal(t, max(1, runtime.NumCPU()/2), o.Parallel, "the CPUs shared by 2 jobs")
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		entered <- struct{}{}
		<-gate
		return fakeReport(0), nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Options{Checkouts: cos, Out: t.TempDir(), GradeFunc: fake, Jobs: 2})
		done <- err
	}()
	for range 2 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("two checkouts should be graded at once")
		}
	}
	assert.EqualValues(t, 2, running.Load())
	close(gate)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the batch did not finish")
	}
	assert.EqualValues(t, 2, most.Load(), "never more checkouts at once than -j")
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 4)
	p.skip(Row{Status: Unchanged})
	p.start()
	p.done(Row{Status: Graded})
	p.start()
	p.done(Row{Status: Failed})
	p.finish()
	last := buf.String()[strings.LastIndex(buf.String(), "\r")+1:]
	assert.Contains(t, last, "[######################........] 3/4 checkouts · 0 grading · 1 unchanged · 1 failed")
	assert.Contains(t, last, "left")
	assert.True(t, strings.HasSuffix(last, "\n"))

	assert.NotPanics(t, func() {
		quiet := newProgress(nil, 1)
		quiet.start()
		quiet.done(Row{Status: Graded})
		quiet.finish()
	})
}

func TestFromDirAndRoster(t *testing.T) {
	dir := t.TempDir()
	checkout(t, dir, "bob")
	checkout(t, dir, "ada")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "notes"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), nil, 0o644))
	cos, err := FromDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []Checkout{{"ada", filepath.Join(dir, "ada")}, {"bob", filepath.Join(dir, "bob")}}, cos)
	_, err = FromDir(t.TempDir())
	assert.ErrorIs(t, err, ErrNoCheckouts)

	roster := filepath.Join(dir, "roster.csv")
	require.NoError(t, os.WriteFile(roster, []byte("\ufeffname,Student,dir\nAda L.,ada@example.edu,ada\n,,\nB,bob,/abs/bob\n"), 0o644))
	cos, err = FromRoster(roster)
	require.NoError(t, err)
	assert.Equal(t, []Checkout{{"ada@example.edu", filepath.Join(dir, "ada")}, {"bob", "/abs/bob"}}, cos)

	for name, content := range map[string]string{
		"no header":  "ada,ada\n",
		"no dir":     "student,dir\nada,\n",
		"no student": "student,dir\n",
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(roster, []byte(content), 0o644))
			_, err := FromRoster(roster)
			assert.Error(t, err)
		})
	}
}

func TestFileNames(t *testing.T) {
	names, err := fileNames([]Checkout{{Student: "ada@example.edu"}, {Student: "../../etc/passwd"}, {Student: "gradebook"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"ada_example.edu", "etc_passwd", "student_gradebook"}, names)
	_, err = fileNames([]Checkout{{Student: "a b"}, {Student: "a_b"}})
	assert.ErrorContains(t, err, "would share the report file")
	_, err = fileNames([]Checkout{{Student: " ", Dir: "x"}})
	assert.Error(t, err)
}

func TestCell(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "-3": "-3", "@a": "'@a", "ada": "ada", "": ""} {
		assert.Equal(t, want, cell(in), in)
	}
}
