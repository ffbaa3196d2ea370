package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// EnvError lists every problem of the runner's environment.
type EnvError struct {
	Issues []string
}

func (e *EnvError) Error() string {
	return "invalid runner environment:\n  - " + strings.Join(e.Issues, "\n  - ")
}

// ModelAPIs are the nine API shapes of the platform (RUNTIME.md §2.5).
var ModelAPIs = []string{
	"anthropic-messages", "openai-completions", "openai-responses", "openai-codex-responses",
	"mistral-conversations", "google-generative-ai", "google-vertex", "azure-openai-responses",
	"bedrock-converse-stream",
}

// PlatformTools are the platform tool names AGENT_TOOLS may list.
var PlatformTools = []string{ToolOutput, ToolLog, ToolNote, ToolPin, ToolReport}

// maxPromptFileBytes bounds AGENT_PROMPT_FILE.
const maxPromptFileBytes = 16 << 20

var providerIDPattern = regexp.MustCompile(`^(@[a-z0-9][a-z0-9-]*/)?[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// envParser collects issues while reading variables.
type envParser struct {
	lookup func(string) (string, bool)
	issues []string
}

func (p *envParser) get(name string) string {
	v, _ := p.lookup(name)
	return strings.TrimSpace(v)
}

func (p *envParser) issue(format string, args ...any) {
	p.issues = append(p.issues, fmt.Sprintf(format, args...))
}

func (p *envParser) required(name string) string {
	v := p.get(name)
	if v == "" {
		p.issue("%s is required", name)
	}
	return v
}

func (p *envParser) url(name string, required bool) string {
	v := p.get(name)
	if v == "" {
		if required {
			p.issue("%s is required", name)
		}
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.issue("%s must be an absolute http(s) URL, got %q", name, v)
	}
	return v
}

func (p *envParser) positiveInt(name string, def int) int {
	v := p.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		p.issue("%s must be a positive integer, got %q", name, v)
		return def
	}
	return n
}

func (p *envParser) millis(name string, def time.Duration) time.Duration {
	n := p.positiveInt(name, int(def/time.Millisecond))
	return time.Duration(n) * time.Millisecond
}

func (p *envParser) boolean(name string, def bool) bool {
	v := p.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.issue("%s must be true or false, got %q", name, v)
		return def
	}
	return b
}

// ParseEnv reads the runner's environment (see the package documentation) without touching the file system:
// AGENT_PROMPT_FILE is resolved (against the workspace) but not read, and the workspace is not checked; LoadEnv
// does both. cwd is the default workspace. All problems come back at once in an *EnvError, with the Config
// read as far as it could be.
func ParseEnv(lookup func(string) (string, bool), cwd string) (Config, string, error) {
	p := &envParser{lookup: lookup}
	var cfg Config
	cfg.RunID = p.required("AGENT_RUN_ID")

	cfg.WorkspaceDir = p.get("WORKSPACE_DIR")
	if cfg.WorkspaceDir == "" {
		cfg.WorkspaceDir = cwd
	}
	if !filepath.IsAbs(cfg.WorkspaceDir) {
		cfg.WorkspaceDir = filepath.Join(cwd, cfg.WorkspaceDir)
	}

	promptFile := ""
	prompt, hasPrompt := lookup("AGENT_PROMPT")
	file := p.get("AGENT_PROMPT_FILE")
	switch {
	case hasPrompt && prompt != "" && file != "":
		p.issue("set only one of AGENT_PROMPT and AGENT_PROMPT_FILE")
	case file != "":
		promptFile = file
		if !filepath.IsAbs(promptFile) {
			promptFile = filepath.Join(cfg.WorkspaceDir, promptFile)
		}
	case strings.TrimSpace(prompt) == "":
		p.issue("AGENT_PROMPT (or AGENT_PROMPT_FILE) is required")
	default:
		cfg.Prompt = prompt
	}

	cfg.Model = parseModel(p)
	cfg.OutputSchema = parseOutputSchema(p)
	cfg.ConnectedProviders = parseProviders(p)
	cfg.AgentTools = parseAgentTools(p)
	cfg.ToolPackages = parseToolPackages(p)
	cfg.MaxTurns = p.positiveInt("MAX_TURNS", DefaultMaxTurns)

	cfg.Sink = SinkConfig{
		URL:               p.url("APPSTRATE_SINK_URL", true),
		FinalizeURL:       p.url("APPSTRATE_SINK_FINALIZE_URL", true),
		Secret:            p.get("APPSTRATE_SINK_SECRET"),
		HeartbeatInterval: p.millis("APPSTRATE_HEARTBEAT_INTERVAL_MS", DefaultHeartbeatInterval),
		Traceparent:       p.get("TRACEPARENT"),
	}
	switch n := len(cfg.Sink.Secret); {
	case n == 0:
		p.issue("APPSTRATE_SINK_SECRET is required")
	case n < sink.MinSecretLength:
		p.issue("APPSTRATE_SINK_SECRET must be at least %d characters, got %d", sink.MinSecretLength, n)
	}

	cfg.Sidecar = SidecarConfig{
		URL:            p.url("SIDECAR_URL", false),
		Socket:         p.get("SIDECAR_SOCKET"),
		Token:          p.get("SIDECAR_TOKEN"),
		ConnectTimeout: p.millis("APPSTRATE_MCP_CONNECT_DEADLINE_MS", DefaultMCPConnectTimeout),
	}
	if cfg.Sidecar.URL == "" && cfg.Sidecar.Socket != "" {
		p.issue("SIDECAR_SOCKET needs SIDECAR_URL (the host name requests to the sidecar use)")
	}
	if cfg.Sidecar.URL == "" && len(cfg.ConnectedProviders) > 0 {
		p.issue("CONNECTED_PROVIDERS needs SIDECAR_URL: provider calls go through the sidecar")
	}

	if len(p.issues) > 0 {
		return cfg, promptFile, &EnvError{Issues: p.issues}
	}
	return cfg, promptFile, nil
}

func parseModel(p *envParser) Model {
	m := Model{
		API:           p.required("MODEL_API"),
		ID:            p.required("MODEL_ID"),
		BaseURL:       p.url("MODEL_BASE_URL", false),
		APIKey:        p.get("MODEL_API_KEY"),
		Input:         []string{"text"},
		ContextWindow: p.positiveInt("MODEL_CONTEXT_WINDOW", DefaultContextWindow),
		MaxTokens:     p.positiveInt("MODEL_MAX_TOKENS", DefaultMaxTokens),
		Reasoning:     p.boolean("MODEL_REASONING", false),
	}
	if p.boolean("MODEL_RETRY_ENABLED", true) {
		m.Retries = 2
	}
	if m.API != "" {
		if _, err := llm.ParseAPI(m.API); err != nil {
			if slices.Contains(ModelAPIs, m.API) {
				p.issue("MODEL_API %q is not supported by this runner (supported: %s)", m.API, strings.Join(supportedAPIs(), ", "))
			} else {
				p.issue("MODEL_API must be one of %s, got %q", strings.Join(ModelAPIs, ", "), m.API)
			}
		}
	}
	if v := p.get("MODEL_INPUT"); v != "" {
		var input []string
		if err := json.Unmarshal([]byte(v), &input); err != nil || len(input) == 0 {
			p.issue(`MODEL_INPUT must be a non-empty JSON array of "text" and "image", got %q`, v)
		} else {
			for _, in := range input {
				if in != "text" && in != "image" {
					p.issue(`MODEL_INPUT may only list "text" and "image", got %q`, in)
				}
			}
			m.Input = input
		}
	}
	if v := p.get("MODEL_COST"); v != "" {
		cost, err := parseCost(v)
		if err != nil {
			p.issue("MODEL_COST %v", err)
		}
		m.Cost = cost
	}
	return m
}

// supportedAPIs lists the shapes of ModelAPIs this runner speaks.
func supportedAPIs() []string {
	var out []string
	for _, a := range ModelAPIs {
		if _, err := llm.ParseAPI(a); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// parseCost reads {input, output, cacheRead, cacheWrite} in USD per million tokens; every field is optional and
// must be a non-negative number.
func parseCost(v string) (llm.Pricing, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &fields); err != nil || fields == nil {
		return llm.Pricing{}, fmt.Errorf("must be a JSON object {input, output, cacheRead, cacheWrite}, got %q", v)
	}
	var pr llm.Pricing
	targets := map[string]*float64{"input": &pr.InputPerMTok, "output": &pr.OutputPerMTok,
		"cacheRead": &pr.CacheReadPerMTok, "cacheWrite": &pr.CacheWritePerMTok}
	var problems []string
	for _, k := range []string{"input", "output", "cacheRead", "cacheWrite"} {
		raw, ok := fields[k]
		if !ok || string(raw) == "null" {
			continue
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || f < 0 {
			problems = append(problems, fmt.Sprintf("%s must be a non-negative number, got %s", k, raw))
			continue
		}
		*targets[k] = f
	}
	if len(problems) > 0 {
		return llm.Pricing{}, errors.New(strings.Join(problems, "; "))
	}
	return pr, nil
}

func parseOutputSchema(p *envParser) json.RawMessage {
	v := p.get("OUTPUT_SCHEMA")
	if v == "" {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil || obj == nil {
		p.issue("OUTPUT_SCHEMA must be a JSON Schema object")
		return nil
	}
	if _, err := jsonschema.Compile([]byte(v)); err != nil {
		p.issue("OUTPUT_SCHEMA: %v", err)
		return nil
	}
	return json.RawMessage(v)
}

func parseProviders(p *envParser) []string {
	var out []string
	for _, id := range strings.Split(p.get("CONNECTED_PROVIDERS"), ",") {
		id = strings.TrimSpace(id)
		if id == "" || slices.Contains(out, id) {
			continue
		}
		if !providerIDPattern.MatchString(id) {
			p.issue("CONNECTED_PROVIDERS: %q is not a provider id", id)
			continue
		}
		out = append(out, id)
	}
	return out
}

// parseAgentTools reads AGENT_TOOLS: a JSON array of tool names or of their system package ids
// ("@appstrate/output"). Unset means every platform tool. Names that are not platform tools are kept: Run
// reports them as unavailable instead of failing the run.
func parseAgentTools(p *envParser) []string {
	v, ok := p.lookup("AGENT_TOOLS")
	if !ok || strings.TrimSpace(v) == "" {
		return slices.Clone(PlatformTools)
	}
	var names []string
	if err := json.Unmarshal([]byte(v), &names); err != nil {
		p.issue("AGENT_TOOLS must be a JSON array of tool names, got %q", v)
		return nil
	}
	var out []string
	for _, n := range names {
		n = strings.TrimPrefix(strings.TrimSpace(n), "@appstrate/")
		if n == "" {
			p.issue("AGENT_TOOLS contains an empty name")
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// parseToolPackages reads AGENT_TOOL_PACKAGES: a JSON array of {id, dir, entrypoint}, each with an id and a
// dir that stays in the workspace. An empty entrypoint is kept: Run reports that package as not loadable.
func parseToolPackages(p *envParser) []ToolPackage {
	v := p.get("AGENT_TOOL_PACKAGES")
	if v == "" {
		return nil
	}
	var pkgs []ToolPackage
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pkgs); err != nil {
		p.issue(`AGENT_TOOL_PACKAGES must be a JSON array of {"id", "dir", "entrypoint"}, got %q (%v)`, preview(v, 200), err)
		return nil
	}
	seen := map[string]bool{}
	var out []ToolPackage
	for i, pkg := range pkgs {
		switch {
		case strings.TrimSpace(pkg.ID) == "":
			p.issue("AGENT_TOOL_PACKAGES[%d]: id is required", i)
		case seen[pkg.ID]:
			p.issue("AGENT_TOOL_PACKAGES[%d]: %s is listed twice", i, pkg.ID)
		case strings.TrimSpace(pkg.Dir) == "":
			p.issue("AGENT_TOOL_PACKAGES[%d] (%s): dir is required", i, pkg.ID)
		case !filepath.IsAbs(pkg.Dir) && escapes(pkg.Dir):
			p.issue("AGENT_TOOL_PACKAGES[%d] (%s): dir %q leaves the workspace", i, pkg.ID, pkg.Dir)
		default:
			seen[pkg.ID] = true
			out = append(out, pkg)
		}
	}
	return out
}

// escapes reports whether a relative path climbs out of its base.
func escapes(rel string) bool {
	clean := filepath.Clean(rel)
	return clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator))
}

// LoadEnv is ParseEnv plus the checks that need the file system: the workspace must be a directory and
// AGENT_PROMPT_FILE a readable, non-empty file (it becomes Config.Prompt).
func LoadEnv(lookup func(string) (string, bool), cwd string) (Config, error) {
	cfg, promptFile, err := ParseEnv(lookup, cwd)
	var issues []string
	var envErr *EnvError
	if errors.As(err, &envErr) {
		issues = envErr.Issues
	} else if err != nil {
		return Config{}, err
	}
	if cfg.WorkspaceDir != "" {
		if fi, statErr := os.Stat(cfg.WorkspaceDir); statErr != nil || !fi.IsDir() {
			issues = append(issues, fmt.Sprintf("WORKSPACE_DIR %q is not a directory", cfg.WorkspaceDir))
		}
		if promptFile != "" {
			prompt, readErr := readPromptFile(promptFile)
			if readErr != nil {
				issues = append(issues, "AGENT_PROMPT_FILE: "+readErr.Error())
			}
			cfg.Prompt = prompt
		}
	}
	if len(issues) > 0 {
		return Config{}, &EnvError{Issues: issues}
	}
	return cfg, nil
}

func readPromptFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxPromptFileBytes {
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxPromptFileBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}
