package gotest

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/format"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// The verdict channel.
//
// Student code shares the test binary's process, so anything the binary prints (a "--- PASS"
// line, a test2json event) can be forged. Verdicts therefore travel on a channel of their own:
// the grader adds to the package a test file of its own (the wrapper), which runs the requested
// tests as subtests and reports each one's start and verdict on descriptor 3, every line
// authenticated with an HMAC under a key the grader sends on the same descriptor when the binary
// starts. Descriptor 3 is a Unix socket, not a pipe, so it cannot be opened again through
// /proc/self/fd or /dev/fd: reaching it takes os.NewFile, syscall or unsafe, which the review
// check flags. The key is read once, kept in a local variable and never printed; a wrapper that
// finds it gone says so on the channel, unauthenticated, which the grader reports. Code that
// shares a process can, in principle, read anything: the channel and the review check together
// make forging visible, not impossible.

// Channel events.
const (
	evHello   = "hello"
	evRun     = "run"
	evPass    = "pass"
	evFail    = "fail"
	evSkip    = "skip"
	evMissing = "missing"
	evDone    = "done"
)

var wrapperTemplate = template.Must(template.New("wrapper").Parse(`// Code written by the grader for one build; not part of the workbook.

package {{.Package}}

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func {{.Name}}(t *testing.T) {
	syscall.CloseOnExec(3)
	ch := os.NewFile(3, "verdicts")
	data, err := io.ReadAll(io.LimitReader(ch, 1<<16))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	key, keyErr := hex.DecodeString(lines[0])
	if err != nil || keyErr != nil || len(key) != 32 {
		// Someone read the channel first: say so, unauthenticated, for the grader to see.
		fmt.Fprintf(ch, "nokey\n")
		t.Fatal("the grader's key was gone before its wrapper read it")
	}
	tests := map[string]func(*testing.T){
{{- range .Tests}}
		{{printf "%q" .}}: {{.}},
{{- end}}
	}
	w := bufio.NewWriter(ch)
	var mu sync.Mutex
	seq := 0
	emit := func(event, name string) {
		mu.Lock()
		defer mu.Unlock()
		seq++
		msg := fmt.Sprintf("%d %s %s", seq, event, name)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msg))
		fmt.Fprintf(w, "%s %s\n", msg, hex.EncodeToString(mac.Sum(nil)))
		w.Flush()
	}
	emit("hello", "-")
	for _, name := range lines[1:] {
		fn := tests[name]
		if fn == nil {
			emit("missing", name)
			continue
		}
		emit("run", name)
		t.Run(name, func(t *testing.T) {
			// Registered first, so it runs last: after the test's own cleanups, and after
			// its parallel subtests.
			t.Cleanup(func() {
				switch {
				case t.Failed():
					emit("fail", name)
				case t.Skipped():
					emit("skip", name)
				default:
					emit("pass", name)
				}
			})
			fn(t)
		})
	}
	emit("done", "-")
}
`))

// Wrapper is the grader's test file added to one build.
type Wrapper struct {
	// Name is the wrapper's test function: the only test the binary is asked to run.
	Name string
	// File is the path of the file written.
	File string
}

// WriteWrapper writes the grader's wrapper into dir, the package directory of a build, for a
// package named pkg whose tests include candidates (the tests a run may request). Its name
// depends only on what it runs, so that a build whose inputs did not change is found in the
// go command's cache; what protects the verdicts is the key, not the name.
func WriteWrapper(dir, pkg string, candidates []string) (*Wrapper, error) {
	sum := sha256.Sum256([]byte(pkg + "\n" + strings.Join(candidates, "\n")))
	id := hex.EncodeToString(sum[:8])
	var tests []string
	for _, c := range candidates {
		if !testIdent.MatchString(c) {
			return nil, fmt.Errorf("gotest: %q is not a test name", c)
		}
		tests = append(tests, c)
	}
	w := &Wrapper{Name: "TestGrader" + id, File: filepath.Join(dir, "zz_grader_"+id+"_test.go")}
	var b bytes.Buffer
	if err := wrapperTemplate.Execute(&b, map[string]any{"Package": pkg, "Name": w.Name, "Tests": tests}); err != nil {
		return nil, err
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("gotest: wrapper: %w", err)
	}
	return w, os.WriteFile(w.File, src, 0o644)
}

var testIdent = regexp.MustCompile(`^Test[A-Za-z0-9_]*$`)

// newKey returns a fresh key for one run.
func newKey() ([]byte, error) {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	return key, err
}

// request is what the grader writes on descriptor 3: the key, then one test name per line.
func request(key []byte, tests []string) []byte {
	return []byte(hex.EncodeToString(key) + "\n" + strings.Join(tests, "\n") + "\n")
}

// channelEvent is one authenticated line of the channel.
type channelEvent struct {
	Event, Test string
}

// channelReport is what was read from the channel.
type channelReport struct {
	Events []channelEvent
	// Forged counts the lines that did not verify: wrong MAC, out of sequence or malformed.
	Forged int
	// FirstForged is the first such line, cut short.
	FirstForged string
}

// readChannel reads and verifies the channel's lines until r ends.
func readChannel(r io.Reader, key []byte) channelReport {
	var rep channelReport
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	want := 1
	for sc.Scan() {
		line := sc.Text()
		ev, ok := verifyLine(line, key, want)
		if !ok {
			rep.Forged++
			if rep.FirstForged == "" {
				rep.FirstForged = cut(line, 120)
			}
			continue
		}
		want++
		rep.Events = append(rep.Events, ev)
	}
	// A binary that died before reading the request resets the connection: that is the end
	// of its transcript, not a forgery. A line too long to be the wrapper's is.
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		rep.Forged++
		if rep.FirstForged == "" {
			rep.FirstForged = "an over-long line"
		}
	}
	return rep
}

func verifyLine(line string, key []byte, seq int) (channelEvent, bool) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return channelEvent{}, false
	}
	msg, sum := line[:i], line[i+1:]
	got, err := hex.DecodeString(sum)
	if err != nil {
		return channelEvent{}, false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return channelEvent{}, false
	}
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != strconv.Itoa(seq) {
		return channelEvent{}, false
	}
	return channelEvent{Event: f[1], Test: f[2]}, true
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
