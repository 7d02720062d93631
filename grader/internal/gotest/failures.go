package gotest

import (
	"regexp"
	"strings"
)

// Failure is one failed check of a test, as its output shows it: a testify assertion (its
// Error and Messages) or a line written with t.Error or t.Fatal.
type Failure struct {
	// Test is the (sub)test it happened in, without the grader's wrapper: "TestX/sub".
	Test string `json:"test"`
	// Location is the file and line of the check: "criteria_test.go:123".
	Location string `json:"location,omitempty"`
	// Error is what failed (testify's Error field, or the whole t.Error text).
	Error string `json:"error"`
	// Messages is the explanation the test attached to an assertion, when it did.
	Messages string `json:"messages,omitempty"`
}

// logStart matches the first line of an entry that a test wrote with t.Log, t.Error, t.Fatal
// or an assertion: four spaces, file:line, a colon.
var logStart = regexp.MustCompile(`^ {4}([A-Za-z0-9_.\-]+\.go:[0-9]+): ?(.*)$`)

// testifyField matches a field line of a testify failure.
var testifyField = regexp.MustCompile(`^\s+(Error Trace|Error|Test|Messages):\s*(.*)$`)

// failures extracts the failed checks from the output of one test (not its subtests). Lines
// that are not part of a test's own log entries (what the code under test printed or logged)
// are skipped.
func failures(test, output string) []Failure {
	var out []Failure
	lines := strings.Split(output, "\n")
	for i := 0; i < len(lines); i++ {
		m := logStart.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		entry := []string{m[2]}
		for i+1 < len(lines) && isContinuation(lines[i+1]) {
			i++
			entry = append(entry, lines[i])
		}
		out = append(out, parseEntry(test, m[1], entry))
	}
	return out
}

// isContinuation reports whether line continues a log entry: the testing package indents the
// later lines of a multi-line message by eight spaces or more.
func isContinuation(line string) bool {
	return strings.HasPrefix(line, "        ") || strings.HasPrefix(line, "    \t")
}

func parseEntry(test, location string, entry []string) Failure {
	f := Failure{Test: test, Location: location}
	isTestify := false
	for _, l := range entry {
		if strings.Contains(l, "Error Trace:") {
			isTestify = true
			break
		}
	}
	if !isTestify {
		var text []string
		for _, l := range entry {
			text = append(text, strings.TrimSpace(l))
		}
		f.Error = strings.TrimSpace(strings.Join(text, "\n"))
		return f
	}
	fields := map[string][]string{}
	field := ""
	for _, l := range entry {
		if m := testifyField.FindStringSubmatch(l); m != nil {
			field = m[1]
			fields[field] = append(fields[field], strings.TrimSpace(m[2]))
			continue
		}
		if field != "" {
			fields[field] = append(fields[field], strings.TrimSpace(l))
		}
	}
	f.Error = strings.TrimSpace(strings.Join(fields["Error"], "\n"))
	f.Messages = strings.TrimSpace(strings.Join(fields["Messages"], "\n"))
	return f
}
