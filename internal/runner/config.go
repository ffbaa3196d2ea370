package runner

import (
	"encoding/json"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
)

// Defaults of the environment contract.
const (
	DefaultContextWindow     = 128000
	DefaultMaxTokens         = 16384
	DefaultMaxTurns          = 200
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultMCPConnectTimeout = 60 * time.Second
)

// Config is one run of the agent.
type Config struct {
	RunID string
	// Prompt is the platform prompt: the system prompt and the first user message.
	Prompt string
	Model  Model
	// OutputSchema is the JSON Schema of the output tool's data (nil: any object).
	OutputSchema json.RawMessage
	// ConnectedProviders are the provider ids provider_call may target.
	ConnectedProviders []string
	// WorkspaceDir is the directory the workspace tools are confined to.
	WorkspaceDir string
	// AgentTools are the platform tools offered to the model (output, log, note, pin, report).
	AgentTools []string
	// ToolPackages are the agent's third-party tool packages (TypeScript or JavaScript), hosted in a
	// JavaScript runtime (internal/jstools) when there are any.
	ToolPackages []ToolPackage
	// JSRuntime is the JavaScript runtime of the tool packages: "" (node, else bun, on PATH), "node", "bun"
	// or the path of either.
	JSRuntime string
	// MaxTurns caps the model calls of the run (0: DefaultMaxTurns).
	MaxTurns int
	// StartedAt is when the runtime started (zero: when Run is called); "runtime ready" and durationMs count
	// from it.
	StartedAt time.Time
	// BashEnv is the environment of bash commands (nil: the process environment without the runner's own
	// variables, see ScrubbedEnv).
	BashEnv []string

	Sink    SinkConfig
	Sidecar SidecarConfig
}

// ToolPackage is a third-party tool package in the workspace (AGENT_TOOL_PACKAGES).
type ToolPackage struct {
	// ID is the package id, e.g. "@acme/fetch-json".
	ID string `json:"id"`
	// Dir holds the package's files: relative to the workspace, or absolute inside it.
	Dir string `json:"dir"`
	// Entrypoint is the manifest's entrypoint, relative to Dir.
	Entrypoint string `json:"entrypoint"`
}

// Model is the model the run talks to.
type Model struct {
	API           string // MODEL_API shape
	ID            string
	BaseURL       string
	APIKey        string
	Input         []string // "text", "image"
	ContextWindow int
	MaxTokens     int
	Reasoning     bool
	Cost          llm.Pricing
	// Retries is the number of retries of a failed model call (429, 5xx, network): 2 with MODEL_RETRY_ENABLED.
	Retries int
	// RetryBaseDelay is the first backoff delay when the provider gave no Retry-After (0: 1 s).
	RetryBaseDelay time.Duration
}

// SinkConfig is where the run reports.
type SinkConfig struct {
	URL               string
	FinalizeURL       string
	Secret            string
	HeartbeatInterval time.Duration
	Traceparent       string
}

// SidecarConfig is how the runner reaches its sidecar (all empty: no sidecar).
type SidecarConfig struct {
	URL            string
	Socket         string
	Token          string
	ConnectTimeout time.Duration // MCP connection deadline
}

func (c Config) maxTurns() int {
	if c.MaxTurns > 0 {
		return c.MaxTurns
	}
	return DefaultMaxTurns
}
