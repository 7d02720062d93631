//go:build !unix

package gotest

import (
	"os/exec"
	"time"
)

// killGroup bounds how long Wait waits for the output of a killed go command.
func killGroup(cmd *exec.Cmd) { cmd.WaitDelay = 5 * time.Second }
