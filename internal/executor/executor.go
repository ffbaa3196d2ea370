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

// Spec describes one execution.
type Spec struct {
	RunID string
	// Files are the files of the work directory, by slash-separated relative path.
	Files map[string][]byte
	// Env is the environment of the agent (name → value).
	Env map[string]string
	// RunToken authenticates the execution to the platform's /internal routes (API.md §3.8).
	RunToken string
	// Timeout bounds the execution; the worker also enforces it.
	Timeout time.Duration
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
