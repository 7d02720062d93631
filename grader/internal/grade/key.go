package grade

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/microservices-workbook/workbook/grader/internal/cache"
	"github.com/microservices-workbook/workbook/grader/internal/i18n"
	"github.com/microservices-workbook/workbook/grader/internal/manifest"
	"github.com/microservices-workbook/workbook/grader/internal/report"
	"github.com/microservices-workbook/workbook/grader/internal/sandbox"
)

// identity returns what every verdict of this run depends on besides the exercise's own
// files: the grader itself (its executable, which embeds the pristine files and the
// reference), the Go toolchain that builds, the sandbox, and the options that change verdicts.
func identity(ctx context.Context, opts Options, sb *sandbox.Sandbox) string {
	k := cache.NewKey()
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	sum := cache.FileHash(exe)
	if sum == "" {
		return ""
	}
	k.AddString("grader", sum)
	version, err := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOOS", "GOARCH").Output()
	if err != nil {
		return ""
	}
	k.Add("go", version)
	k.AddString("report", fmt.Sprint(report.Version))
	k.AddString("sandbox", string(sb.Kind()))
	k.AddString("limits", fmt.Sprintf("%+v", opts.Limits))
	k.AddString("solutions", fmt.Sprint(opts.Solutions))
	k.AddString("race", fmt.Sprint(!opts.NoRace))
	k.AddString("timeouts", fmt.Sprint(opts.ExerciseTimeout, opts.TestTimeout, opts.OutputCap))
	k.AddString("reference", fmt.Sprint(opts.Reference != nil))
	return k.Sum()
}

// key returns the cache key of the exercise's verdicts, or "" when there is no cache.
func (g *grader) key(m *manifest.Manifest, dir string, co *checkout) string {
	if g.cache == nil || g.identity == "" {
		return ""
	}
	k := cache.NewKey()
	k.AddString("identity", g.identity)
	k.AddString("dir", dir)
	// The criteria graded (a selection may keep only some).
	var ids []string
	for _, c := range m.Criteria {
		ids = append(ids, c.ID)
		for _, p := range c.Requires {
			k.AddString("program:"+p, g.programIdentity(p))
		}
	}
	k.AddString("criteria", strings.Join(ids, ","))
	k.AddString("reviewed", fmt.Sprint(g.reviewed(m)))
	for _, f := range co.code {
		k.Add("code:"+f.Path, f.Data)
	}
	for _, f := range co.tests {
		k.Add("tests:"+f.Path, f.Data)
	}
	for _, f := range co.pristine {
		k.Add("pristine:"+f.Path, f.Data)
	}
	for _, name := range []string{"go.mod", "go.sum", path.Join(m.Dir, manifest.FileName)} {
		data, _ := fs.ReadFile(g.opts.Pristine.Files, name)
		k.Add("pristine:"+name, data)
	}
	k.AddString("notes", i18n.Join(co.notes, "\n").EN)
	return k.Sum()
}

// programIdentity names the program found on PATH for name, by path and content, or "missing":
// installing, removing or replacing a program grades again what needs it.
func (g *grader) programIdentity(name string) string {
	p := g.programs[name]
	if p == "" {
		return "missing"
	}
	return p + "@" + cache.FileHash(p)
}
