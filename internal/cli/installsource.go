package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/version"
)

// installSource is stamped by release builds (-ldflags -X ...cli.installSource=curl); source builds say unknown.
var installSource = "unknown"

// newInstallSourceCmd is the hidden probe `doctor` runs on every appstrate binary on PATH (CLI.md A12).
func newInstallSourceCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "__install-source",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, _ := version.Get()
			b, _ := json.Marshal(struct {
				Version string `json:"version"`
				Source  string `json:"source"`
				Schema  int    `json:"schema"`
			}{v, installSource, 1})
			_, err := fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
}
