package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/config"
)

// ExitError carries the process exit code of a failed command.
type ExitError struct {
	Code   int
	Err    error
	Silent bool // the command already reported (or was asked not to report, e.g. `api -s`): print nothing
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes shared by every command.
const (
	ExitFailure = 1 // the command failed
	ExitConfig  = 2 // bad configuration or usage
)

// NewRoot builds the `appstrate` command tree.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "appstrate",
		Short:         "Appstrate: run AI agents as a service",
		Long:          "Appstrate runs AI agents for your users: one binary that is the server (serve), the sandbox\nsidecar and runner, and the command-line client.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd(), newServeCmd())
	root.AddCommand(newSidecarCmd())
	root.AddCommand(newDoctorCmd(), newSandboxInitCmd())
	root.AddCommand(newRunnerCmd())
	root.AddCommand(newPackageCmd())
	root.AddCommand(newSecretsCmd())
	root.AddCommand(newClientCommands(root)...)
	return root
}

// Main runs the command tree and returns the process exit code; errors are printed as one line on stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var exitErr *ExitError
	var cfgErr *config.Error
	if !errors.As(err, &exitErr) || !exitErr.Silent {
		fmt.Fprintf(stderr, "appstrate: %v\n", err)
	}
	switch {
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.As(err, &cfgErr):
		return ExitConfig
	}
	return ExitFailure
}

// lookupEnv is the environment the commands read; a variable here for tests.
var lookupEnv = os.LookupEnv
