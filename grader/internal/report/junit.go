package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// writeJUnit renders one test suite per exercise and one test case per criterion.
func writeJUnit(w io.Writer, r *Report) error {
	out := junitSuites{Name: fmt.Sprintf("workbook %d/%d", r.Score, r.MaxScore)}
	for _, ex := range r.Exercises {
		s := junitSuite{
			Name: ex.ID + " " + ex.Title,
			Time: fmt.Sprintf("%.3f", (time.Duration(ex.DurationMS) * time.Millisecond).Seconds()),
		}
		for _, c := range ex.Criteria {
			tc := junitCase{Name: c.ID + ": " + c.Title, Classname: ex.Dir}
			switch c.Status {
			case Met:
			case NotVerified:
				tc.Skipped = &junitSkipped{Message: "not verified: " + c.Message}
				s.Skipped++
			default:
				body := c.Message
				if len(c.Failures) > 0 {
					var parts []string
					for _, f := range c.Failures {
						parts = append(parts, FailureText(f, 6))
					}
					body = strings.Join(parts, "\n")
				}
				if ex.Tampered {
					body = "tampered exercise\n" + body
				}
				if ex.NeedsReview && !ex.Reviewed {
					body = "needs an instructor's review\n" + body
				}
				tc.Failure = &junitFailure{Message: c.Hint, Type: c.Status, Body: body}
				s.Failures++
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
