package e2e_test

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// Prices of the system models, in USD per million tokens.
const (
	priceInput  = 2.0
	priceOutput = 10.0
)

// wire is one LLM wire format and the system provider whose models speak it.
type wire struct {
	api      string // llmtest / MODEL_API name
	provider string // system provider id (internal/models registry)
	model    string // org-visible model id
}

var wires = []wire{
	{llmtest.OpenAIChat, "openrouter", "m-completions"},
	{llmtest.OpenAIResponses, "openai", "m-responses"},
	{llmtest.Anthropic, "anthropic", "m-messages"},
	{llmtest.Gemini, "google", "m-gemini"},
}

// wireModels is SYSTEM_PROVIDER_KEYS with one priced model per wire format, all served by the fake LLM.
func wireModels(llm *llmtest.Server) string {
	var keys []map[string]any
	for i, w := range wires {
		keys = append(keys, map[string]any{"id": "sys-" + w.provider, "providerId": w.provider, "apiKey": realKey,
			"baseUrl": llm.BaseURL(w.api), "models": []map[string]any{{"id": w.model, "modelId": "fake-" + w.provider,
				"isDefault": i == 0, "cost": map[string]float64{"input": priceInput, "output": priceOutput}}}})
	}
	b, _ := json.Marshal(keys)
	return string(b)
}

// agentFiles is an agent with input, config and output schemas that depends on the output, note, pin and log
// system tools. Its prompt names the run (Mustache), so each run is a conversation of its own for the fake.
func agentFiles(id string) map[string]string {
	manifest := map[string]any{
		"name": id, "version": "1.0.0", "type": "agent", "schemaVersion": "1.1", "displayName": "E2E " + id,
		"description": "An agent of the end-to-end tests", "author": "e2e",
		"dependencies": map[string]any{"tools": map[string]string{"@appstrate/output": "^2.0.0",
			"@appstrate/note": "^1.0.0", "@appstrate/pin": "^1.0.0", "@appstrate/log": "^1.0.0"}},
		"input": map[string]any{"schema": map[string]any{"type": "object", "required": []string{"job"},
			"properties": map[string]any{"job": map[string]any{"type": "string", "description": "What to do"}}}},
		"config": map[string]any{"schema": map[string]any{"type": "object",
			"properties": map[string]any{"tone": map[string]any{"type": "string", "enum": []string{"dry", "warm"},
				"default": "dry", "description": "Tone of the summary"}}}},
		"output": map[string]any{"schema": map[string]any{"type": "object", "required": []string{"summary", "count"},
			"properties": map[string]any{"summary": map[string]any{"type": "string"}, "count": map[string]any{"type": "integer"}}}},
	}
	b, _ := json.MarshalIndent(manifest, "", "  ")
	return map[string]string{"manifest.json": string(b),
		"prompt.md": "# Job\n\nDo {{input.job}} in a {{config.tone}} tone. This is run {{runId}}.\n"}
}

// toolResult returns the content of the result of call id in the requests, and whether there is one.
func toolResult(reqs []llmtest.Request, id string) (llmtest.ToolResult, bool) {
	for _, r := range reqs {
		for _, m := range r.Messages {
			for _, tr := range m.ToolResults {
				if tr.CallID == id {
					return tr, true
				}
			}
		}
	}
	return llmtest.ToolResult{}, false
}

// requestsOf are the model requests of one run (its id is in the rendered prompt).
func requestsOf(llm *llmtest.Server, runID string) []llmtest.Request {
	var out []llmtest.Request
	for _, r := range llm.Requests() {
		if strings.Contains(r.System, runID) {
			out = append(out, r)
		}
	}
	return out
}

type tokenUsage struct {
	Input  int `json:"input_tokens"`
	Output int `json:"output_tokens"`
}

// checkMetered checks the run's token usage and cost against what the fake LLM reported for its n requests.
func checkMetered(t *testing.T, r run, n int) {
	t.Helper()
	var u tokenUsage
	if err := json.Unmarshal(r.TokenUsage, &u); err != nil {
		t.Errorf("tokenUsage %s: %v", r.TokenUsage, err)
	}
	want := tokenUsage{Input: n * llmtest.DefaultUsage.InputTokens, Output: n * llmtest.DefaultUsage.OutputTokens}
	if u != want {
		t.Errorf("tokenUsage = %+v, want %+v (%d model requests)", u, want, n)
	}
	wantCost := (float64(want.Input)*priceInput + float64(want.Output)*priceOutput) / 1e6
	if r.Cost == nil || *r.Cost <= 0 || math.Abs(*r.Cost-wantCost) > 1e-9 {
		t.Errorf("cost = %v, want %v", deref64(r.Cost), wantCost)
	}
}

func deref64(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// TestEveryWireFormatRunsEndToEnd imports an agent per LLM wire format and runs it three times through the
// process executor, sidecar and fake LLM:
//
//  1. the model calls bash, then note and pin (checkpoint and a named slot) together, then output: the run
//     succeeds with the output, token usage and a cost metered at the system model's price;
//  2. the next run's prompt carries the checkpoint and the pinned slot but not the note (an archive memory,
//     RUNTIME.md §1.8), which recall_memory finds;
//  3. an output that violates the output schema is refused by the tool, and the run fails with "Output
//     validation failed".
func TestEveryWireFormatRunsEndToEnd(t *testing.T) {
	llm := llmtest.New(t)
	var scripts []llmtest.Script
	for _, w := range wires {
		scripts = append(scripts,
			llmtest.Script{APIKey: realKey, Match: "job-1-" + w.api, Turns: []llmtest.Turn{
				{ToolCalls: []llmtest.ToolCall{{ID: "call_bash", Name: "bash", Args: `{"command":"echo bash-says-$((6*7)) && pwd"}`}}},
				{ToolCalls: []llmtest.ToolCall{
					{ID: "call_note", Name: "note", Args: `{"content":"note-` + w.api + `: the user takes tea without sugar"}`},
					{ID: "call_pin", Name: "pin", Args: `{"key":"checkpoint","content":{"cursor":"` + w.api + `-42","seen":3}}`},
					{ID: "call_slot", Name: "pin", Args: `{"key":"favourite","content":"slot-` + w.api + `"}`},
				}},
				{ToolCalls: []llmtest.ToolCall{{ID: "call_output", Name: "output", Args: `{"data":{"summary":"done ` + w.api + `","count":3}}`}}},
				{Text: "Done."},
			}},
			llmtest.Script{APIKey: realKey, Match: "job-2-" + w.api, Turns: []llmtest.Turn{
				{ToolCalls: []llmtest.ToolCall{{ID: "call_recall", Name: "recall_memory", Args: `{"q":"note-` + w.api + `"}`}}},
				{ToolCalls: []llmtest.ToolCall{{ID: "call_output", Name: "output", Args: `{"data":{"summary":"again","count":4}}`}}},
				{Text: "Done."},
			}},
			llmtest.Script{APIKey: realKey, Match: "job-3-" + w.api, Turns: []llmtest.Turn{
				{ToolCalls: []llmtest.ToolCall{{ID: "call_output", Name: "output", Args: `{"data":{"summary":"bad","count":"many"}}`}}},
				{Text: "I could not produce a valid output."},
			}})
	}
	llm.SetScripts(scripts...)
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": wireModels(llm), "RUN_ADAPTER": "process"})
	p.signUp("acme")

	for _, w := range wires {
		t.Run(w.api, func(t *testing.T) {
			t.Parallel()
			p := p.sub(t)
			agent := p.importPackage(agentFiles("@acme/wire-" + w.provider))
			// The input is validated against the agent's input schema before anything runs.
			p.do(http.MethodPost, "/api/agents/"+agent+"/run", map[string]any{"input": map[string]any{"job": 7}, "modelId": w.model},
				http.StatusBadRequest, nil)

			first := p.startRun(agent, "", map[string]any{"input": map[string]any{"job": "job-1-" + w.api},
				"config": map[string]any{"tone": "warm"}, "modelId": w.model})
			r := p.waitRun(first)
			reqs := requestsOf(llm, first)
			if r.Status != "success" {
				t.Fatalf("first run = %+v (error %q)\nlogs: %v", r, deref(r.Error), p.runLogs(first))
			}
			var result struct {
				Output map[string]any `json:"output"`
			}
			if err := json.Unmarshal(r.Result, &result); err != nil || result.Output["summary"] != "done "+w.api || result.Output["count"] != 3.0 {
				t.Errorf("result = %s", r.Result)
			}
			if len(reqs) != 4 {
				t.Fatalf("the model got %d requests for the first run, want 4", len(reqs))
			}
			for _, req := range reqs {
				if req.API != w.api || req.APIKey != realKey {
					t.Errorf("request on %s with key %q, want %s with the real key", req.API, req.APIKey, w.api)
				}
			}
			for _, want := range []string{"## User Input", "job-1-" + w.api, "## Configuration", "warm", "## Output Format"} {
				if !strings.Contains(reqs[0].System, want) {
					t.Errorf("first prompt lacks %q:\n%s", want, reqs[0].System)
				}
			}
			if got, _ := toolResult(reqs, "call_bash"); !strings.Contains(got.Content, "bash-says-42") || got.IsError {
				t.Errorf("bash result = %+v", got)
			}
			for _, id := range []string{"call_note", "call_pin", "call_slot", "call_output"} {
				if got, ok := toolResult(reqs, id); !ok || got.IsError {
					t.Errorf("%s result = %+v (present %v)", id, got, ok)
				}
			}
			checkMetered(t, r, len(reqs))

			second := p.startRun(agent, "", map[string]any{"input": map[string]any{"job": "job-2-" + w.api}, "modelId": w.model})
			r = p.waitRun(second)
			reqs = requestsOf(llm, second)
			if r.Status != "success" || len(reqs) != 3 {
				t.Fatalf("second run = %+v (error %q), %d model requests\nlogs: %v", r, deref(r.Error), len(reqs), p.runLogs(second))
			}
			prompt := reqs[0].System
			for _, want := range []string{"## Checkpoint", `"cursor": "` + w.api + `-42"`, "## Pinned Slots", "### favourite", "slot-" + w.api} {
				if !strings.Contains(prompt, want) {
					t.Errorf("second prompt lacks %q:\n%s", want, prompt)
				}
			}
			if strings.Contains(prompt, "note-"+w.api) {
				t.Errorf("the note (an archive memory) is in the prompt; it is only reachable through recall_memory:\n%s", prompt)
			}
			if got, _ := toolResult(reqs, "call_recall"); got.IsError || !strings.Contains(got.Content, "note-"+w.api+": the user takes tea without sugar") {
				t.Errorf("recall_memory result = %+v", got)
			}
			checkMetered(t, r, len(reqs))

			third := p.startRun(agent, "", map[string]any{"input": map[string]any{"job": "job-3-" + w.api}, "modelId": w.model})
			r = p.waitRun(third)
			reqs = requestsOf(llm, third)
			if r.Status != "failed" || !strings.HasPrefix(deref(r.Error), "Output validation failed") {
				t.Errorf("invalid output: run = %+v (error %q), want failed with the validation error", r, deref(r.Error))
			}
			// (Only some wires carry the error flag of a tool result: the text is what every model reads.)
			if got, _ := toolResult(reqs, "call_output"); !strings.Contains(got.Content, "Output validation failed") {
				t.Errorf("the output tool accepted an invalid output: %+v", got)
			}
		})
	}
}
