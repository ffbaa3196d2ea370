package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/egress"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/sidecar"
)

func newSidecarCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "sidecar",
		Short: "Run a run's sidecar: the LLM proxy, the provider tools (MCP) and the forward proxy",
		Long: "Run the per-run sidecar that holds the secrets the agent must never see (the model key, the provider\n" +
			"credentials). It is started by the platform's executor, one per run, and configured only by its\n" +
			"environment: SIDECAR_LISTEN, SIDECAR_PROXY_LISTEN, SIDECAR_TOKEN, RUN_TOKEN, PLATFORM_API_URL,\n" +
			"PI_BASE_URL, PI_API_KEY, PI_PLACEHOLDER, MODEL_API, PROXY_URL, MODEL_CONTEXT_WINDOW, MODEL_MAX_TOKENS,\n" +
			"SIDECAR_MAX_REQUEST_BODY_BYTES, SIDECAR_MAX_MCP_ENVELOPE_BYTES, SIDECAR_PROVIDER_CALL_CONCURRENCY, LOG_LEVEL,\n" +
			"APPSTRATE_SINK_URL and APPSTRATE_SINK_FINALIZE_URL (the run's sink, relayed on /sink/events… for a sandbox\n" +
			"without network).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sidecar.LoadConfig(lookupEnv)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
			opts := sidecar.Options{Logger: logger}
			if !cfg.ProxyListen.IsZero() {
				proxy, err := newForwardProxy(cfg, logger)
				if err != nil {
					return &ExitError{Code: ExitConfig, Err: fmt.Errorf("SIDECAR_PROXY_LISTEN: cannot build the forward proxy: %w", err)}
				}
				opts.ForwardProxy = proxy
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return sidecar.New(cfg, opts).Run(ctx)
		},
	}
}

// newForwardProxy builds the egress proxy of the run: public destinations, plus the platform for this run's
// sink endpoints only.
func newForwardProxy(cfg sidecar.Config, logger *slog.Logger) (*egress.Proxy, error) {
	ec := egress.Config{Guard: netguard.Policy{}, Upstream: cfg.ProxyURL, Logger: logger}
	if cfg.PlatformURL != nil {
		base := *cfg.PlatformURL
		ec.PlatformURL = base.Scheme + "://" + base.Host
		ec.AllowedPlatformPaths = egress.SinkPaths(strings.TrimSuffix(base.Path, "/") + "/api/runs/" + cfg.RunID + "/events")
	}
	return egress.New(ec)
}
