package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// goSettings are the go command's settings that the grader's builds inherit. They are read
// once with `go env`, so that the grader's own configuration (module proxy, caches) carries
// over while nothing else of its environment does.
var goSettings = []string{
	"GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GONOPROXY",
	"GOPRIVATE", "GOINSECURE", "CC", "CXX",
}

// GoEnv returns the environment for the go command that builds a checkout's code (outside the
// sandbox: a build runs none of that code): the go settings above, PATH, a fresh HOME and
// TMPDIR under home, and settings that make the pristine go.mod decide what is built. Tokens,
// credentials and every other variable of the grader's environment stay out.
func GoEnv(ctx context.Context, home string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, goSettings...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	var settings map[string]string
	if err := json.Unmarshal(out, &settings); err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	tmp := filepath.Join(home, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"LANG=C.UTF-8",
		// The grader's go.mod and go.sum decide; no workspace file, vendor directory,
		// toolchain switch or GOFLAGS of anyone else's can redirect what is built.
		"GOWORK=off",
		"GOFLAGS=-mod=readonly -buildvcs=false",
		"GOTOOLCHAIN=local",
		"GOENV=off",
	}
	for _, k := range goSettings {
		if v := settings[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env, nil
}
