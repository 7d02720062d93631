package grade

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// goSettings are the go command's settings that the graded code's go command inherits. They are
// read once with `go env`, so the grader's own configuration (module proxy, caches) carries over
// while nothing else of its environment does.
var goSettings = []string{
	"GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GONOPROXY",
	"GOPRIVATE", "GOINSECURE", "CGO_ENABLED", "CC", "CXX",
}

// scrubbedEnv returns the environment the student's code runs with: the go settings above, PATH,
// and fresh HOME and TMPDIR under tmp. Tokens, credentials and every other variable of the
// grader's environment stay out.
func scrubbedEnv(ctx context.Context, tmp string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, goSettings...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	var settings map[string]string
	if err := json.Unmarshal(out, &settings); err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	home := filepath.Join(tmp, "home")
	tmpdir := filepath.Join(tmp, "tmp")
	for _, d := range []string{home, tmpdir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + tmpdir,
		"LANG=C.UTF-8",
		// The module's own go.mod decides; no workspace file, vendor directory or toolchain
		// switch of the checkout's can redirect what is built.
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
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
