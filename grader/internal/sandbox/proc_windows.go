//go:build windows

package sandbox

import (
	"os"
	"syscall"
)

// sysProcAttr has nothing to set here.
func sysProcAttr(bool) *syscall.SysProcAttr { return nil }

// killGroup kills the process (Windows has no process groups to kill at once).
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

// treeRSS is not measured here.
func treeRSS(int) int64 { return 0 }
