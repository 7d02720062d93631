//go:build unix

package gotest

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// newChannel returns the two ends of the verdict channel: a Unix socket pair, so that the test
// binary's end cannot be opened again by path (/proc/self/fd/3 refuses sockets).
func newChannel() (ours *net.UnixConn, theirs *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("verdict channel: %w", err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	f := os.NewFile(uintptr(fds[0]), "verdicts")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("verdict channel: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "verdicts-child"), nil
}
