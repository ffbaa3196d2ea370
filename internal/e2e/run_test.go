package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

const realKey = "sk-test-REALSECRET-0123456789"

// systemModel is SYSTEM_PROVIDER_KEYS with one default model served by the fake LLM.
func systemModel(llmURL string) string {
	b, _ := json.Marshal([]map[string]any{{"id": "sys-openai", "providerId": "openai", "apiKey": realKey,
		"baseUrl": llmURL + "/v1", "models": []map[string]any{{"modelId": "gpt-test", "label": "GPT Test", "isDefault": true}}}})
	return string(b)
}

// TestHelloWorldRunsEndToEnd runs the starter agent of a new organization through the process executor: the
// server plans the run, starts the sidecar and the runner, the runner calls the fake LLM through the
// sidecar (which swaps the placeholder key for the real one), calls the output tool, and finalizes through
// the signed sink.
func TestHelloWorldRunsEndToEnd(t *testing.T) {
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"greeting":"Hello, Ada!","language":"English"}}`}}},
		{Text: "Done."},
	}})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "process"})
	p.signUp("acme")

	var started struct {
		RunID string `json:"runId"`
	}
	p.do(http.MethodPost, "/api/agents/@acme/hello-world/run", map[string]any{"input": map[string]any{"name": "Ada"}},
		http.StatusOK, &started)
	r := p.waitRun(started.RunID)
	if r.Status != "success" {
		t.Fatalf("run = %+v (error %v)\nlogs: %v", r, deref(r.Error), p.runLogs(started.RunID))
	}
	var result struct {
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal(r.Result, &result); err != nil || result.Output["greeting"] != "Hello, Ada!" {
		t.Fatalf("result = %s", r.Result)
	}
	// The prompt reached the model with the input rendered; the key the model saw is the real one, swapped
	// in by the sidecar: the runner only ever had a placeholder.
	reqs := llm.Requests()
	if len(reqs) < 2 {
		t.Fatalf("the model got %d requests", len(reqs))
	}
	if !strings.Contains(reqs[0].System, "Greet **Ada**") {
		t.Errorf("system prompt lacks the rendered input:\n%s", reqs[0].System)
	}
	if strings.Contains(p.logs.String(), realKey) {
		t.Errorf("the real API key appears in the server logs")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
