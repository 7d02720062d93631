// Package fx is a fixture for the grader's tests: a function that logs before it answers.
package fx

import (
	"log/slog"
	"os"
)

var logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

// Add logs, then adds.
func Add(a, b int) int {
	for i := range 8 {
		logger.Info("adding", "a", a, "b", b, "line", i)
	}
	return a + b
}
