package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Limits of the bash tool.
const (
	bashDefaultTimeout = 10 * time.Minute
	bashMaxTimeout     = time.Hour
	bashMaxOutput      = 64 << 10 // the tail of the output that is kept
	bashWaitDelay      = 2 * time.Second
)

// runnerVariables are the environment variables of the runner itself, kept away from bash commands: secrets
// (sink secret, sidecar token, model key), and values that only matter to the runner (a prompt can be too
// large for execve).
var runnerVariables = []string{
	"AGENT_PROMPT", "AGENT_PROMPT_FILE", "AGENT_TOOLS", "AGENT_TOOL_PACKAGES", "AGENT_RUN_ID", "APPSTRATE_SINK_URL",
	"APPSTRATE_SINK_FINALIZE_URL", "APPSTRATE_SINK_SECRET", "APPSTRATE_HEARTBEAT_INTERVAL_MS",
	"APPSTRATE_MCP_CONNECT_DEADLINE_MS", "MODEL_API", "MODEL_ID", "MODEL_BASE_URL", "MODEL_API_KEY",
	"MODEL_INPUT", "MODEL_CONTEXT_WINDOW", "MODEL_MAX_TOKENS", "MODEL_REASONING", "MODEL_COST",
	"MODEL_RETRY_ENABLED", "OUTPUT_SCHEMA", "CONNECTED_PROVIDERS", "SIDECAR_URL", "SIDECAR_SOCKET",
	"SIDECAR_TOKEN", "MAX_TURNS", "TRACEPARENT", "RUN_TOKEN",
}

// ScrubbedEnv is environ without the runner's own variables (see the package documentation).
func ScrubbedEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, v := range runnerVariables {
			if name == v {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

func bashTool(w *Workspace, env []string) Tool {
	if env == nil {
		env = ScrubbedEnv(os.Environ())
	}
	return Tool{
		Name: "bash",
		Description: "Run a command with bash -c in the workspace directory. stdout and stderr are returned " +
			"together (the last 64 KB). The command and everything it started are killed at the timeout " +
			"(seconds, default 600).",
		Schema: schema(`{"type":"object","properties":{` +
			`"command":{"type":"string","description":"The bash command line"},` +
			`"timeout":{"type":"number","exclusiveMinimum":0,"description":"Timeout in seconds (default 600, at most 3600)"}},` +
			`"required":["command"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Command string   `json:"command"`
				Timeout *float64 `json:"timeout"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if strings.TrimSpace(a.Command) == "" {
				return "", toolErrorf(`Invalid arguments: "command" is required`)
			}
			timeout := bashDefaultTimeout
			if a.Timeout != nil {
				if *a.Timeout <= 0 {
					return "", toolErrorf(`Invalid arguments: "timeout" must be a positive number of seconds`)
				}
				timeout = min(time.Duration(*a.Timeout*float64(time.Second)), bashMaxTimeout)
			}
			return runBash(ctx, w.Dir(), env, a.Command, timeout)
		},
	}
}

// runBash runs command in its own process group; the group is killed at the timeout or when ctx ends.
func runBash(ctx context.Context, dir string, env []string, command string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errBashTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Dir = dir
	cmd.Env = env
	out := &tailBuffer{max: bashMaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = bashWaitDelay
	setProcessGroup(cmd)
	err := cmd.Run()
	text := out.String()
	var exitErr *exec.ExitError
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		err = nil // the command ended; something it left in the background still holds the output open
	}
	switch {
	case err == nil:
		if text == "" {
			return "(no output)", nil
		}
		return text, nil
	case errors.Is(context.Cause(ctx), errBashTimeout):
		return "", fmt.Errorf("%s\n\nCommand timed out after %s and was killed", text, timeout)
	case ctx.Err() != nil:
		return "", fmt.Errorf("%s\n\nCommand interrupted: %v", text, context.Cause(ctx))
	case errors.As(err, &exitErr):
		return "", fmt.Errorf("%s\n\nCommand exited with code %d", strings.TrimRight(text, "\n"), exitErr.ExitCode())
	default:
		return "", fmt.Errorf("cannot run bash: %v", err)
	}
}

var errBashTimeout = errors.New("bash command timed out")

// tailBuffer keeps the last max bytes written to it, and counts what it dropped.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.dropped += int64(over)
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.buf), "�")
	if t.dropped > 0 {
		return fmt.Sprintf("[output truncated: the first %d bytes are not shown]\n%s", t.dropped, s)
	}
	return s
}
