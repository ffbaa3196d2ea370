package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// Exit codes of Main.
const (
	ExitOK     = 0 // the run was finalized and ended normally
	ExitFailed = 1 // bad environment, a failed/cancelled run, or a finalize that could not be delivered
)

// Main is `appstrate runner`: it reads the environment (lookup), runs the agent with Execute until ctx ends
// (cancel it on SIGTERM) and returns the exit code. Diagnostics go to stderr as JSON lines.
func Main(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) int {
	started := time.Now()
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "."
	}
	cfg, err := LoadEnv(lookup, cwd)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	cfg.StartedAt = started
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("runId", cfg.RunID)
	res, err := Execute(ctx, cfg, log)
	if err != nil {
		log.Error("runner: run not reported", "error", err)
		return ExitFailed
	}
	if Failed(res) {
		return ExitFailed
	}
	return ExitOK
}

// Execute runs cfg the way `appstrate runner` does, for callers that have a Config rather than an environment:
// it reports to the sink of cfg.Sink (with heartbeats), reaches the model and, when cfg.Sidecar.URL is set, the
// sidecar's MCP tools (dialling cfg.Sidecar.Socket when set), then calls Run. A setup failure (sidecar
// unreachable…) is reported as a failed run. The error is for what prevents reporting at all.
func Execute(ctx context.Context, cfg Config, log *slog.Logger) (sink.RunResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.StartedAt.IsZero() {
		cfg.StartedAt = time.Now()
	}
	httpClient, err := NewHTTPClient(cfg.Sidecar.URL, cfg.Sidecar.Socket)
	if err != nil {
		return sink.RunResult{}, err
	}
	sinkClient, err := sink.NewClient(sink.ClientConfig{
		RunID: cfg.RunID, URL: cfg.Sink.URL, FinalizeURL: cfg.Sink.FinalizeURL, Secret: cfg.Sink.Secret,
		HTTPClient: httpClient, Traceparent: cfg.Sink.Traceparent, Logger: log,
	})
	if err != nil {
		return sink.RunResult{}, err
	}
	defer sinkClient.Close()
	defer startHeartbeat(ctx, sinkClient, cfg.Sink.HeartbeatInterval, log)()

	deps := Deps{Sink: sinkClient, Logger: log}
	if deps.LLM, err = newModelClient(cfg, httpClient); err == nil && cfg.Sidecar.URL != "" {
		deps.Sidecar, err = ConnectSidecar(ctx, cfg.Sidecar.URL, cfg.Sidecar.Token, httpClient,
			cfg.ConnectedProviders, cfg.Sidecar.ConnectTimeout)
	}
	if err != nil {
		log.Error("runner: setup failed", "error", err)
		return FinalizeSetupFailure(ctx, sinkClient, cfg.StartedAt, err)
	}
	return Run(ctx, cfg, deps)
}

// startHeartbeat keeps the run alive until the returned stop function is called (after the finalize).
func startHeartbeat(ctx context.Context, c *sink.Client, interval time.Duration, log *slog.Logger) (stop func()) {
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	hbCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Heartbeat(hbCtx, interval); err != nil {
			log.Warn("runner: heartbeat stopped", "error", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// newModelClient builds the model client of cfg. The sidecar token is sent only when the model's base URL is
// the sidecar.
func newModelClient(cfg Config, httpClient *http.Client) (llm.Client, error) {
	header := http.Header{}
	if cfg.Sidecar.Token != "" && sameHost(cfg.Model.BaseURL, cfg.Sidecar.URL) {
		header.Set(SidecarTokenHeader, cfg.Sidecar.Token)
	}
	client, err := llm.New(cfg.Model.API, llm.Config{
		BaseURL: cfg.Model.BaseURL, APIKey: cfg.Model.APIKey, HTTPClient: httpClient, Header: header,
	})
	if err != nil {
		return nil, fmt.Errorf("model client: %w", err)
	}
	return client, nil
}

func sameHost(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil && ua.Host != "" && ua.Host == ub.Host
}

// FinalizeSetupFailure reports a run that could not start (sidecar unreachable…): one appstrate.error event,
// then a failed finalize, which it returns. It does not wait longer than finalizeTimeout, even when ctx is done.
func FinalizeSetupFailure(ctx context.Context, s EventSink, started time.Time, cause error) (sink.RunResult, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalizeTimeout)
	defer cancel()
	msg := cause.Error()
	_ = s.Emit(ctx, sink.TypeError, map[string]any{"message": msg}) // the finalize carries the message anyway
	duration := time.Since(started).Milliseconds()
	res := sink.RunResult{Status: StatusFailed, Error: &sink.ErrorInfo{Message: msg}, DurationMs: &duration,
		Memories: []sink.Memory{}, Logs: []sink.LogEntry{}}
	if err := s.Finalize(ctx, res); err != nil {
		return res, fmt.Errorf("runner: finalize: %w", err)
	}
	return res, nil
}
