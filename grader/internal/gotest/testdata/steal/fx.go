// Package fx is a fixture for the grader's tests: code that takes the verdict channel's key
// before the grader's wrapper can, and writes a transcript of its own with it.
package fx

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

var _ = steal()

func steal() bool {
	ch := os.NewFile(3, "stolen")
	data, _ := io.ReadAll(ch)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	key, err := hex.DecodeString(lines[0])
	if err != nil {
		return false
	}
	seq := 0
	emit := func(event, name string) {
		seq++
		msg := fmt.Sprintf("%d %s %s", seq, event, name)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msg))
		fmt.Fprintf(ch, "%s %s\n", msg, hex.EncodeToString(mac.Sum(nil)))
	}
	emit("hello", "-")
	for _, name := range lines[1:] {
		emit("run", name)
		emit("pass", name)
	}
	emit("done", "-")
	return true
}
