package runner

import (
	"context"
	"errors"
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

// Main is `appstrate runner`: it reads the environment (lookup), reports to the platform's sink, connects to the
// sidecar, runs the agent until ctx ends (cancel it on SIGTERM) and returns the exit code. Diagnostics go to
// stderr as JSON lines.
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

	httpClient, err := NewHTTPClient(cfg.Sidecar.URL, cfg.Sidecar.Socket)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	sinkClient, err := sink.NewClient(sink.ClientConfig{
		RunID: cfg.RunID, URL: cfg.Sink.URL, FinalizeURL: cfg.Sink.FinalizeURL, Secret: cfg.Sink.Secret,
		HTTPClient: httpClient, Traceparent: cfg.Sink.Traceparent, Logger: log,
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailed
	}
	defer sinkClient.Close()

	heartbeatCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	heartbeatDone := make(chan struct{})
	go func() {
		defer close(heartbeatDone)
		if err := sinkClient.Heartbeat(heartbeatCtx, cfg.Sink.HeartbeatInterval); err != nil {
			log.Warn("runner: heartbeat stopped", "error", err)
		}
	}()
	defer func() {
		stopHeartbeat()
		<-heartbeatDone
	}()

	deps := Deps{Sink: sinkClient, Logger: log}
	if deps.LLM, err = newModelClient(cfg, httpClient); err == nil && cfg.Sidecar.URL != "" {
		deps.Tools, err = ConnectSidecar(ctx, cfg.Sidecar.URL, cfg.Sidecar.Token, httpClient,
			cfg.ConnectedProviders, cfg.Sidecar.ConnectTimeout)
	}
	if err != nil {
		log.Error("runner: setup failed", "error", err)
		if ferr := FinalizeSetupFailure(ctx, sinkClient, started, err); ferr != nil {
			log.Error("runner: finalize failed", "error", ferr)
		}
		return ExitFailed
	}

	res, err := Run(ctx, cfg, deps)
	if err != nil {
		log.Error("runner: run not reported", "error", err)
		return ExitFailed
	}
	if Failed(res) {
		return ExitFailed
	}
	return ExitOK
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
// then a failed finalize. It does not wait longer than finalizeTimeout, even when ctx is done.
func FinalizeSetupFailure(ctx context.Context, s EventSink, started time.Time, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalizeTimeout)
	defer cancel()
	msg := cause.Error()
	emitErr := s.Emit(ctx, sink.TypeError, map[string]any{"message": msg})
	duration := time.Since(started).Milliseconds()
	err := s.Finalize(ctx, sink.RunResult{Status: StatusFailed, Error: &sink.ErrorInfo{Message: msg}, DurationMs: &duration})
	return errors.Join(emitErr, err)
}
