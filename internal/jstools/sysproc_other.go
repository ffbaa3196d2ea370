//go:build !unix

package jstools

import (
	"os"
	"os/exec"
)

// configureProcess has no process groups to set up here.
func configureProcess(*exec.Cmd) {}

// killProcessGroup kills the host (its children are not tracked on this platform).
func killProcessGroup(p *os.Process) {
	if p != nil {
		_ = p.Kill()
	}
}
