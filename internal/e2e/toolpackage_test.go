package e2e_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// packageDir reads a package of testdata as files for importPackage.
func packageDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestTypeScriptToolPackageRunsEndToEnd imports a third-party TypeScript tool package and an agent depending
// on it through the registry API, and runs the agent on the process and the bwrap executors: the runner
// hosts the package in node, the fake LLM calls its tools, the tool's result reaches the model, and the
// output the tool emits (with the checkpoint its top-level state seeds) is the run's result.
func TestTypeScriptToolPackageRunsEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH; this test needs Node.js >= 18 (Debian package nodejs)")
	}
	for _, executor := range []string{"process", "bwrap"} {
		t.Run(executor, func(t *testing.T) {
			if _, err := exec.LookPath("bwrap"); err != nil && executor == "bwrap" {
				t.Skip("bwrap (bubblewrap) is not installed")
			}
			runToolPackage(t, executor)
		})
	}
}

func runToolPackage(t *testing.T, executor string) {
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{ID: "call_wc", Name: "word_count", Args: `{"text":"the tide comes in"}`}}},
		{ToolCalls: []llmtest.ToolCall{{ID: "call_save", Name: "save_summary", Args: `{"summary":"Four words.","words":4}`}}},
		{Text: "Done."},
	}})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": executor})
	p.signUp("acme")
	if !strings.Contains(p.logs.String(), "runs: executor "+executor) {
		t.Fatalf("the server did not choose the %s executor", executor)
	}

	tool := packageDir(t, filepath.Join("..", "runner", "testdata", "toolpackages", "wordcount"))
	tool["manifest.json"] = strings.Replace(tool["manifest.json"], `"@test/wordcount"`, `"@acme/wordcount"`, 1)
	if id := p.importPackage(tool); id != "@acme/wordcount" {
		t.Fatalf("imported %q", id)
	}
	manifest, _ := json.Marshal(map[string]any{
		"name": "@acme/counter", "version": "1.0.0", "type": "agent", "schemaVersion": "1.1", "displayName": "Counter",
		"description": "Counts words with a third-party tool", "author": "e2e",
		"dependencies": map[string]any{"tools": map[string]string{"@acme/wordcount": "^1.0.0", "@appstrate/log": "^1.0.0"}},
	})
	p.importPackage(map[string]string{"manifest.json": string(manifest), "prompt.md": "Count the words of the tide.\n"})

	id := p.startRun("@acme/counter", "", map[string]any{})
	r := p.waitRun(id)
	if r.Status != "success" {
		t.Fatalf("run = %+v (error %v)\nlogs: %v", r, deref(r.Error), p.runLogs(id))
	}
	var result struct {
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal(r.Result, &result); err != nil || result.Output["summary"] != "Four words." {
		t.Fatalf("result = %s", r.Result)
	}

	reqs := llm.Requests()
	if len(reqs) != 3 {
		t.Fatalf("the model got %d requests", len(reqs))
	}
	if !strings.Contains(reqs[0].System, "- **word_count**: Counts the words of a text.") ||
		!strings.Contains(reqs[0].System, "Call `word_count` with `{text}` to count its words.") {
		t.Errorf("the prompt does not list the tool with its TOOL.md:\n%s", reqs[0].System)
	}
	if !strings.Contains(strings.Join(reqs[0].Tools, ","), "word_count,save_summary,fetch_profile,fail") {
		t.Errorf("tools declared to the model: %v", reqs[0].Tools)
	}
	if res, ok := toolResult(reqs, "call_wc"); !ok || res.Content != "4 words (call call_wc)" {
		t.Errorf("word_count result %+v", res)
	}

	// The log the tool wrote is a log of the run; the state of its output is the next run's checkpoint.
	logged := false
	for _, l := range p.runLogs(id) {
		if b, _ := json.Marshal(l); strings.Contains(string(b), "counted 4 words") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the tool's log.written is not in the run's logs: %v", p.runLogs(id))
	}
	llm.SetScripts(llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{{Text: "Nothing to do."}}})
	if next := p.waitRun(p.startRun("@acme/counter", "", map[string]any{})); next.Status != "success" {
		t.Fatalf("next run = %+v (error %v)", next, deref(next.Error))
	}
	last := llm.Requests()[len(llm.Requests())-1]
	if !strings.Contains(last.System, "## Checkpoint") || !strings.Contains(last.System, `"words": 4`) {
		t.Errorf("the next run's prompt lacks the checkpoint seeded by the output's state:\n%s", last.System)
	}
}
