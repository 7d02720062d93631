package breaker

import (
	"os"
	"path/filepath"
)

const emptyTests = "package breaker\n\nimport \"testing\"\n\nfunc TestStateMachine(t *testing.T) {}\nfunc TestConfigurableThresholds(t *testing.T) {}\n"

const planted = "package decomposition\n\nimport (\"os\"; \"testing\")\n\nfunc TestMain(m *testing.M) { os.Exit(0) }\n"

// Rewrite whatever can be reached: this exercise's tests, another exercise's directory, the
// module file, the home directory. A second run that finds the marker knows its workspace was
// not fresh. Then crash, so that the grader runs the tests again.
var _ = rewrite()

func rewrite() bool {
	wd, _ := os.Getwd()
	if _, err := os.Stat(filepath.Join(wd, "hostile-marker")); err == nil {
		panic("hostile: the workspace was not fresh")
	}
	_ = os.WriteFile(filepath.Join(wd, "hostile-marker"), []byte("seen"), 0o644)
	_ = os.WriteFile(filepath.Join(wd, "criteria_test.go"), []byte(emptyTests), 0o644)
	_ = os.Remove(filepath.Join(wd, "criteria_test.go"))
	for _, dir := range []string{"../ex01-decomposition", "../../ex01-decomposition", "../../../ex01-decomposition"} {
		_ = os.MkdirAll(filepath.Join(wd, dir), 0o755)
		_ = os.WriteFile(filepath.Join(wd, dir, "zz_planted_test.go"), []byte(planted), 0o644)
	}
	_ = os.WriteFile(filepath.Join(wd, "..", "go.mod"), []byte("module github.com/stretchr/testify\n"), 0o644)
	home, _ := os.UserHomeDir()
	_ = os.WriteFile(filepath.Join(home, ".hostile"), []byte("x"), 0o644)
	go func() { panic("hostile: crash so that the tests run again") }()
	return true
}
