package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// cli runs the built binary as a headless user of p (an API key of its application) and returns its exit
// code, stdout and stderr.
func (p *platform) cli(t *testing.T, key string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	home := filepath.Join(p.Dir, "cli-home")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "APPSTRATE_API_KEY=" + key, "APPSTRATE_INSTANCE=" + p.URL,
		"APPSTRATE_APP_ID=" + p.app, "APPSTRATE_ORG_ID=" + p.org, "NO_COLOR=1"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// apiKey creates an API key of the platform's application as its owner.
func (p *platform) apiKey() string {
	p.t.Helper()
	var k struct {
		Key string `json:"key"`
	}
	p.do(http.MethodPost, "/api/api-keys", map[string]any{"name": "cli"}, http.StatusCreated, &k)
	if !strings.HasPrefix(k.Key, "ask_") {
		p.t.Fatalf("api key %q", k.Key)
	}
	return k.Key
}

// jsonLines decodes the JSONL of `run --json`, failing on any line that is not a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line is not JSON: %q (%v)", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

func eventTypes(events []map[string]any) []string {
	var out []string
	for _, e := range events {
		t, _ := e["type"].(string)
		out = append(out, t)
	}
	return out
}

// TestCLIRunRemoteAndLocal drives `appstrate run` with an API key: the starter agent runs on the platform
// and its JSONL stream is printed; then a plain .afps runs on this machine with the model reached through
// /api/llm-proxy and the run reported through the signed sink, showing up in GET /api/runs as a success.
func TestCLIRunRemoteAndLocal(t *testing.T) {
	llm := llmtest.New(t,
		llmtest.Script{APIKey: realKey, Match: "Greet", Turns: []llmtest.Turn{
			{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"greeting":"Hello, Ada!","language":"English"}}`}}},
			{Text: "Done."},
		}},
		llmtest.Script{APIKey: realKey, Match: "Count the stars", Turns: []llmtest.Turn{
			{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"stars":3}}`}}},
			{Text: "Three stars."},
		}},
	)
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "process"})
	p.signUp("acme")
	key := p.apiKey()

	// Remote: the platform runs the agent, the CLI follows it.
	code, stdout, stderr := p.cli(t, key, "run", "@acme/hello-world", "--json", "--input", "name=Ada")
	if code != 0 {
		t.Fatalf("remote run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	events := jsonLines(t, stdout)
	types := eventTypes(events)
	if len(events) < 3 || types[0] != "appstrate.remote.triggered" || types[len(types)-1] != "appstrate.finalize" {
		t.Fatalf("event types %v\n%s", types, stdout)
	}
	runID, _ := events[0]["runId"].(string)
	var sawOutput bool
	for _, e := range events[1 : len(events)-1] {
		if e["runId"] != runID || e["timestamp"] == nil {
			t.Fatalf("event without runId/timestamp: %v", e)
		}
		if e["type"] == "output.emitted" {
			data, _ := e["data"].(map[string]any)
			sawOutput = data["greeting"] == "Hello, Ada!"
		}
	}
	result, _ := events[len(events)-1]["result"].(map[string]any)
	output, _ := result["output"].(map[string]any)
	if !sawOutput || result["status"] != "success" || output["greeting"] != "Hello, Ada!" {
		t.Fatalf("remote stream:\n%s", stdout)
	}

	// Local: a plain .afps on this machine, the model through the LLM proxy.
	dir := filepath.Join(p.Dir, "stars")
	if code, out, errOut := p.cli(t, key, "package", "init", "agent", dir, "--name", "@acme/stars"); code != 0 {
		t.Fatalf("package init: %d %s %s", code, out, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "prompt.md"), []byte("Count the stars and call output.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(p.Dir, "stars.afps")
	if code, out, errOut := p.cli(t, key, "package", "pack", dir, "-o", archive); code != 0 {
		t.Fatalf("package pack: %d %s %s", code, out, errOut)
	}
	before := llm.Count()
	code, stdout, stderr = p.cli(t, key, "run", archive, "--json", "--input", "task=count")
	if code != 0 {
		t.Fatalf("local run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	events = jsonLines(t, stdout)
	last := events[len(events)-1]
	result, _ = last["result"].(map[string]any)
	output, _ = result["output"].(map[string]any)
	if last["type"] != "appstrate.finalize" || output["stars"] != float64(3) || result["error"] != nil {
		t.Fatalf("local stream:\n%s\nstderr: %s", stdout, stderr)
	}
	localID, _ := events[0]["runId"].(string)
	if !strings.HasPrefix(localID, "run_") || !strings.Contains(stderr, "reporting to "+p.URL+" as "+localID) {
		t.Fatalf("local run id %q, stderr %s", localID, stderr)
	}
	// The model was reached through the proxy with the real key (the CLI never had it), under the org's preset.
	reqs := llm.Requests()[before:]
	if len(reqs) != 2 || reqs[0].API != llmtest.OpenAIChat || reqs[0].Model != "gpt-test" {
		t.Fatalf("model requests %+v", reqs)
	}

	r := p.waitRun(localID)
	if r.Status != "success" {
		t.Fatalf("local run recorded as %+v (error %s)", r, deref(r.Error))
	}
	var list struct {
		Data []struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			RunOrigin string `json:"runOrigin"`
		} `json:"data"`
	}
	p.do(http.MethodGet, "/api/runs", nil, http.StatusOK, &list)
	found := false
	for _, row := range list.Data {
		if row.ID == localID {
			found = row.Status == "success" && row.RunOrigin == "remote"
		}
	}
	if !found {
		t.Fatalf("GET /api/runs: %+v", list.Data)
	}
}
