//go:build unix

package gotest

import (
	"os/exec"
	"syscall"
	"time"
)

// killGroup makes cancelling cmd kill its whole process group: the go command, the compiler and
// the test binary it started, and anything the student's code spawned.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}
