package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/app"
	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/version"
)

func newServeCmd() *cobra.Command {
	var printConfig, production bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform: HTTP API, workers and scheduler",
		Long: "Run the platform. With no environment at all it starts on port 3000 with an embedded SQLite\n" +
			"database and generated secrets under the data directory (Tier 0). Set DATABASE_URL for Postgres.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(production)
			if err != nil {
				return err
			}
			if printConfig {
				return writeConfig(cmd, cfg)
			}
			return serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().BoolVar(&printConfig, "print-config", false, "print the effective configuration (secrets redacted) and exit")
	cmd.Flags().BoolVar(&production, "production", false, "run in production mode (same as APP_ENV=production): missing secrets are an error")
	return cmd
}

// loadConfig reads the environment; --production forces APP_ENV=production.
func loadConfig(production bool) (*config.Config, error) {
	lookup := lookupEnv
	if production {
		lookup = func(name string) (string, bool) {
			if name == "APP_ENV" {
				return config.EnvProduction, true
			}
			return lookupEnv(name)
		}
	}
	return config.Load(lookup)
}

func writeConfig(cmd *cobra.Command, cfg *config.Config) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	for _, s := range cfg.Redacted() {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Value)
	}
	return tw.Flush()
}

func serve(ctx context.Context, cfg *config.Config) error {
	logger := app.NewLogger(os.Stderr, cfg)
	v, commit := version.Get()
	logger.Info("starting appstrate", "version", v, "commit", commit, "env", cfg.Env, "tier", cfg.Tier(), "dataDir", cfg.DataDir)
	if err := cfg.EnsureSecrets(logger); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("listen on port %d: %w", cfg.Port, err)}
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", cfg.AppURL, "database", a.DB.Dialect().String())
	if err := a.Serve(ctx, ln); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}
