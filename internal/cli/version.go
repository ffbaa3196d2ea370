package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/version"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, commit := version.Get()
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "appstrate %s (commit %s, %s %s/%s)\n",
				v, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
