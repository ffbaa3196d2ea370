//go:build !unix

package runner

import "os/exec"

// setProcessGroup: without process groups, cancellation kills the shell only.
func setProcessGroup(*exec.Cmd) {}
