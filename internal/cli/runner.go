package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/appstrate/appstrate-go/internal/runner"
)

func newRunnerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "runner",
		Short:  "Run an agent inside a run's sandbox (started by the platform)",
		Hidden: true,
		Long: "Run one agent: the model loop with the workspace, platform and sidecar tools, reporting every\n" +
			"event to the platform's signed sink. Started by the platform's executor with the run's work directory\n" +
			"and configured only by its environment (AGENT_RUN_ID, AGENT_PROMPT or AGENT_PROMPT_FILE, MODEL_*,\n" +
			"APPSTRATE_SINK_*, SIDECAR_*, OUTPUT_SCHEMA, AGENT_TOOLS…; see internal/runner). SIGTERM cancels the run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := cancelOnSignal(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if code := runner.Main(ctx, lookupEnv, cmd.ErrOrStderr()); code != runner.ExitOK {
				return &ExitError{Code: code, Silent: true, Err: errors.New("run failed")}
			}
			return nil
		},
	}
}

// cancelOnSignal returns a context cancelled, with the signal as its cause, when one of sigs arrives.
func cancelOnSignal(parent context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			cancel(fmt.Errorf("received %s", signalName(s)))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(context.Canceled)
	}
}

// signalName is the conventional name of the signals the commands handle ("SIGTERM" rather than "terminated").
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}
