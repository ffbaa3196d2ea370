package e2e_test

import (
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// TestCLIRunLocalRegistryAgent runs `appstrate run --local @acme/hello-world`: the CLI downloads the starter
// agent's draft bundle from GET /api/agents/@acme/hello-world/bundle, checks its X-Bundle-Integrity, runs it
// on this machine with the model through the LLM proxy and reports the run, which the platform records as
// a success with the agent's output.
func TestCLIRunLocalRegistryAgent(t *testing.T) {
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Match: "Greet", Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"greeting":"Hello, Grace!","language":"English"}}`}}},
		{Text: "Done."},
	}})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "process"})
	p.signUp("acme")
	key := p.apiKey()

	code, stdout, stderr := p.cli(t, key, "run", "--local", "@acme/hello-world", "--json", "--input", "name=Grace")
	if code != 0 {
		t.Fatalf("local run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "→ fetched bundle @acme/hello-world") {
		t.Fatalf("no bundle fetched: %s", stderr)
	}
	events := jsonLines(t, stdout)
	last := events[len(events)-1]
	result, _ := last["result"].(map[string]any)
	output, _ := result["output"].(map[string]any)
	if last["type"] != "appstrate.finalize" || output["greeting"] != "Hello, Grace!" || result["error"] != nil {
		t.Fatalf("local stream:\n%s\nstderr: %s", stdout, stderr)
	}
	// The model saw the starter agent's prompt, reached through the proxy.
	reqs := llm.Requests()
	if len(reqs) != 2 || reqs[0].Model != "gpt-test" {
		t.Fatalf("model requests %+v", reqs)
	}
	runID, _ := events[0]["runId"].(string)
	if r := p.waitRun(runID); r.Status != "success" {
		t.Fatalf("run recorded as %+v (error %s)", r, deref(r.Error))
	}

	// A version that does not exist is a clear setup error, before anything runs.
	code, _, stderr = p.cli(t, key, "run", "--local", "@acme/hello-world@9.9.9", "--json")
	if code == 0 || !strings.Contains(stderr, "download the bundle of @acme/hello-world@9.9.9") || llm.Count() != 2 {
		t.Fatalf("unknown version: exit %d, stderr %s", code, stderr)
	}
}
