package jstools

import (
	"os/exec"
	"syscall"
)

// configureProcess puts the host in a process group of its own, killed with the Go process if it dies.
func configureProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
