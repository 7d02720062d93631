// Package i18n is the grader's message catalog: every sentence the grader writes for a person,
// in English and in Spanish. A message is named by its English format string, as gettext does,
// so that the code reads in English and a missing translation shows up as English (the
// catalog's tests find every call site and check that its message is translated).
package i18n

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Lang is a language the grader speaks.
type Lang string

// The languages.
const (
	English Lang = "en"
	Spanish Lang = "es"
)

// Langs lists the languages.
func Langs() []Lang { return []Lang{English, Spanish} }

// Parse returns the language named s ("en", "es"; case and a region suffix such as "es_AR" or
// "es-MX.UTF-8" do not matter).
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, l := range Langs() {
		if s == string(l) || strings.HasPrefix(s, string(l)+"_") || strings.HasPrefix(s, string(l)+"-") || strings.HasPrefix(s, string(l)+".") {
			return l, true
		}
	}
	return "", false
}

// FromEnv returns the language the environment asks for: the first of LC_ALL, LC_MESSAGES
// and LANG that is set decides, and Spanish is chosen when it starts with "es". Anything
// else is English.
func FromEnv(getenv func(string) string) Lang {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(name); v != "" {
			if strings.HasPrefix(strings.ToLower(v), "es") {
				return Spanish
			}
			return English
		}
	}
	return English
}

// Text is one message in both languages.
type Text struct {
	EN, ES string
}

// T formats the catalog message whose English format is format, in both languages. An
// argument that is itself a Text is formatted in the language being written.
func T(format string, args ...any) Text {
	es, ok := spanish[format]
	if !ok {
		es = format
	}
	return Text{EN: fmt.Sprintf(format, in(English, args)...), ES: fmt.Sprintf(es, in(Spanish, args)...)}
}

// S formats the catalog message format in l (see T).
func S(l Lang, format string, args ...any) string { return T(format, args...).In(l) }

// Plain is a text that reads the same in both languages: a name, a path, a command.
func Plain(s string) Text { return Text{EN: s, ES: s} }

// In returns the text in l.
func (t Text) In(l Lang) string {
	if l == Spanish {
		return t.ES
	}
	return t.EN
}

// String returns the English text.
func (t Text) String() string { return t.EN }

func in(l Lang, args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if t, ok := a.(Text); ok {
			a = t.In(l)
		}
		out[i] = a
	}
	return out
}

// Translated reports whether the catalog has a Spanish text for the English format.
func Translated(format string) bool {
	_, ok := spanish[format]
	return ok
}

// Formats returns the English formats of the catalog, sorted.
func Formats() []string {
	out := make([]string, 0, len(spanish))
	for f := range spanish {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// verb matches a fmt verb.
var verb = regexp.MustCompile(`%[-+# 0]*(\[[0-9]+\])?[0-9.*]*[a-zA-Z%]`)

// Verbs returns the fmt verbs of a format, in order ("%%" left out).
func Verbs(format string) []string {
	var out []string
	for _, v := range verb.FindAllString(format, -1) {
		if v != "%%" {
			out = append(out, v)
		}
	}
	return out
}

// Fragments returns the pieces of a catalog message's English text that give it away: the
// literal runs between its verbs that have at least two words and ten letters, and that its
// Spanish text does not share. A Spanish rendering that contains one has fallen back to
// English.
func Fragments(format string) []string {
	es := spanish[format]
	var out []string
	for _, part := range verb.Split(format, -1) {
		part = strings.TrimSpace(strings.Trim(part, " :;,.()—-|…\n"))
		if len(strings.Fields(part)) < 2 || letters(part) < 10 || strings.Contains(es, part) {
			continue
		}
		out = append(out, part)
	}
	return out
}

func letters(s string) int {
	n := 0
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			n++
		}
	}
	return n
}

// EnglishIn returns the catalog's English fragments (see Fragments) found in text: empty when
// a Spanish rendering has fallen back to English nowhere.
func EnglishIn(text string) []string {
	var found []string
	for _, f := range Formats() {
		for _, frag := range Fragments(f) {
			if strings.Contains(text, frag) {
				found = append(found, frag)
			}
		}
	}
	return found
}

// Error is an error whose message the catalog translates. Its Error method gives the English
// text; Message finds it in a chain of wrapped errors.
type Error struct {
	Text Text
	// Err is the error it stands for (a sentinel to match with errors.Is), if any.
	Err error
}

// Errorf returns an *Error with the catalog message format, standing for err.
func Errorf(err error, format string, args ...any) error {
	return &Error{Text: T(format, args...), Err: err}
}

func (e *Error) Error() string { return e.Text.EN }

// Unwrap returns the error e stands for.
func (e *Error) Unwrap() error { return e.Err }

// Message returns err's message in l: the text of the first *Error in err's chain, or err's
// own message when there is none (an error of the system, which says it in English).
func Message(err error, l Lang) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Text.In(l)
	}
	return err.Error()
}

// Join joins texts with sep, in both languages.
func Join(texts []Text, sep string) Text {
	var en, es []string
	for _, t := range texts {
		en, es = append(en, t.EN), append(es, t.ES)
	}
	return Text{EN: strings.Join(en, sep), ES: strings.Join(es, sep)}
}
