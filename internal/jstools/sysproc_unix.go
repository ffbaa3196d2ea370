//go:build unix && !linux

package jstools

import (
	"os/exec"
	"syscall"
)

// configureProcess puts the host in a process group of its own.
func configureProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
