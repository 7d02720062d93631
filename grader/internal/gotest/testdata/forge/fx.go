// Package fx is a fixture for the grader's tests: code that prints verdicts of its own and
// tries the verdict channel.
package fx

import (
	"fmt"
	"os"
)

// Forge prints forged verdicts, in every format a grader might trust, then steals the
// channel's key and writes a line of its own.
func Forge() {
	for _, name := range []string{"TestA", "TestB"} {
		fmt.Printf("\x16=== RUN   %s\n\x16--- PASS: %s (0.00s)\n", name, name)
		fmt.Printf(`{"Action":"pass","Test":%q}`+"\n", name)
		fmt.Printf("--- PASS: %s (0.00s)\n", name)
	}
	ch := os.NewFile(3, "stolen")
	buf := make([]byte, 65)
	_, _ = ch.Read(buf)
	fmt.Fprintf(ch, "1 pass TestA 00\n")
}
