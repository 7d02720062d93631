//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the command in its own process group, kills it if the grader dies, and, when
// the grader runs as root, runs it as nobody (so that the task limit applies and nothing it
// does is done as root).
func sysProcAttr(asNobody bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if asNobody {
		attr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	}
	return attr
}

// killGroup kills the process group led by pid. Under bubblewrap that kills bwrap, whose death
// takes its PID namespace, and every process in it, along.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// treeRSS returns the resident memory, in bytes, of pid and its descendants.
func treeRSS(pid int) int64 {
	page := int64(os.Getpagesize())
	var total int64
	seen := map[int]bool{}
	stack := []int{pid}
	for len(stack) > 0 && len(seen) < 100000 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] {
			continue
		}
		seen[p] = true
		if data, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/statm"); err == nil {
			if f := strings.Fields(string(data)); len(f) > 1 {
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total += n * page
				}
			}
		}
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(p) + "/task/*/children")
		for _, t := range tasks {
			data, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, c := range strings.Fields(string(data)) {
				if n, err := strconv.Atoi(c); err == nil {
					stack = append(stack, n)
				}
			}
		}
	}
	return total
}
