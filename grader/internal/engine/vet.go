package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/microservices-workbook/workbook/grader/internal/gotest"
)

// vet runs go vet on the package dir and its subpackages, without the grader's wrapper (whose
// file is moved aside while vet runs). No code of the package runs.
func vet(ctx context.Context, root, dir string, env []string, wrapper string, race bool) (string, bool, error) {
	aside := wrapper + ".aside"
	if err := os.Rename(wrapper, aside); err != nil {
		return "", false, err
	}
	defer os.Rename(aside, wrapper)
	// With the build's flags, vet reuses what the build compiled.
	args := append(append([]string{"vet"}, gotest.BuildFlags(race)...), "./"+dir+"/...")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return strings.TrimSpace(string(out)), true, nil
	case err != nil:
		return "", false, fmt.Errorf("go vet: %w", err)
	}
	return "", false, nil
}
