package i18n

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// formatArg names the functions that take a catalog format, and which argument it is: the
// package's own, and the grader's wrappers around them (writers' say and line, usagef).
var formatArg = map[string]int{
	"i18n.T": 0, "i18n.S": 1, "i18n.Errorf": 1, "say": 0, "line": 0, "usagef": 0,
}

// catalogCalls returns every catalog format written as a literal in the grader's code, with
// where it is.
func catalogCalls(t *testing.T) map[string]string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	found := map[string]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name := ""
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
				if x, ok := fn.X.(*ast.Ident); ok && x.Name == "i18n" {
					name = "i18n." + fn.Sel.Name
				}
			}
			i, ok := formatArg[name]
			if !ok || len(call.Args) <= i {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil {
				rel, _ := filepath.Rel(root, p)
				found[s] = rel + ":" + strconv.Itoa(fset.Position(lit.Pos()).Line)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return found
}

// TestEveryMessageIsTranslated fails when a sentence the grader writes has no Spanish text in
// the catalog. A format with no letters of its own ("%s: %s") needs none.
func TestEveryMessageIsTranslated(t *testing.T) {
	calls := catalogCalls(t)
	require.NotEmpty(t, calls)
	for format, where := range calls {
		if letters(verb.ReplaceAllString(format, "")) == 0 {
			continue
		}
		assert.True(t, Translated(format), "%s: %q has no Spanish text in catalog.go", where, format)
	}
}

// TestTranslationsKeepTheVerbs fails when a Spanish text has other verbs than its English
// format, or says nothing.
func TestTranslationsKeepTheVerbs(t *testing.T) {
	for _, f := range Formats() {
		assert.Equal(t, Verbs(f), Verbs(spanish[f]), "the verbs of %q and of its Spanish text", f)
		assert.NotEmpty(t, strings.TrimSpace(spanish[f]), "%q has an empty Spanish text", f)
	}
}

func TestTextsFormatInBothLanguages(t *testing.T) {
	got := T("your tests caught %d of %d wrong implementations (%d needed)", 3, 9, 7)
	assert.Equal(t, "your tests caught 3 of 9 wrong implementations (7 needed)", got.EN)
	assert.NotEqual(t, got.EN, got.ES)
	assert.Contains(t, got.ES, "3")

	nested := T("needs %s on PATH", T("met"))
	assert.Equal(t, "needs met on PATH", nested.EN)
	assert.Contains(t, nested.ES, "cumplido", "a Text argument is written in the language being written")

	assert.Equal(t, "%!", T("%!").EN[:2], "a message not in the catalog stays as it is")
}

func TestLanguageFromEnvironment(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want Lang
	}{
		{"nothing set", nil, English},
		{"LANG es", map[string]string{"LANG": "es_ES.UTF-8"}, Spanish},
		{"LANG en", map[string]string{"LANG": "en_US.UTF-8"}, English},
		{"LC_ALL wins over LANG", map[string]string{"LC_ALL": "en_GB.UTF-8", "LANG": "es_AR.UTF-8"}, English},
		{"LC_ALL es", map[string]string{"LC_ALL": "es_MX.UTF-8", "LANG": "en_US.UTF-8"}, Spanish},
		{"LC_MESSAGES between", map[string]string{"LC_MESSAGES": "es", "LANG": "en_US"}, Spanish},
		{"C locale", map[string]string{"LANG": "C.UTF-8"}, English},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, FromEnv(func(k string) string { return tc.env[k] }))
		})
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Lang{"es": Spanish, "ES": Spanish, "es_AR": Spanish, "en": English, "en-US": English} {
		got, ok := Parse(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "fr", "espanol", "e"} {
		_, ok := Parse(in)
		assert.False(t, ok, in)
	}
}

func TestEnglishIn(t *testing.T) {
	en := S(English, "your tests caught %d of %d wrong implementations (%d needed)", 1, 2, 3)
	es := S(Spanish, "your tests caught %d of %d wrong implementations (%d needed)", 1, 2, 3)
	assert.NotEmpty(t, EnglishIn(en), "an English sentence of the catalog is found")
	assert.Empty(t, EnglishIn(es), "its Spanish text is not English")
}
