package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/runner"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/sink/sinktest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	testRunID  = "run_0f8fad5b-d9cb-469f-a165-70867728950e"
	testSecret = "a-sink-secret-of-32-characters!!"
	testKey    = "sk-test-placeholder"
	testPrompt = "## System\nYou are an AI agent running on the Appstrate platform.\n---\n\nSummarise the notes."
)

var testPricing = llm.Pricing{InputPerMTok: 3, OutputPerMTok: 15, CacheReadPerMTok: 0.3, CacheWritePerMTok: 3.75}

const testOutputSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"properties":{"summary":{"type":"string","description":"One line"},"count":{"type":"integer"}},"required":["summary"]}`

// harness is one run against llmtest and a fake platform.
type harness struct {
	t        *testing.T
	api      string
	llm      *llmtest.Server
	platform *sinktest.Platform
	cfg      runner.Config
	deps     runner.Deps
}

func newHarness(t *testing.T, api string, script llmtest.Script) *harness {
	t.Helper()
	script.APIKey = testKey
	h := &harness{t: t, api: api, llm: llmtest.New(t, script), platform: sinktest.New(t, testRunID, testSecret)}
	h.cfg = runner.Config{
		RunID:  testRunID,
		Prompt: testPrompt,
		Model: runner.Model{API: api, ID: "test-model", BaseURL: h.llm.BaseURL(api), APIKey: testKey,
			MaxTokens: 4096, Cost: testPricing, Retries: 2, RetryBaseDelay: time.Millisecond},
		OutputSchema: json.RawMessage(testOutputSchema),
		WorkspaceDir: t.TempDir(),
		AgentTools:   runner.PlatformTools,
		BashEnv:      []string{"PATH=" + os.Getenv("PATH"), "LANG=C"},
	}
	client, err := llm.New(api, llm.Config{BaseURL: h.cfg.Model.BaseURL, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	sinkClient, err := sink.NewClient(sink.ClientConfig{RunID: testRunID, URL: h.platform.URL,
		FinalizeURL: h.platform.FinalizeURL, Secret: testSecret,
		Retry: sink.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sinkClient.Close)
	h.deps = runner.Deps{LLM: client, Sink: sinkClient}
	return h
}

func (h *harness) run(ctx context.Context) sink.RunResult {
	h.t.Helper()
	res, err := runner.Run(ctx, h.cfg, h.deps)
	if err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	got, _, ok := h.platform.Result()
	if !ok {
		h.t.Fatal("the platform received no finalize")
	}
	if a, b := mustJSON(h.t, res), mustJSON(h.t, *got); a != b {
		h.t.Fatalf("Run returned\n%s\nbut the platform received\n%s", a, b)
	}
	if r := h.platform.Rejected(); len(r) != 0 {
		h.t.Fatalf("the platform rejected requests: %v", r)
	}
	return res
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// fullScript exercises every workspace and platform tool, a model error that is retried, a malformed call, an
// unknown tool, an invalid output, and escape attempts.
func fullScript() llmtest.Script {
	return llmtest.Script{Turns: []llmtest.Turn{
		{Fault: &llmtest.Fault{Status: 500, Message: "upstream exploded"}, Text: "Let me look at the notes.", ToolCalls: []llmtest.ToolCall{
			{Name: "write", Args: `{"path":"notes/a.txt","content":"hello\nworld\n"}`},
			{Name: "read", Args: `{"path":"notes/a.txt"}`},
		}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "edit", Args: `{"path":"notes/a.txt","oldText":"world","newText":"there"}`},
			{Name: "bash", Args: `{"command":"cat notes/a.txt; echo oops >&2; ls notes"}`},
		}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "read", Args: `{"path": "notes/a.txt"`},
			{Name: "teleport", Args: `{}`},
		}},
		{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"summary":42}}`}}},
		{Usage: llmtest.Usage{InputTokens: 50, OutputTokens: 10, CacheReadTokens: 200, CacheWriteTokens: 30}, ToolCalls: []llmtest.ToolCall{
			{Name: "output", Args: `{"data":{"summary":"hello there","count":2}}`},
			{Name: "note", Args: `{"content":"The notes greet someone."}`},
			{Name: "pin", Args: `{"key":"last_seen","content":{"n":1},"scope":"shared"}`},
			{Name: "log", Args: `{"level":"info","message":"summarised 1 file"}`},
			{Name: "report", Args: `{"content":"# Report"}`},
			{Name: "report", Args: `{"content":"All notes read."}`},
			{Name: "set_state", Args: `{"state":{"cursor":7}}`},
			{Name: "add_memory", Args: `{"content":"Old-style memory."}`},
		}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "read", Args: `{"path":"../outside.txt"}`},
			{Name: "write", Args: `{"path":"/etc/appstrate-runner-test","content":"x"}`},
			{Name: "pin", Args: `{"key":"Bad-Key","content":1}`},
		}},
		{Text: "All done."},
	}}
}

func TestRunEndToEnd(t *testing.T) {
	for _, api := range llmtest.APIs {
		t.Run(api, func(t *testing.T) {
			h := newHarness(t, api, fullScript())
			res := h.run(context.Background())

			if runner.Failed(res) {
				t.Fatalf("run failed: %+v", res.Error)
			}
			data, err := os.ReadFile(filepath.Join(h.cfg.WorkspaceDir, "notes", "a.txt"))
			if err != nil || string(data) != "hello\nthere\n" {
				t.Fatalf("notes/a.txt = %q, %v", data, err)
			}
			checkGolden(t, "events_"+api, normalizeEvents(t, h.platform.Events()))
			checkGolden(t, "result_"+api, normalizeResult(t, res))

			reqs := h.llm.Requests()
			if len(reqs) != 8 || !reqs[0].Fault || reqs[1].Fault {
				t.Fatalf("want 8 model requests, the first answered by the injected 500: %d", len(reqs))
			}
			for _, r := range reqs {
				if r.System != testPrompt || r.FirstUserText() != testPrompt {
					t.Fatalf("the prompt must be the system prompt and the first user message")
				}
				if r.Model != "test-model" {
					t.Fatalf("model %q", r.Model)
				}
			}
			tools := strings.Join(reqs[0].Tools, ",")
			if tools != "read,write,edit,bash,ls,grep,find,output,log,note,pin,report" {
				t.Fatalf("tools declared to the model: %s", tools)
			}
			// OpenAI's wires have no error flag on tool results: only the text tells.
			flagged := func(r llmtest.ToolResult) bool {
				return r.IsError || api == llmtest.OpenAIChat || api == llmtest.OpenAIResponses
			}
			results := reqs[4].LastToolResults() // answers to the malformed call and the unknown tool
			if len(results) != 2 || !flagged(results[0]) || !flagged(results[1]) ||
				!strings.HasPrefix(results[0].Content, "Invalid arguments") ||
				!strings.Contains(results[1].Content, `Unknown tool "teleport"`) {
				t.Fatalf("malformed/unknown tool results: %+v", results)
			}
			results = reqs[5].LastToolResults()
			if len(results) != 1 || !flagged(results[0]) || !strings.HasPrefix(results[0].Content, "Output validation failed:") ||
				!strings.HasSuffix(results[0].Content, "Please call output() again with data that matches the schema.") {
				t.Fatalf("invalid output result: %+v", results)
			}
			results = reqs[7].LastToolResults()
			if len(results) != 3 || !strings.Contains(results[0].Content, "outside the workspace") ||
				!strings.Contains(results[1].Content, "outside the workspace") || !strings.Contains(results[2].Content, `"key" must match`) {
				t.Fatalf("escape attempts or bad pin key: %+v", results)
			}
			for _, r := range results {
				if !flagged(r) {
					t.Fatalf("not an error result: %+v", r)
				}
			}
			if _, err := os.Stat("/etc/appstrate-runner-test"); err == nil {
				t.Fatal("a file was written outside the workspace")
			}
		})
	}
}

func TestMaxTurns(t *testing.T) {
	loop := llmtest.Turn{ToolCalls: []llmtest.ToolCall{{Name: "ls", Args: `{}`}}}
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{loop, loop, loop, loop}})
	h.cfg.MaxTurns = 2
	res := h.run(context.Background())
	if res.Status != runner.StatusFailed || res.Error == nil ||
		res.Error.Message != "The agent did not finish within 2 model turns (MAX_TURNS)" {
		t.Fatalf("result %+v %+v", res.Status, res.Error)
	}
	if n := len(h.llm.Requests()); n != 2 {
		t.Fatalf("%d model calls, want 2", n)
	}
	if last := lastEvent(h.platform.Events()); last.Type != sink.TypeError {
		t.Fatalf("the last event is %s, want appstrate.error", last.Type)
	}
	if res.Usage == nil || res.Usage.InputTokens != 200 || res.Usage.OutputTokens != 40 {
		t.Fatalf("usage %+v", res.Usage)
	}
}

func TestModelErrors(t *testing.T) {
	tests := []struct {
		name     string
		fault    llmtest.Fault
		retries  int
		wantMsg  string
		wantReqs int
	}{
		{"401 is not retried", llmtest.Fault{Status: 401, Type: "authentication_error", Message: "invalid x-api-key", Times: -1}, 2,
			"llm: provider error 401 (authentication_error): invalid x-api-key", 1},
		{"500 is retried twice", llmtest.Fault{Status: 500, Message: "down", Times: -1}, 2,
			"llm: provider error 500 (api_error): down", 3},
		{"retries off", llmtest.Fault{Status: 529, Message: "overloaded", Times: -1}, 0,
			"llm: provider error 529 (overloaded_error): overloaded", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fault := tt.fault
			h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{{Fault: &fault}}})
			h.cfg.Model.Retries = tt.retries
			res := h.run(context.Background())
			if res.Status != runner.StatusFailed || res.Error == nil || res.Error.Message != tt.wantMsg {
				t.Fatalf("result %q %+v, want failed %q", res.Status, res.Error, tt.wantMsg)
			}
			if n := len(h.llm.Requests()); n != tt.wantReqs {
				t.Fatalf("%d model calls, want %d", n, tt.wantReqs)
			}
			ev := lastEvent(h.platform.Events())
			var data struct {
				Message string         `json:"message"`
				Data    map[string]any `json:"data"`
			}
			_ = json.Unmarshal(ev.Data, &data)
			if ev.Type != sink.TypeError || data.Message != tt.wantMsg || data.Data["code"] != "provider_error" ||
				data.Data["status"] != float64(tt.fault.Status) {
				t.Fatalf("last event %s %s", ev.Type, ev.Data)
			}
		})
	}
}

func TestCancelDuringTool(t *testing.T) {
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"touch started; sleep 60"}`}}},
		{Text: "never reached"},
	}})
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		waitFor(t, func() bool {
			_, err := os.Stat(filepath.Join(h.cfg.WorkspaceDir, "started"))
			return err == nil
		})
		cancel(errors.New("received SIGTERM"))
	}()
	res := h.run(ctx)
	if res.Status != runner.StatusCancelled || res.Error == nil || res.Error.Message != "Run cancelled: received SIGTERM" {
		t.Fatalf("result %q %+v", res.Status, res.Error)
	}
	if n := len(h.llm.Requests()); n != 1 {
		t.Fatalf("%d model calls after the cancellation, want 1", n)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"sleep 60"}`}}},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := h.run(ctx)
	if res.Status != runner.StatusTimeout {
		t.Fatalf("status %q %+v", res.Status, res.Error)
	}
}

func TestUnknownAgentToolIsReported(t *testing.T) {
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{{Text: "ok"}}})
	h.cfg.AgentTools = []string{"output", "@acme/weather"}
	res := h.run(context.Background())
	if runner.Failed(res) {
		t.Fatalf("a tool that cannot load must not fail the run: %+v", res.Error)
	}
	ev := h.platform.Events()
	if ev[0].Type != sink.TypeError || !strings.Contains(string(ev[0].Data), `@acme/weather`) {
		t.Fatalf("first event %s %s", ev[0].Type, ev[0].Data)
	}
	if tools := strings.Join(h.llm.Requests()[0].Tools, ","); tools != "read,write,edit,bash,ls,grep,find,output" {
		t.Fatalf("tools %s", tools)
	}
}

func TestRunReportsSetupFailures(t *testing.T) {
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{{Text: "ok"}}})
	h.cfg.WorkspaceDir = filepath.Join(t.TempDir(), "missing")
	res := h.run(context.Background())
	if res.Status != runner.StatusFailed || res.Error == nil || !strings.Contains(res.Error.Message, "workspace") {
		t.Fatalf("result %q %+v", res.Status, res.Error)
	}
	if len(h.llm.Requests()) != 0 {
		t.Fatal("the model was called without a workspace")
	}
}

func lastEvent(events []sink.Envelope) sink.Envelope {
	if len(events) == 0 {
		return sink.Envelope{}
	}
	return events[len(events)-1]
}

var readyPattern = regexp.MustCompile(`runtime ready in \d+ms`)

// normalizeEvents renders events one per line with the varying parts (tool call ids, timings) replaced.
func normalizeEvents(t *testing.T, events []sink.Envelope) string {
	t.Helper()
	var b strings.Builder
	for _, e := range events {
		var data any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		scrub(data)
		fmt.Fprintf(&b, "%d %s %s\n", e.Sequence, e.Type, mustJSON(t, data))
	}
	return b.String()
}

func scrub(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch {
			case k == "toolCallId":
				x[k] = "<id>"
			case k == "timestamp" || k == "durationMs":
				x[k] = 0
			default:
				if s, ok := val.(string); ok {
					x[k] = readyPattern.ReplaceAllString(s, "runtime ready in <n>ms")
				} else {
					scrub(val)
				}
			}
		}
	case []any:
		for _, val := range x {
			scrub(val)
		}
	}
}

func normalizeResult(t *testing.T, res sink.RunResult) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(mustJSON(t, res)), &v); err != nil {
		t.Fatal(err)
	}
	scrub(v)
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from the golden file (run with -update after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition not reached within 20 s")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The seed vocabulary: an output with a top-level state sets the checkpoint when the run pinned none.
func TestOutputStateSeedsTheCheckpoint(t *testing.T) {
	tests := []struct {
		name   string
		calls  []llmtest.ToolCall
		pinned string
	}{
		{"state", []llmtest.ToolCall{{Name: "output", Args: `{"data":{"summary":"s","state":{"cursor":1}}}`}},
			`{"checkpoint":{"content":{"cursor":1}}}`},
		{"pinned checkpoint wins", []llmtest.ToolCall{
			{Name: "output", Args: `{"data":{"summary":"s","state":{"cursor":1}}}`},
			{Name: "pin", Args: `{"key":"checkpoint","content":{"cursor":2}}`},
		}, `{"checkpoint":{"content":{"cursor":2}}}`},
		{"set_state wins", []llmtest.ToolCall{
			{Name: "set_state", Args: `{"state":"mine"}`},
			{Name: "output", Args: `{"data":{"summary":"s","state":{"cursor":1}}}`},
		}, `{"checkpoint":{"content":"mine"}}`},
		{"other pins kept", []llmtest.ToolCall{
			{Name: "pin", Args: `{"key":"seen","content":3}`},
			{Name: "output", Args: `{"data":{"summary":"s","state":[1,2]}}`},
		}, `{"checkpoint":{"content":[1,2]},"seen":{"content":3}}`},
		{"null state", []llmtest.ToolCall{{Name: "output", Args: `{"data":{"summary":"s","state":null}}`}}, `null`},
		{"no state", []llmtest.ToolCall{{Name: "output", Args: `{"data":{"summary":"s"}}`}}, `null`},
		{"no output", nil, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			turns := []llmtest.Turn{{Text: "done"}}
			if tt.calls != nil {
				turns = append([]llmtest.Turn{{ToolCalls: tt.calls}}, turns...)
			}
			h := newHarness(t, llmtest.OpenAIChat, llmtest.Script{Turns: turns})
			h.cfg.OutputSchema = nil
			res := h.run(context.Background())
			if got := mustJSON(t, res.Pinned); got != tt.pinned {
				t.Fatalf("pinned %s, want %s", got, tt.pinned)
			}
		})
	}
}

// A long run near the context window: old tool results are shortened before the model is called again.
func TestLongToolResultsAreShortenedNearTheContextWindow(t *testing.T) {
	big := `{"command":"head -c 20000 /dev/zero | tr '\\0' x"}`
	h := newHarness(t, llmtest.Anthropic, llmtest.Script{Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: big}}},
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: big}}},
		{Text: "done"},
	}})
	h.cfg.Model.ContextWindow, h.cfg.Model.MaxTokens = 12000, 1000
	res := h.run(context.Background())
	if runner.Failed(res) {
		t.Fatalf("run failed: %+v", res.Error)
	}
	reqs := h.llm.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	full := strings.Repeat("x", 20000)
	if r := reqs[1].LastToolResults(); len(r) != 1 || !strings.Contains(r[0].Content, full) {
		t.Fatal("the first result was cut while the conversation fitted")
	}
	first, second := reqs[2].Messages[2].ToolResults, reqs[2].LastToolResults()
	if len(first) != 1 || strings.Contains(first[0].Content, full) ||
		!strings.Contains(first[0].Content, "more bytes of this tool result were cut to fit the model's context window") {
		t.Fatalf("the old result was not shortened: %d bytes", len(first[0].Content))
	}
	if len(second) != 1 || !strings.Contains(second[0].Content, full) {
		t.Fatal("the latest result was cut")
	}
}
