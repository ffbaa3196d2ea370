package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
	"github.com/appstrate/appstrate-go/internal/executor/process"
)

// buildExecutor chooses how runs execute from RUN_ADAPTER ("" = automatic) and says which one and why in one
// log line. It returns nil (runs fail with a clear error) when the chosen executor cannot work here.
func (a *App) buildExecutor() executor.Executor {
	bin, err := os.Executable()
	if err != nil {
		a.Logger.Error("runs: no executor: the server binary cannot be located to start runners", "error", err)
		return nil
	}
	runsDir := filepath.Join(a.Config.DataDir, "runs")
	var sandbox *bwrap.Executor
	var probe *bwrap.Probe
	if a.Config.RunAdapter == "" || a.Config.RunAdapter == "bwrap" {
		sandbox = &bwrap.Executor{Binary: bin, RunsDir: bwrap.RunsDir(a.Config.DataDir), Logger: a.Logger}
		probe, err = sandbox.Probe(context.Background())
	}
	switch {
	case a.Config.RunAdapter == "bwrap" && err != nil:
		a.Logger.Error("runs: executor bwrap cannot start sandboxes on this host: runs will fail (see `appstrate doctor`)",
			"why", probe.Err, "fix", probe.Fix)
		return sandbox
	case sandbox != nil && err == nil:
		why := "RUN_ADAPTER=bwrap"
		if a.Config.RunAdapter == "" {
			why = "automatic: bubblewrap sandboxes work on this host (set RUN_ADAPTER to choose)"
		}
		a.Logger.Info("runs: executor bwrap — each runner in its own user, mount, pid, IPC, UTS and network namespaces, "+
			"reaching only its sidecar", "why", why, "bwrap", probe.Version, "limits", probe.LimitsSummary(), "runsDir", sandbox.RunsDir)
		return sandbox
	case a.Config.RunAdapter == "" || a.Config.RunAdapter == "process":
		why := "RUN_ADAPTER=process"
		if a.Config.RunAdapter == "" {
			why = "automatic: bwrap unusable (" + probe.Err.Error() + "; fix: " + probe.Fix + ")"
		}
		a.Logger.Warn("runs: executor process — runners are separate process groups with a minimal environment "+
			"and rlimits, but NOT isolated from this machine's files and network", "why", why, "runsDir", runsDir)
		return &process.Executor{Binary: bin, RunsDir: runsDir, Logger: a.Logger}
	default:
		a.Logger.Error("runs: no executor: RUN_ADAPTER is not available in this build yet", "adapter", a.Config.RunAdapter)
		return nil
	}
}

// reapRuns removes what runs of a previous server process left in the runs directory (their processes are
// killed); the watchdog then fails those runs.
func (a *App) reapRuns() {
	p, ok := a.Runs.Executor.(interface{ Reap() (int, error) })
	if !ok {
		return
	}
	n, err := p.Reap()
	if err != nil {
		a.Logger.Warn("startup: stale runs not reaped", "error", err)
	}
	if n > 0 {
		a.Logger.Warn("startup: reaped runs left by a previous process", "count", n)
	}
}

// closeExecutor releases what the executor keeps for all runs (the bwrap executor's staged binary).
func (a *App) closeExecutor() {
	if a.Runs == nil {
		return
	}
	if c, ok := a.Runs.Executor.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			a.Logger.Warn("shutdown: executor files not removed", "error", err)
		}
	}
}

// platformURL is the base URL runners and sidecars use to reach this server: PLATFORM_API_URL, else the
// loopback address of the listener.
func (a *App) platformURL(ln net.Listener) string {
	if a.Config.PlatformAPIURL != "" {
		return a.Config.PlatformAPIURL
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		host := "127.0.0.1"
		if tcp.IP != nil && tcp.IP.To4() == nil && !tcp.IP.IsUnspecified() {
			host = "[" + tcp.IP.String() + "]"
		}
		return "http://" + host + ":" + strconv.Itoa(tcp.Port)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", a.Config.Port)
}
