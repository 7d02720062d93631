package gotest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// The output of a test binary run with -test.v=test2json: framing lines ("=== RUN", "--- FAIL:",
// …) start with a ^V byte; every other line is output of the test named by the last framing
// line. Output decides nothing (the verdict channel does); it is kept, capped, to show a student
// why a test failed.

const framing = '\x16'

// stream is the output of one run, split by test.
type stream struct {
	// tests holds the output of each test below the wrapper, by its name without the
	// wrapper's prefix ("TestX", "TestX/sub").
	tests map[string]*capped
	// order lists the tests in the order they were first seen.
	order []string
	// failed lists the tests a "--- FAIL:" line named, deepest first within a parent.
	failed []string
	pkg    *capped
	// race is set when the race detector reported.
	race bool
	// timedOut is set when the binary's -test.timeout expired; running then lists the tests
	// that were still running, as the testing package names them.
	timedOut bool
	running  []string
	max      int
}

func newStream(outputCap int) *stream {
	return &stream{tests: map[string]*capped{}, pkg: &capped{max: outputCap}, max: outputCap}
}

// read consumes the run's output. Lines over 64 KiB are cut; nothing the binary prints can
// make read keep more than the caps.
func (s *stream) read(r io.Reader, wrapper string) {
	br := bufio.NewReaderSize(r, 64<<10)
	current := ""
	for {
		line, err := readLine(br, 64<<10)
		if len(line) > 0 || err == nil {
			s.line(string(line), wrapper, &current)
		}
		if err != nil {
			return
		}
	}
}

func (s *stream) line(line, wrapper string, current *string) {
	if strings.Contains(line, "WARNING: DATA RACE") {
		s.race = true // seen as it streams, so no flood of output can hide it
	}
	if strings.HasPrefix(line, "panic: test timed out after") {
		s.timedOut = true
	}
	if s.timedOut && strings.HasPrefix(line, "\t\t") && strings.HasSuffix(line, ")") {
		// "\t\tTestWrapper/TestX/sub (2m0s)", under "\trunning tests:".
		if name, _, ok := strings.Cut(strings.TrimSpace(line), " ("); ok {
			s.running = append(s.running, name)
		}
	}
	if len(line) > 0 && line[0] == framing {
		action, name := parseFraming(line[1:])
		name = strings.TrimPrefix(strings.TrimPrefix(name, wrapper), "/")
		switch action {
		case "RUN", "CONT", "NAME", "PAUSE":
			*current = name
			if name != "" && s.tests[name] == nil {
				s.tests[name] = &capped{max: s.max}
				s.order = append(s.order, name)
			}
		case "FAIL":
			if name != "" {
				s.failed = append(s.failed, name)
			}
		}
		return
	}
	if out := s.tests[*current]; out != nil && *current != "" {
		out.WriteString(line + "\n")
		return
	}
	s.pkg.WriteString(line + "\n")
}

// parseFraming splits a framing line into its action and test name.
func parseFraming(line string) (action, name string) {
	for _, p := range []struct{ prefix, action string }{
		{"=== RUN", "RUN"}, {"=== CONT", "CONT"}, {"=== NAME", "NAME"}, {"=== PAUSE", "PAUSE"},
		{"--- PASS:", "PASS"}, {"--- FAIL:", "FAIL"}, {"--- SKIP:", "SKIP"},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			rest = strings.TrimSpace(rest)
			if i := strings.Index(rest, " ("); i >= 0 {
				rest = rest[:i]
			}
			return p.action, rest
		}
	}
	return "", ""
}

// output returns everything printed under test (a top-level test) and its subtests.
func (s *stream) output(test string) string {
	var parts []string
	for _, name := range s.order {
		if name == test || strings.HasPrefix(name, test+"/") {
			if out := s.tests[name].String(); out != "" {
				parts = append(parts, out)
			}
		}
	}
	return strings.Join(parts, "")
}

// failedUnder returns the deepest failed tests below test (or test itself).
func (s *stream) failedUnder(test string) []string {
	var deepest []string
	for _, f := range s.failed {
		if f != test && !strings.HasPrefix(f, test+"/") {
			continue
		}
		leaf := true
		for _, g := range s.failed {
			if strings.HasPrefix(g, f+"/") {
				leaf = false
				break
			}
		}
		if leaf {
			deepest = append(deepest, f)
		}
	}
	return deepest
}

// readLine reads one line, discarding whatever exceeds max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(line) < max {
			line = append(line, chunk[:min(len(chunk), max-len(line))]...)
		}
		if err != nil || !isPrefix {
			return line, err
		}
	}
}

// capped is a buffer that keeps at most max bytes and notes what it dropped.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	c.WriteString(string(p))
	return len(p), nil
}

func (c *capped) WriteString(s string) {
	room := c.max - c.buf.Len()
	if room <= 0 {
		c.dropped += len(s)
		return
	}
	if len(s) > room {
		c.dropped += len(s) - room
		s = s[:room]
	}
	c.buf.WriteString(s)
}

func (c *capped) String() string {
	if c.dropped > 0 {
		return fmt.Sprintf("%s\n[… %d more bytes of output not kept]\n", c.buf.String(), c.dropped)
	}
	return c.buf.String()
}

// runningUnder returns the deepest tests below test (or test itself) that were still running
// when the binary's time ran out.
func (s *stream) runningUnder(test, wrapper string) []string {
	var names []string
	for _, r := range s.running {
		r = strings.TrimPrefix(strings.TrimPrefix(r, wrapper), "/")
		if r == test || strings.HasPrefix(r, test+"/") {
			names = append(names, r)
		}
	}
	var deepest []string
	for _, n := range names {
		deeper := false
		for _, o := range names {
			if strings.HasPrefix(o, n+"/") {
				deeper = true
			}
		}
		if !deeper {
			deepest = append(deepest, n)
		}
	}
	return deepest
}
