package runplan

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/models"
)

// SystemTools are the tools the runner implements natively, by name; an agent gets one when its manifest
// lists `@appstrate/<name>` in dependencies.tools.
var SystemTools = []string{"output", "log", "note", "pin", "report"}

// Sink is where the runner reports: the run's event and finalize URLs and the secret that signs its
// requests (minted and stored by the runs service).
type Sink struct {
	URL, FinalizeURL, Secret string
}

// RunnerEnvInput is what the runner's environment is built from.
type RunnerEnvInput struct {
	RunID        string
	Model        models.Resolved
	OutputSchema json.RawMessage
	// ConnectedProviders are the ids of the providers with a connection, in order.
	ConnectedProviders []string
	// ToolIDs are the agent's dependencies.tools ids; the system ones become AGENT_TOOLS.
	ToolIDs []string
	// ToolPackages are the tool packages the runner hosts (AGENT_TOOL_PACKAGES, set when there are any).
	ToolPackages []ToolPackage
	Sink         Sink
	Traceparent  string // "" = none
}

// ToolPackage is a tool package the runner hosts in a JavaScript runtime, as AGENT_TOOL_PACKAGES lists it.
type ToolPackage struct {
	ID         string `json:"id"`
	Dir        string `json:"dir"`        // in the work directory (ToolPackageDir)
	Entrypoint string `json:"entrypoint"` // the manifest's, relative to Dir
}

// RunnerEnv is the runner's environment (RUNTIME.md §2.5) without the addresses the executor adds
// (WORKSPACE_DIR, SIDECAR_*, MODEL_BASE_URL, proxies). MODEL_API_KEY is a placeholder: the sidecar holds the
// key. An API shape the runner cannot speak is an *Error (ErrModelNotSupported).
func RunnerEnv(in RunnerEnvInput) (map[string]string, error) {
	api, err := ModelAPI(in.Model.APIShape)
	if err != nil {
		return nil, err
	}
	m := in.Model
	input := m.Input
	if len(input) == 0 {
		input = []string{"text"}
	}
	var cost llm.Pricing
	if m.Cost != nil {
		cost = *m.Cost
	}
	tools := AgentTools(in.ToolIDs)
	env := map[string]string{
		"AGENT_RUN_ID":                in.RunID,
		"AGENT_PROMPT_FILE":           PromptFile,
		"MODEL_API":                   api,
		"MODEL_ID":                    m.ModelID,
		"MODEL_API_KEY":               Placeholder(m.APIKey),
		"MODEL_INPUT":                 compactJSON(input),
		"MODEL_REASONING":             strconv.FormatBool(m.Reasoning),
		"MODEL_COST":                  compactJSON(cost),
		"CONNECTED_PROVIDERS":         strings.Join(in.ConnectedProviders, ","),
		"AGENT_TOOLS":                 compactJSON(tools),
		"APPSTRATE_SINK_URL":          in.Sink.URL,
		"APPSTRATE_SINK_FINALIZE_URL": in.Sink.FinalizeURL,
		"APPSTRATE_SINK_SECRET":       in.Sink.Secret,
	}
	setModelLimits(env, m)
	if hasProperties(in.OutputSchema) {
		env["OUTPUT_SCHEMA"] = compactJSON(decodeJSON(in.OutputSchema))
	}
	if in.Traceparent != "" {
		env["TRACEPARENT"] = in.Traceparent
	}
	if len(in.ToolPackages) > 0 {
		env["AGENT_TOOL_PACKAGES"] = compactJSON(in.ToolPackages)
	}
	return env, nil
}

// SidecarEnvInput is what the sidecar's environment is built from.
type SidecarEnvInput struct {
	RunID          string
	RunToken       string
	PlatformAPIURL string
	Model          models.Resolved
	ProxyURL       string // the organization's outbound proxy ("" = none)
	// Sink gives the sink URLs the sidecar's relay lets the runner reach (never the secret).
	Sink Sink
}

// SidecarEnv is the sidecar's environment (RUNTIME.md §2.5) without its listen addresses: the real model key
// with the placeholder it replaces, the run token for the platform's /internal routes, and the run's sink
// URLs (its relay forwards the runner's events there; the secret stays with the runner, which signs them).
func SidecarEnv(in SidecarEnvInput) (map[string]string, error) {
	api, err := ModelAPI(in.Model.APIShape)
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"RUN_ID":           in.RunID,
		"RUN_TOKEN":        in.RunToken,
		"PLATFORM_API_URL": strings.TrimRight(in.PlatformAPIURL, "/"),
		"PI_BASE_URL":      in.Model.BaseURL,
		"PI_API_KEY":       in.Model.APIKey,
		"PI_PLACEHOLDER":   Placeholder(in.Model.APIKey),
		"MODEL_API":        api,
		"PROXY_URL":        in.ProxyURL,
	}
	if in.Sink.URL != "" && in.Sink.FinalizeURL != "" {
		env["APPSTRATE_SINK_URL"], env["APPSTRATE_SINK_FINALIZE_URL"] = in.Sink.URL, in.Sink.FinalizeURL
	}
	setModelLimits(env, in.Model)
	return env, nil
}

// setModelLimits sets MODEL_CONTEXT_WINDOW and MODEL_MAX_TOKENS when the model declares them (the runtime
// defaults otherwise).
func setModelLimits(env map[string]string, m models.Resolved) {
	if m.ContextWindow > 0 {
		env["MODEL_CONTEXT_WINDOW"] = strconv.Itoa(m.ContextWindow)
	}
	if m.MaxTokens > 0 {
		env["MODEL_MAX_TOKENS"] = strconv.Itoa(m.MaxTokens)
	}
}

// ModelAPI maps a model's API shape to the MODEL_API the runner speaks: the wire format of package llm
// (openai-chat, the shape of OpenAI-compatible servers, and mistral-conversations become
// openai-completions; openai-codex-responses and azure-openai-responses become openai-responses).
func ModelAPI(shape string) (string, error) {
	api, err := llm.ParseAPI(shape)
	if err != nil {
		return "", &Error{Code: ErrModelNotSupported.Code, Err: err,
			Message: "The model's API (" + strconv.Quote(shape) + ") is not supported by the runner"}
	}
	return string(api), nil
}

// Placeholder is the stand-in key the runner gets (RUNTIME.md §2.2): the key's leading "-"-separated
// segments, then "placeholder" ("sk-ant-api03-XXXX" → "sk-ant-api03-placeholder"), so that SDKs that sniff
// key prefixes still work; "sk-placeholder" for a key without "-". Upstream keeps every segment but the last,
// which hands most of a key whose random part contains "-" to the agent; here only a prefix is kept: at most
// maxPlaceholderSegments segments, each a short run of letters and digits, never the last one.
func Placeholder(apiKey string) string {
	segments := strings.Split(apiKey, "-")
	if len(segments) < 2 {
		return "sk-placeholder"
	}
	var kept []string
	for _, s := range segments[:len(segments)-1] {
		if len(kept) == maxPlaceholderSegments || !prefixSegment(s) {
			break
		}
		kept = append(kept, s)
	}
	if len(kept) == 0 {
		return "sk-placeholder"
	}
	return strings.Join(kept, "-") + "-placeholder"
}

// Placeholder prefixes: vendors' key prefixes are a few short words ("sk", "ant", "api03", "proj").
const (
	maxPlaceholderSegments = 3
	maxPrefixSegmentLen    = 8
)

func prefixSegment(s string) bool {
	if s == "" || len(s) > maxPrefixSegmentLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// AgentTools are the system tools (SystemTools) among the agent's tool dependencies, in SystemTools order.
func AgentTools(toolIDs []string) []string {
	declared := map[string]bool{}
	for _, id := range toolIDs {
		if name, ok := strings.CutPrefix(id, systemScope+"/"); ok {
			declared[name] = true
		}
	}
	out := []string{}
	for _, name := range SystemTools {
		if declared[name] {
			out = append(out, name)
		}
	}
	return out
}

const systemScope = "@appstrate"
