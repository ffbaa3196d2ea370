package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
)

// newSandboxInitCmd is the first process inside a bwrap sandbox (see internal/executor/bwrap): rlimits,
// workspace files, the forward proxy relay, then the runner.
func newSandboxInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:                bwrap.InitCommand + " [flags] -- command [args]",
		Short:              "Prepare a run's sandbox and run its runner (started by the bwrap executor)",
		Hidden:             true,
		DisableFlagParsing: true, // sandbox-init parses its own flags
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := bwrap.SandboxInit(args, cmd.ErrOrStderr()); code != 0 {
				// the runner's exit code, unchanged; sandbox-init already reported its own problems
				return &ExitError{Code: code, Silent: true, Err: errors.New("sandbox-init: the command failed")}
			}
			return nil
		},
	}
}
