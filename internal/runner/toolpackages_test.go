package runner_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/runner"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// requireNode fails the test when node is missing: tool packages run in the real runtime.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH; these tests need Node.js >= 18 (Debian package nodejs)")
	}
}

// placePackage copies testdata/toolpackages/<name> into the workspace as the platform places a tool
// package, and returns its AGENT_TOOL_PACKAGES entry.
func placePackage(t *testing.T, workspace, name, entrypoint string) runner.ToolPackage {
	t.Helper()
	dir := ".appstrate/tools/@test/" + name
	src := filepath.Join("testdata", "toolpackages", name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(workspace, filepath.FromSlash(dir), rel)
		data, err := os.ReadFile(p)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(dst), 0o755)
		}
		if err == nil {
			err = os.WriteFile(dst, data, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return runner.ToolPackage{ID: "@test/" + name, Dir: dir, Entrypoint: entrypoint}
}

// eventsOf are the events of a type, their data decoded.
func eventsOf(t *testing.T, events []sink.Envelope, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range events {
		if e.Type != typ {
			continue
		}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// TestToolPackages: third-party tool packages in TypeScript and JavaScript are hosted in node; the model
// calls their tools (with the tool call id, the tool context reaching the sidecar), their results reach the
// model, the canonical events they write are folded into the run's result, and what cannot load is reported
// while the run goes on.
func TestToolPackages(t *testing.T) {
	requireNode(t)
	script := llmtest.Script{Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{ID: "call_wc", Name: "word_count", Args: `{"text":"one two  three"}`}}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "save_summary", Args: `{"summary":"Three words.","words":3}`},
			{Name: "fetch_profile", Args: `{}`},
			{Name: "fail", Args: `{}`},
			{Name: "shadow_echo", Args: `{"text":"hi"}`},
			{Name: "read", Args: `{"path":"notes.txt"}`},
		}},
		{Text: "done"},
	}}
	h := newHarness(t, llmtest.Anthropic, script)
	h.cfg.OutputSchema = nil
	ws := h.cfg.WorkspaceDir
	if err := os.WriteFile(filepath.Join(ws, "notes.txt"), []byte("the runner's own read"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.cfg.ToolPackages = []runner.ToolPackage{
		placePackage(t, ws, "wordcount", "tool.ts"),
		placePackage(t, ws, "broken", "tool.ts"),
		placePackage(t, ws, "shadow", "tool.js"),
		{ID: "@test/no-entrypoint", Dir: ".appstrate/tools/@test/wordcount"},
	}
	sc := newFakeSidecar(llmtest.Script{})
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	sidecar, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, []string{"notion"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.deps.Sidecar = sidecar
	res := h.run(context.Background())
	if runner.Failed(res) {
		t.Fatalf("run failed: %+v", res.Error)
	}

	reqs := h.llm.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests", len(reqs))
	}
	want := "read,write,edit,bash,ls,grep,find,output,log,note,pin,report,provider_call,run_history,recall_memory," +
		"word_count,save_summary,fetch_profile,fail,shadow_echo"
	if got := strings.Join(reqs[0].Tools, ","); got != want {
		t.Fatalf("tools\n%s\nwant\n%s", got, want)
	}
	if !reqs[0].Contains(`"text":{"type":"string"}`) || !reqs[0].Contains("Counts the words of a text.") {
		t.Fatal("the package tools' parameters and descriptions are not declared to the model")
	}
	if r := reqs[1].LastToolResults(); len(r) != 1 || r[0].Content != "3 words (call call_wc)" || r[0].IsError {
		t.Fatalf("word_count result %+v", r)
	}
	r := reqs[2].LastToolResults()
	if len(r) != 5 {
		t.Fatalf("results %+v", r)
	}
	if r[0].Content != "Summary saved" ||
		!strings.Contains(r[1].Content, `"status":200`) || !strings.Contains(r[1].Content, `"body":{"kind":"text","text":"{\"ok\":true}"}`) ||
		r[2].Content != "Error in extension '@test/wordcount' tool 'fail': boom" || !r[2].IsError ||
		r[3].Content != "hi" || !strings.Contains(r[4].Content, "the runner's own read") {
		t.Fatalf("results %+v", r)
	}
	if rec := sc.recorded(); len(rec) != 1 || rec[0] != `provider_call {"providerId":"notion","target":"https://api.notion.com/v1/me"}` {
		t.Fatalf("the sidecar received %v", rec)
	}

	if string(res.Output) != `{"summary":"Three words.","words":3,"state":{"words":3}}` {
		t.Fatalf("output %s", res.Output)
	}
	if got := mustJSON(t, res.Pinned); got != `{"checkpoint":{"content":{"words":3}},"last_summary":{"content":"Three words.","scope":"shared"}}` {
		t.Fatalf("pinned %s (the output's state seeds the checkpoint)", got)
	}
	if len(res.Memories) != 1 || res.Memories[0].Content != "Summarised 3 words." || res.Report != "## Summary\nThree words." ||
		len(res.Logs) != 1 || res.Logs[0].Message != "counted 3 words" {
		t.Fatalf("result %s", mustJSON(t, res))
	}
	if res.Usage.InputTokens != 300 || *res.Cost > 1 {
		t.Fatalf("a tool's metric event must not count: usage %+v cost %v", res.Usage, *res.Cost)
	}

	events := h.platform.Events()
	var errs []string
	for _, e := range eventsOf(t, events, sink.TypeError) {
		errs = append(errs, e["message"].(string))
	}
	wantErrs := []string{
		"extension '@test/no-entrypoint' failed to load: its manifest has no entrypoint",
		"extension '@test/broken' failed to load: this package is broken on purpose",
		"Tool 'read' of extension '@test/shadow' is not loaded: a built-in tool has that name",
		`A tool package reported an invalid pinned.set event: "key" must match ^[a-z0-9_]+$ and have at most 64 characters`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("error events\n%s", strings.Join(errs, "\n"))
	}
	for i := range wantErrs {
		if !strings.HasPrefix(errs[i], wantErrs[i]) {
			t.Fatalf("error event %d: %q, want %q", i, errs[i], wantErrs[i])
		}
	}
	ready := eventsOf(t, events, sink.TypeProgress)[0]
	if ready["data"].(map[string]any)["extensions"] != float64(2) {
		t.Fatalf("runtime ready %v", ready)
	}
	// The events a tool wrote come before its result.
	index := func(typ, fragment string) int {
		return slices.IndexFunc(events, func(e sink.Envelope) bool {
			return e.Type == typ && strings.Contains(string(e.Data), fragment)
		})
	}
	logAt, resultAt := index(sink.TypeLog, "counted 3 words"), index(sink.TypeProgress, "Tool result: word_count")
	if logAt < 0 || resultAt < 0 || logAt > resultAt {
		t.Fatalf("log.written at %d, word_count result at %d", logAt, resultAt)
	}
	if i := index(sink.TypeProgress, `"message":"summary saved"`); i < 0 || strings.Contains(string(events[i].Data), "run_forged") {
		t.Fatalf("a tool's progress event must be forwarded without its runId: %d", i)
	}
	if index(sink.TypeMetric, "999999") >= 0 {
		t.Fatal("a tool's metric event was forwarded")
	}
}

// Without a JavaScript runtime, a run whose agent has tool packages fails at once, naming the runtime.
func TestToolPackagesWithoutJSRuntime(t *testing.T) {
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{{Text: "ok"}}})
	h.cfg.ToolPackages = []runner.ToolPackage{placePackage(t, h.cfg.WorkspaceDir, "wordcount", "tool.ts")}
	h.cfg.JSRuntime = "no-such-js-runtime"
	res := h.run(context.Background())
	want := "the agent's tool packages (@test/wordcount) need a JavaScript runtime: no JavaScript runtime to host tool packages: " +
		"no-such-js-runtime found on PATH (install Node.js >= 18 or Bun)"
	if res.Status != runner.StatusFailed || res.Error == nil || res.Error.Message != want {
		t.Fatalf("result %q %+v", res.Status, res.Error)
	}
	if n := len(h.llm.Requests()); n != 0 {
		t.Fatalf("the model was called %d times", n)
	}
}
