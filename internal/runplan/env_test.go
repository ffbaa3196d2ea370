package runplan

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/models"
)

func TestPlaceholder(t *testing.T) {
	tests := []struct{ key, want string }{
		{"sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz", "sk-ant-api03-placeholder"},
		{"sk-proj-AbCdEfGhIjKlMnOp_QrSt-UvWxYz0123", "sk-proj-placeholder"},   // the random part is not kept
		{"sk-or-v1-0123456789abcdef0123456789abcdef", "sk-or-v1-placeholder"}, // OpenRouter
		{"sk-abc-def-ghi-jkl", "sk-abc-def-placeholder"},                      // at most three segments
		{"gsk_0123456789abcdefABCDEF", "sk-placeholder"},                      // no "-"
		{"AIzaSyA0123456789-abcdefghijklmnopqrstu", "sk-placeholder"},         // first segment too long for a prefix
		{"xai-0123456789", "xai-placeholder"},                                 // short prefix kept
		{"-leading", "sk-placeholder"},                                        // empty first segment
		{"sk-", "sk-placeholder"},                                             // trailing dash
		{"", "sk-placeholder"},                                                // no key (local servers)
		{"key_with-üñí-tail", "sk-placeholder"},                               // non-ASCII / underscore prefix
		{"a-b", "a-placeholder"},
	}
	for _, tt := range tests {
		got := Placeholder(tt.key)
		if got != tt.want {
			t.Errorf("Placeholder(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if len(tt.key) > 8 && strings.Contains(got, tt.key) {
			t.Errorf("Placeholder(%q) contains the key", tt.key)
		}
	}
}

func TestModelAPI(t *testing.T) {
	for shape, want := range map[string]string{
		"anthropic-messages":     "anthropic-messages",
		"openai-responses":       "openai-responses",
		"openai-completions":     "openai-completions",
		"openai-chat":            "openai-completions", // openai-compatible models
		"mistral-conversations":  "openai-completions",
		"openai-codex-responses": "openai-responses",
		"google-generative-ai":   "google-generative-ai",
	} {
		got, err := ModelAPI(shape)
		if err != nil || got != want {
			t.Errorf("ModelAPI(%q) = %q, %v; want %q", shape, got, err, want)
		}
	}
	for _, shape := range []string{"bedrock-converse-stream", "", "google-vertex"} {
		if _, err := ModelAPI(shape); !errors.Is(err, ErrModelNotSupported) {
			t.Errorf("ModelAPI(%q): %v", shape, err)
		}
	}
}

func testModel() models.Resolved {
	return models.Resolved{Model: models.Model{ID: "mdl_1", ModelID: "claude-sonnet-4-5", APIShape: "anthropic-messages",
		Input: []string{"text", "image"}, ContextWindow: 200000, MaxTokens: 64000, Reasoning: true,
		Cost: &llm.Pricing{InputPerMTok: 3, OutputPerMTok: 15, CacheReadPerMTok: 0.3, CacheWritePerMTok: 3.75}},
		BaseURL: "https://api.anthropic.com", APIKey: "sk-ant-api03-SECRETSECRETSECRET"}
}

func TestRunnerEnv(t *testing.T) {
	sink := Sink{URL: "http://localhost:3000/api/runs/run_1/events", FinalizeURL: "http://localhost:3000/api/runs/run_1/events/finalize",
		Secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}
	env, err := RunnerEnv(RunnerEnvInput{RunID: "run_1", Model: testModel(),
		OutputSchema:       json.RawMessage(`{"type": "object", "properties": {"a": {"type": "string"}}}`),
		ConnectedProviders: []string{"@appstrate/gmail", "@acme/crm"},
		ToolIDs:            []string{"@acme/fetch", "@appstrate/report", "@appstrate/output", "@appstrate/unknown"},
		ToolPackages:       []ToolPackage{{ID: "@acme/fetch", Dir: ".appstrate/tools/@acme/fetch", Entrypoint: "src/tool.ts"}},
		Sink:               sink, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"AGENT_RUN_ID":                "run_1",
		"AGENT_PROMPT_FILE":           ".appstrate/prompt.md",
		"MODEL_API":                   "anthropic-messages",
		"MODEL_ID":                    "claude-sonnet-4-5",
		"MODEL_API_KEY":               "sk-ant-api03-placeholder",
		"MODEL_INPUT":                 `["text","image"]`,
		"MODEL_CONTEXT_WINDOW":        "200000",
		"MODEL_MAX_TOKENS":            "64000",
		"MODEL_REASONING":             "true",
		"MODEL_COST":                  `{"input":3,"output":15,"cacheRead":0.3,"cacheWrite":3.75}`,
		"OUTPUT_SCHEMA":               `{"properties":{"a":{"type":"string"}},"type":"object"}`,
		"CONNECTED_PROVIDERS":         "@appstrate/gmail,@acme/crm",
		"AGENT_TOOLS":                 `["output","report"]`,
		"AGENT_TOOL_PACKAGES":         `[{"id":"@acme/fetch","dir":".appstrate/tools/@acme/fetch","entrypoint":"src/tool.ts"}]`,
		"APPSTRATE_SINK_URL":          sink.URL,
		"APPSTRATE_SINK_FINALIZE_URL": sink.FinalizeURL,
		"APPSTRATE_SINK_SECRET":       sink.Secret,
		"TRACEPARENT":                 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	}
	if !maps.Equal(env, want) {
		t.Fatalf("env\n got %v\nwant %v", env, want)
	}
	for k, v := range env {
		if strings.Contains(v, "SECRETSECRET") {
			t.Fatalf("%s carries the model key", k)
		}
	}
}

func TestRunnerEnvDefaults(t *testing.T) {
	m := models.Resolved{Model: models.Model{ModelID: "llama3", APIShape: "openai-chat"}, BaseURL: "http://127.0.0.1:11434/v1"}
	env, err := RunnerEnv(RunnerEnvInput{RunID: "run_2", Model: m, OutputSchema: json.RawMessage(`{"type":"object","properties":{}}`),
		Sink: Sink{URL: "u", FinalizeURL: "f", Secret: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{"MODEL_API": "openai-completions", "MODEL_API_KEY": "sk-placeholder", "MODEL_INPUT": `["text"]`,
		"MODEL_REASONING": "false", "MODEL_COST": `{"input":0,"output":0,"cacheRead":0,"cacheWrite":0}`,
		"CONNECTED_PROVIDERS": "", "AGENT_TOOLS": "[]"}
	for k, v := range checks {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"OUTPUT_SCHEMA", "TRACEPARENT", "MODEL_CONTEXT_WINDOW", "MODEL_MAX_TOKENS", "AGENT_TOOL_PACKAGES"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is set", k)
		}
	}
	m.APIShape = "bedrock-converse-stream"
	if _, err := RunnerEnv(RunnerEnvInput{Model: m}); !errors.Is(err, ErrModelNotSupported) {
		t.Fatalf("unsupported shape: %v", err)
	}
}

func TestSidecarEnv(t *testing.T) {
	env, err := SidecarEnv(SidecarEnvInput{RunID: "run_1", RunToken: "run_1.abcd", PlatformAPIURL: "http://localhost:3000/",
		Model: testModel(), Sink: Sink{URL: "http://localhost:3000/api/runs/run_1/events",
			FinalizeURL: "http://localhost:3000/api/runs/run_1/events/finalize", Secret: "secret-secret-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"RUN_ID":                      "run_1",
		"APPSTRATE_SINK_URL":          "http://localhost:3000/api/runs/run_1/events",
		"APPSTRATE_SINK_FINALIZE_URL": "http://localhost:3000/api/runs/run_1/events/finalize",
		"RUN_TOKEN":                   "run_1.abcd",
		"PLATFORM_API_URL":            "http://localhost:3000",
		"PI_BASE_URL":                 "https://api.anthropic.com",
		"PI_API_KEY":                  "sk-ant-api03-SECRETSECRETSECRET",
		"PI_PLACEHOLDER":              "sk-ant-api03-placeholder",
		"MODEL_API":                   "anthropic-messages",
		"PROXY_URL":                   "",
		"MODEL_CONTEXT_WINDOW":        "200000",
		"MODEL_MAX_TOKENS":            "64000",
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("env\n got %v\nwant %v", env, want)
	}
}

func TestAgentTools(t *testing.T) {
	got := AgentTools([]string{"@appstrate/pin", "@appstrate/log", "@appstrate/note", "@appstrate/output", "@appstrate/report", "@other/log"})
	if !reflect.DeepEqual(got, []string{"output", "log", "note", "pin", "report"}) {
		t.Fatal(got)
	}
}
