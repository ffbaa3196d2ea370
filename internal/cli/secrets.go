package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/app"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
)

func newSecretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage secrets stored encrypted in the database",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSecretsRotateCmd())
	return cmd
}

func newSecretsRotateCmd() *cobra.Command {
	var dryRun, production bool
	var batch int
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every stored secret under the active encryption key",
		Long: "Re-encrypt every stored secret under the active key (CONNECTION_ENCRYPTION_KEY, kid\n" +
			"CONNECTION_ENCRYPTION_KEY_ID). Values under retired keys (CONNECTION_ENCRYPTION_KEYS) are rewritten;\n" +
			"values under unknown keys and invalid values are reported and left untouched (exit code 1).\n" +
			"Safe to run while the server runs and to run again. Reads the same environment as serve.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(production)
			if err != nil {
				return err
			}
			logger := app.NewLogger(cmd.ErrOrStderr(), cfg)
			if err := cfg.EnsureSecrets(logger); err != nil {
				return err
			}
			kr, err := secrets.FromConfig(cfg)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			ctx := cmd.Context()
			db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: logger})
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("open database: %w", err)}
			}
			defer db.Close()
			rep, err := secrets.RotateWith(ctx, db, kr, logger, secrets.Options{DryRun: dryRun, BatchSize: batch})
			if werr := writeRotateReport(cmd, rep); werr != nil && err == nil {
				err = werr
			}
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if n := rep.Problems(); n > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d stored value(s) could not be rotated (unknown key id or invalid); see the report", n)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be rotated; write nothing")
	cmd.Flags().BoolVar(&production, "production", false, "production mode (same as APP_ENV=production): missing secrets are an error")
	cmd.Flags().IntVar(&batch, "batch-size", secrets.DefaultBatchSize, "rows re-encrypted per transaction")
	return cmd
}

func writeRotateReport(cmd *cobra.Command, rep secrets.Report) error {
	out := cmd.OutOrStdout()
	verb := "rotated"
	if rep.DryRun {
		verb = "to rotate"
		fmt.Fprintln(out, "dry run: nothing was written")
	}
	fmt.Fprintf(out, "active key id: %s\n", rep.ActiveKID)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "COLUMN\tTOTAL\t%s\tCURRENT\tCHANGED\tUNKNOWN KEY\tINVALID\n", "ROTATED")
	for _, c := range rep.Columns {
		if !c.Present {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t(no such column yet)\n", c.Name())
			continue
		}
		unknown := fmt.Sprint(c.UnknownKey)
		if len(c.UnknownKIDs) > 0 {
			unknown += fmt.Sprintf(" %v", c.UnknownKIDs)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\n", c.Name(), c.Total, c.Rotated, c.Current(), c.Changed, unknown, c.Invalid)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "%d value(s) %s, %d problem(s)\n", rep.Rotated(), verb, rep.Problems())
	return err
}
