package executor

import (
	"context"
	"encoding/json"
	"time"
)

// Executor starts the execution of one run.
type Executor interface {
	// Start launches the run described by spec and returns at once with its Handle. An error means nothing
	// was started (the run fails with it).
	Start(ctx context.Context, spec Spec) (Handle, error)
}

// Handle is one started execution.
type Handle interface {
	// Wait blocks until the execution ends (by itself or after Kill) or ctx is done, and returns its outcome.
	Wait(ctx context.Context) Result
	// Kill stops the execution; Wait then returns promptly. Kill may be called several times and after the end.
	Kill()
}

// Spec describes one execution: the runner (`appstrate runner`, the agent) and, next to it, its sidecar
// (`appstrate sidecar`, which holds the secrets). The run planner fills everything that does not depend on
// where the processes live; the executor adds the addresses (see the env contracts in internal/runner and
// internal/sidecar): WORKSPACE_DIR, SIDECAR_URL / SIDECAR_SOCKET / SIDECAR_TOKEN and MODEL_BASE_URL
// (SIDECAR_URL + "/llm") for the runner, SIDECAR_LISTEN / SIDECAR_PROXY_LISTEN / SIDECAR_TOKEN for the
// sidecar, and HTTP(S)_PROXY for the runner when the sidecar's forward proxy is up.
type Spec struct {
	RunID string
	// Files are the files of the work directory, by slash-separated relative path.
	Files map[string][]byte
	// Env is the environment of the runner (name → value), on top of a minimal base the executor chooses
	// (PATH, HOME, LANG, TMPDIR); never the server's environment.
	Env map[string]string
	// SidecarEnv is the environment of the sidecar (RUN_TOKEN, PLATFORM_API_URL, PI_BASE_URL, PI_API_KEY,
	// PI_PLACEHOLDER, MODEL_API, PROXY_URL, ...). Nil = no sidecar.
	SidecarEnv map[string]string
	// RunToken authenticates the execution to the platform's /internal routes (API.md §3.8).
	RunToken string
	// Timeout bounds the execution; the worker also enforces it.
	Timeout time.Duration
	// Limits are the resource limits of the runner (zero fields = executor defaults).
	Limits Limits
}

// Limits bound the resources of a runner. Zero fields take the executor's defaults; a negative field
// disables that limit.
type Limits struct {
	MemoryBytes int64   // memory (RLIMIT_DATA without cgroups; the cgroup memory limit with them)
	CPUs        float64 // CPU share (containers, cgroups)
	Pids        int     // processes/threads
	CPUSeconds  int     // CPU time (rlimit), 0 = the timeout
	FileBytes   int64   // largest file the runner may write
}

// Result is how an execution ended.
type Result struct {
	// ExitCode of the agent (0 = success).
	ExitCode int
	// Output is the agent's output (a JSON value; nil = none).
	Output json.RawMessage
	// Err is an execution failure (could not run, crashed); it wins over ExitCode.
	Err error
}
