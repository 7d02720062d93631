// Package fx is a fixture for the grader's tests: it does not compile.
package fx

// Answer is not an int.
func Answer() int { return "forty-two" }
