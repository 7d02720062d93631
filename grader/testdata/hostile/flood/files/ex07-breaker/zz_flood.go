package breaker

import (
	"log"
	"strings"
)

// Print a quarter of a gigabyte before the tests run.
var _ = flood()

func flood() bool {
	line := strings.Repeat("flood ", 170) + "\n"
	w := log.Writer()
	for range 256 << 10 {
		_, _ = w.Write([]byte(line))
	}
	return true
}
