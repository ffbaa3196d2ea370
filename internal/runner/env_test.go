package runner_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/runner"
)

// minimalEnv is the smallest valid environment.
func minimalEnv() map[string]string {
	return map[string]string{
		"AGENT_RUN_ID":                testRunID,
		"AGENT_PROMPT":                "Do the thing.",
		"MODEL_API":                   "anthropic-messages",
		"MODEL_ID":                    "claude-test",
		"APPSTRATE_SINK_URL":          "http://127.0.0.1:3000/api/runs/" + testRunID + "/events",
		"APPSTRATE_SINK_FINALIZE_URL": "http://127.0.0.1:3000/api/runs/" + testRunID + "/events/finalize",
		"APPSTRATE_SINK_SECRET":       testSecret,
	}
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseEnvDefaults(t *testing.T) {
	cfg, file, err := runner.ParseEnv(lookupIn(minimalEnv()), "/work")
	if err != nil {
		t.Fatal(err)
	}
	if file != "" || cfg.Prompt != "Do the thing." || cfg.RunID != testRunID || cfg.WorkspaceDir != "/work" {
		t.Fatalf("config %+v", cfg)
	}
	m := cfg.Model
	if m.ContextWindow != 128000 || m.MaxTokens != 16384 || m.Retries != 2 || m.Reasoning ||
		!slices.Equal(m.Input, []string{"text"}) || !m.Cost.IsZero() {
		t.Fatalf("model defaults %+v", m)
	}
	if cfg.Sink.HeartbeatInterval != 30*time.Second || cfg.MaxTurns != 200 || cfg.Sidecar.ConnectTimeout != time.Minute {
		t.Fatalf("defaults %+v", cfg)
	}
	if !slices.Equal(cfg.AgentTools, runner.PlatformTools) {
		t.Fatalf("AGENT_TOOLS unset must offer every platform tool, got %v", cfg.AgentTools)
	}
}

func TestParseEnvFull(t *testing.T) {
	env := minimalEnv()
	for k, v := range map[string]string{
		"MODEL_API": "openai-codex-responses", "MODEL_BASE_URL": "http://sidecar/llm", "MODEL_API_KEY": "sk-placeholder",
		"MODEL_INPUT": `["text","image"]`, "MODEL_CONTEXT_WINDOW": "200000", "MODEL_MAX_TOKENS": "8000",
		"MODEL_REASONING": "true", "MODEL_COST": `{"input":3,"output":15,"cacheRead":0.3}`,
		"MODEL_RETRY_ENABLED": "false", "OUTPUT_SCHEMA": testOutputSchema, "CONNECTED_PROVIDERS": "@acme/gmail, notion,@acme/gmail",
		"AGENT_TOOLS": `["@appstrate/output","log"]`, "WORKSPACE_DIR": "ws", "APPSTRATE_HEARTBEAT_INTERVAL_MS": "15000",
		"TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "SIDECAR_URL": "http://sidecar",
		"SIDECAR_SOCKET": "/run/sidecar.sock", "SIDECAR_TOKEN": "tok", "MAX_TURNS": "12",
		"APPSTRATE_MCP_CONNECT_DEADLINE_MS": "500",
		"AGENT_TOOL_PACKAGES":               `[{"id":"@acme/fetch","dir":".appstrate/tools/@acme/fetch","entrypoint":"src/tool.ts"},{"id":"@acme/raw","dir":"/work/ws/raw","entrypoint":""}]`,
	} {
		env[k] = v
	}
	cfg, _, err := runner.ParseEnv(lookupIn(env), "/work")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Model
	if m.API != "openai-codex-responses" || m.BaseURL != "http://sidecar/llm" || m.ContextWindow != 200000 ||
		m.MaxTokens != 8000 || !m.Reasoning || m.Retries != 0 || !slices.Equal(m.Input, []string{"text", "image"}) ||
		m.Cost != (llm.Pricing{InputPerMTok: 3, OutputPerMTok: 15, CacheReadPerMTok: 0.3}) {
		t.Fatalf("model %+v", m)
	}
	if cfg.WorkspaceDir != "/work/ws" || !slices.Equal(cfg.ConnectedProviders, []string{"@acme/gmail", "notion"}) ||
		!slices.Equal(cfg.AgentTools, []string{"output", "log"}) || cfg.MaxTurns != 12 ||
		cfg.Sink.HeartbeatInterval != 15*time.Second || cfg.Sidecar.ConnectTimeout != 500*time.Millisecond ||
		cfg.Sidecar.Socket != "/run/sidecar.sock" || cfg.Sidecar.Token != "tok" || string(cfg.OutputSchema) != testOutputSchema ||
		!slices.Equal(cfg.ToolPackages, []runner.ToolPackage{{ID: "@acme/fetch", Dir: ".appstrate/tools/@acme/fetch", Entrypoint: "src/tool.ts"},
			{ID: "@acme/raw", Dir: "/work/ws/raw"}}) {
		t.Fatalf("config %+v", cfg)
	}
}

func TestParseEnvIssues(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string // "" deletes the variable
		want []string
	}{
		{"nothing set", map[string]string{"AGENT_RUN_ID": "", "AGENT_PROMPT": "", "MODEL_API": "", "MODEL_ID": "",
			"APPSTRATE_SINK_URL": "", "APPSTRATE_SINK_FINALIZE_URL": "", "APPSTRATE_SINK_SECRET": ""},
			[]string{"AGENT_RUN_ID is required", "AGENT_PROMPT (or AGENT_PROMPT_FILE) is required", "MODEL_API is required",
				"MODEL_ID is required", "APPSTRATE_SINK_URL is required", "APPSTRATE_SINK_FINALIZE_URL is required",
				"APPSTRATE_SINK_SECRET is required"}},
		{"both prompts", map[string]string{"AGENT_PROMPT_FILE": "p.md"}, []string{"set only one of AGENT_PROMPT and AGENT_PROMPT_FILE"}},
		{"unknown API", map[string]string{"MODEL_API": "cohere-chat"}, []string{`MODEL_API must be one of anthropic-messages, `}},
		{"API not spoken", map[string]string{"MODEL_API": "bedrock-converse-stream"},
			[]string{`MODEL_API "bedrock-converse-stream" is not supported by this runner (supported: anthropic-messages, openai-completions`}},
		{"bad URLs", map[string]string{"APPSTRATE_SINK_URL": "ftp://x", "MODEL_BASE_URL": "sidecar/llm", "SIDECAR_URL": "://"},
			[]string{"MODEL_BASE_URL must be", `APPSTRATE_SINK_URL must be an absolute http(s) URL, got "ftp://x"`, "SIDECAR_URL must be"}},
		{"short secret", map[string]string{"APPSTRATE_SINK_SECRET": "short"}, []string{"APPSTRATE_SINK_SECRET must be at least 16 characters, got 5"}},
		{"numbers", map[string]string{"MODEL_CONTEXT_WINDOW": "big", "MODEL_MAX_TOKENS": "-1", "MAX_TURNS": "0",
			"APPSTRATE_HEARTBEAT_INTERVAL_MS": "1.5"},
			[]string{`MODEL_CONTEXT_WINDOW must be a positive integer, got "big"`, `MODEL_MAX_TOKENS must be a positive integer, got "-1"`,
				`MAX_TURNS must be a positive integer, got "0"`, "APPSTRATE_HEARTBEAT_INTERVAL_MS must be a positive integer"}},
		{"booleans", map[string]string{"MODEL_REASONING": "yes", "MODEL_RETRY_ENABLED": "maybe"},
			[]string{`MODEL_REASONING must be true or false, got "yes"`, `MODEL_RETRY_ENABLED must be true or false, got "maybe"`}},
		{"model input", map[string]string{"MODEL_INPUT": `["text","audio"]`}, []string{`MODEL_INPUT may only list "text" and "image", got "audio"`}},
		{"model input not JSON", map[string]string{"MODEL_INPUT": `text`}, []string{`MODEL_INPUT must be a non-empty JSON array`}},
		{"cost", map[string]string{"MODEL_COST": `{"input":-1,"output":"x"}`},
			[]string{"MODEL_COST input must be a non-negative number, got -1; output must be a non-negative number, got \"x\""}},
		{"cost not an object", map[string]string{"MODEL_COST": `[1]`}, []string{"MODEL_COST must be a JSON object"}},
		{"output schema", map[string]string{"OUTPUT_SCHEMA": `{"type":"nope"}`}, []string{"OUTPUT_SCHEMA: invalid JSON Schema"}},
		{"output schema not an object", map[string]string{"OUTPUT_SCHEMA": `true`}, []string{"OUTPUT_SCHEMA must be a JSON Schema object"}},
		{"providers", map[string]string{"CONNECTED_PROVIDERS": "Gmail", "SIDECAR_URL": "http://sidecar"},
			[]string{`CONNECTED_PROVIDERS: "Gmail" is not a provider id`}},
		{"providers without sidecar", map[string]string{"CONNECTED_PROVIDERS": "gmail"},
			[]string{"CONNECTED_PROVIDERS needs SIDECAR_URL"}},
		{"socket without sidecar", map[string]string{"SIDECAR_SOCKET": "/s.sock"}, []string{"SIDECAR_SOCKET needs SIDECAR_URL"}},
		{"agent tools", map[string]string{"AGENT_TOOLS": `"output"`}, []string{"AGENT_TOOLS must be a JSON array of tool names"}},
		{"agent tools empty name", map[string]string{"AGENT_TOOLS": `["output",""]`}, []string{"AGENT_TOOLS contains an empty name"}},
		{"tool packages not JSON", map[string]string{"AGENT_TOOL_PACKAGES": `@acme/x`},
			[]string{`AGENT_TOOL_PACKAGES must be a JSON array of {"id", "dir", "entrypoint"}, got "@acme/x"`}},
		{"tool packages unknown member", map[string]string{"AGENT_TOOL_PACKAGES": `[{"id":"@a/x","dir":"d","entry":"x.ts"}]`},
			[]string{`AGENT_TOOL_PACKAGES must be a JSON array`}},
		{"tool packages", map[string]string{"AGENT_TOOL_PACKAGES": `[{"dir":"d"},{"id":"@a/x","entrypoint":"t.ts"},` +
			`{"id":"@a/y","dir":"../up","entrypoint":"t.ts"},{"id":"@a/z","dir":"z","entrypoint":"t.ts"},{"id":"@a/z","dir":"z2"}]`},
			[]string{"AGENT_TOOL_PACKAGES[0]: id is required", "AGENT_TOOL_PACKAGES[1] (@a/x): dir is required",
				`AGENT_TOOL_PACKAGES[2] (@a/y): dir "../up" leaves the workspace`, "AGENT_TOOL_PACKAGES[4]: @a/z is listed twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := minimalEnv()
			for k, v := range tt.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, _, err := runner.ParseEnv(lookupIn(env), "/work")
			var envErr *runner.EnvError
			if !errors.As(err, &envErr) {
				t.Fatalf("ParseEnv = %v, want an *EnvError", err)
			}
			if len(envErr.Issues) != len(tt.want) {
				t.Fatalf("issues %q, want %d of them", envErr.Issues, len(tt.want))
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(envErr.Issues[i], want) {
					t.Errorf("issue %d = %q, want prefix %q", i, envErr.Issues[i], want)
				}
			}
		})
	}
}

func TestLoadEnvPromptFile(t *testing.T) {
	ws := t.TempDir()
	big := strings.Repeat("A long prompt line that goes on. ", 8000) // > 128 KiB, too big for one execve string
	if err := os.WriteFile(filepath.Join(ws, "prompt.md"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "empty.md"), []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := minimalEnv()
	delete(env, "AGENT_PROMPT")
	env["AGENT_PROMPT_FILE"] = "prompt.md"
	env["WORKSPACE_DIR"] = ws
	cfg, err := runner.LoadEnv(lookupIn(env), "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Prompt != big {
		t.Fatalf("prompt of %d bytes, want %d", len(cfg.Prompt), len(big))
	}

	for file, want := range map[string]string{
		"missing.md": "AGENT_PROMPT_FILE: open " + filepath.Join(ws, "missing.md"),
		"empty.md":   "AGENT_PROMPT_FILE: " + filepath.Join(ws, "empty.md") + " is empty",
		".":          "AGENT_PROMPT_FILE: " + ws + " is not a regular file",
	} {
		env["AGENT_PROMPT_FILE"] = file
		_, err := runner.LoadEnv(lookupIn(env), "/elsewhere")
		var envErr *runner.EnvError
		if !errors.As(err, &envErr) || len(envErr.Issues) != 1 || !strings.HasPrefix(envErr.Issues[0], want) {
			t.Errorf("AGENT_PROMPT_FILE=%s: %v, want %q", file, err, want)
		}
	}
}

func TestLoadEnvCollectsFileIssuesWithTheOthers(t *testing.T) {
	env := minimalEnv()
	env["WORKSPACE_DIR"] = filepath.Join(t.TempDir(), "nope")
	env["MODEL_ID"] = ""
	_, err := runner.LoadEnv(lookupIn(env), "/")
	var envErr *runner.EnvError
	if !errors.As(err, &envErr) || len(envErr.Issues) != 2 || envErr.Issues[0] != "MODEL_ID is required" ||
		!strings.HasPrefix(envErr.Issues[1], "WORKSPACE_DIR") {
		t.Fatalf("LoadEnv = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "invalid runner environment:\n  - MODEL_ID is required\n  - WORKSPACE_DIR") {
		t.Fatalf("message %q", err.Error())
	}
}

// FuzzParseEnv: any environment either parses into a usable configuration or yields issues, never a panic.
func FuzzParseEnv(f *testing.F) {
	f.Add("anthropic-messages", `["text"]`, `{"input":1}`, `{"type":"object"}`, "a,b", `["output"]`, "30000", "http://sidecar")
	f.Add("x", "[", "{", "{", ",,", "[", "-1", "::")
	f.Fuzz(func(t *testing.T, api, input, cost, schema, providers, tools, interval, sidecar string) {
		env := minimalEnv()
		env["MODEL_API"], env["MODEL_INPUT"], env["MODEL_COST"], env["OUTPUT_SCHEMA"] = api, input, cost, schema
		env["CONNECTED_PROVIDERS"], env["AGENT_TOOLS"], env["APPSTRATE_HEARTBEAT_INTERVAL_MS"] = providers, tools, interval
		env["SIDECAR_URL"] = sidecar
		cfg, _, err := runner.ParseEnv(lookupIn(env), "/work")
		if err != nil {
			var envErr *runner.EnvError
			if !errors.As(err, &envErr) || len(envErr.Issues) == 0 {
				t.Fatalf("error %v is not an *EnvError with issues", err)
			}
			return
		}
		if _, err := llm.ParseAPI(cfg.Model.API); err != nil {
			t.Fatalf("accepted MODEL_API %q the model client refuses", cfg.Model.API)
		}
		if cfg.Sink.HeartbeatInterval <= 0 || cfg.Model.MaxTokens <= 0 || len(cfg.Model.Input) == 0 {
			t.Fatalf("accepted an unusable configuration %+v", cfg)
		}
	})
}
