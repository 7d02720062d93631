//go:build unix && !linux

package sandbox

import "syscall"

// sysProcAttr puts the command in its own process group.
func sysProcAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// treeRSS is not measured here.
func treeRSS(int) int64 { return 0 }
