package llmtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// post sends a raw request body to the fake.
func post(t *testing.T, url string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const chatBody = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`

func TestRefusals(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{APIKey: "k", Turns: []llmtest.Turn{{Text: "one"}}})
	auth := map[string]string{"Authorization": "Bearer k"}
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		body    string
		status  int
		inBody  string
	}{
		{"unknown endpoint", "/v1/embeddings", auth, chatBody, 404, "no such endpoint"},
		{"invalid JSON", "/v1/chat/completions", auth, `{"model":`, 400, "invalid_request_error"},
		{"missing model", "/v1/chat/completions", auth, `{"messages":[{"role":"user","content":"x"}]}`, 400, "model and messages"},
		{"wrong key", "/v1/chat/completions", map[string]string{"Authorization": "Bearer nope"}, chatBody, 401, "invalid_api_key"},
		{"anthropic without version header", "/v1/messages", map[string]string{"x-api-key": "k"},
			`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, 400, "anthropic-version"},
		{"anthropic without max_tokens", "/v1/messages", map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"},
			`{"model":"m","messages":[{"role":"user","content":"x"}]}`, 400, "max_tokens"},
		{"tool result answering nothing", "/v1/chat/completions", auth,
			`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"hm"},{"role":"tool","tool_call_id":"c9","content":"r"}]}`,
			400, "answers no tool call"},
		{"tool call left unanswered", "/v1/messages", map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"},
			`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"bash","input":{}}]},{"role":"user","content":"next"}]}`,
			400, "has no tool result"},
		{"script exhausted", "/v1/chat/completions", auth,
			`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"one"},{"role":"user","content":"more"}]}`,
			500, "script exhausted"},
		{"gemini key in the query", "/v1beta/models/g:generateContent?key=k", nil,
			`{"contents":[{"role":"user","parts":[{"text":"x"}]}]}`, 200, `"text":"one"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, srv.URL+tt.path, tt.headers, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.inBody) {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
		})
	}
	resp, _ := http.Get(srv.URL + "/v1/chat/completions")
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	for _, r := range srv.Requests() {
		if r.Status == 0 {
			t.Fatalf("request recorded without status: %+v", r)
		}
	}
}

func TestScriptSelectionAndReply(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Script{Turns: []llmtest.Turn{{Text: "fallback"}}},
		llmtest.Script{Match: "agent-b", Turns: []llmtest.Turn{{Reply: func(r llmtest.Request) llmtest.Turn {
			return llmtest.Turn{Text: "echo: " + r.FirstUserText()}
		}}}},
	)
	c := llm.NewAnthropic(llm.Config{BaseURL: srv.URL})
	ask := func(system, user string) string {
		resp, err := c.Complete(context.Background(), llm.Request{Model: "m", System: system, Messages: []llm.Message{llm.UserText(user)}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Message.Text()
	}
	if got := ask("You are agent-b.", "ping"); got != "echo: ping" {
		t.Fatalf("matched script: %q", got)
	}
	if got := ask("You are agent-a.", "ping"); got != "fallback" {
		t.Fatalf("fallback script: %q", got)
	}
	srv.SetScripts(llmtest.Script{Turns: []llmtest.Turn{{Text: "replaced"}}})
	if got := ask("You are agent-b.", "ping"); got != "replaced" {
		t.Fatalf("after SetScripts: %q", got)
	}
	if len(srv.Requests()) != 3 {
		t.Fatalf("%d requests", len(srv.Requests()))
	}
	srv.Reset()
	srv.SetRecording(false)
	_ = ask("x", "y")
	if len(srv.Requests()) != 0 || srv.Count() != 1 {
		t.Fatalf("recording off: %d recorded, count %d", len(srv.Requests()), srv.Count())
	}
}

func TestFaultCounting(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{
		{Text: "ok", Fault: &llmtest.Fault{Status: 503, Times: 2}},
		{Text: "never", Fault: &llmtest.Fault{Status: 500, Times: -1}},
	}})
	statuses := func(run string) []int {
		var out []int
		for range 3 {
			resp, _ := post(t, srv.URL+"/v1/chat/completions", map[string]string{llmtest.RunHeader: run}, chatBody)
			out = append(out, resp.StatusCode)
		}
		return out
	}
	// Faults are counted per conversation: each run sees two 503s, then the answer.
	for _, run := range []string{"r1", "r2"} {
		if got := statuses(run); got[0] != 503 || got[1] != 503 || got[2] != 200 {
			t.Fatalf("%s: %v", run, got)
		}
	}
	if got := srv.RequestsFor("r2"); len(got) != 3 || !got[0].Fault || got[2].Fault {
		t.Fatalf("RequestsFor: %+v", got)
	}
	body := `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"},{"role":"user","content":"again"}]}`
	for range 3 {
		if resp, _ := post(t, srv.URL+"/v1/chat/completions", nil, body); resp.StatusCode != 500 {
			t.Fatalf("permanent fault: %d", resp.StatusCode)
		}
	}
}

// TestGeminiJSONArrayStream: streamGenerateContent without alt=sse answers a JSON array, which the meter reads.
func TestGeminiJSONArrayStream(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "hello there", Usage: llmtest.Usage{InputTokens: 11, OutputTokens: 2}}}})
	resp, body := post(t, srv.URL+"/v1beta/models/gemini-x:streamGenerateContent", nil, `{"contents":[{"parts":[{"text":"x"}]}]}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "[") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var chunks []map[string]any
	if err := json.Unmarshal([]byte(body), &chunks); err != nil || len(chunks) < 2 {
		t.Fatalf("array: %v (%d chunks)", err, len(chunks))
	}
	u, err := llm.MeterResponse("google-generative-ai", resp.Header.Get("Content-Type"), strings.NewReader(body))
	if err != nil || u != (llm.Usage{InputTokens: 11, OutputTokens: 2}) {
		t.Fatalf("metered %+v, %v", u, err)
	}
	if r := srv.Requests()[0]; !r.Stream || r.Model != "gemini-x" {
		t.Fatalf("request %+v", r)
	}
}

// TestMeterAgreesOnEveryWire: for each API, streamed and not, the meter reads from the raw bytes exactly the usage
// the script reports.
func TestMeterAgreesOnEveryWire(t *testing.T) {
	u := llmtest.Usage{InputTokens: 500, OutputTokens: 60, CacheReadTokens: 40, CacheWriteTokens: 8}
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "x", Thinking: "y",
		ToolCalls: []llmtest.ToolCall{{Name: "a", Args: `{"k":1}`}}, Usage: u}}})
	bodies := map[string][2]string{
		llmtest.OpenAIChat:      {"/v1/chat/completions", `{"model":"m","stream":%s,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`},
		llmtest.OpenAIResponses: {"/v1/responses", `{"model":"m","stream":%s,"input":"x"}`},
		llmtest.Anthropic:       {"/v1/messages", `{"model":"m","stream":%s,"max_tokens":10,"messages":[{"role":"user","content":"x"}]}`},
		llmtest.Gemini:          {"/v1beta/models/m:%s", `{"contents":[{"parts":[{"text":"x"}]}]}`},
	}
	for _, api := range llmtest.APIs {
		for _, stream := range []bool{false, true} {
			path, body := bodies[api][0], bodies[api][1]
			flag := "false"
			if stream {
				flag = "true"
			}
			if api == llmtest.Gemini {
				if stream {
					path = strings.Replace(path, "%s", "streamGenerateContent?alt=sse", 1)
				} else {
					path = strings.Replace(path, "%s", "generateContent", 1)
				}
			} else {
				body = strings.Replace(body, "%s", flag, 1)
			}
			resp, raw := post(t, srv.URL+path, map[string]string{"anthropic-version": "2023-06-01"}, body)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", api, resp.StatusCode, raw)
			}
			got, err := llm.MeterResponse(api, resp.Header.Get("Content-Type"), strings.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			want := llm.Usage{InputTokens: 500, OutputTokens: 60, CacheReadTokens: 40, CacheWriteTokens: 8}
			if api == llmtest.OpenAIResponses || api == llmtest.Gemini {
				want = llm.Usage{InputTokens: 508, OutputTokens: 60, CacheReadTokens: 40}
			}
			if got != want {
				t.Fatalf("%s stream=%v: %+v, want %+v", api, stream, got, want)
			}
		}
	}
}

func TestServe(t *testing.T) {
	srv, err := llmtest.Serve("127.0.0.1:0", llmtest.Script{Turns: []llmtest.Turn{{Text: "from Serve"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := llm.NewOpenAIChat(llm.Config{BaseURL: srv.BaseURL(llmtest.OpenAIChat)})
	resp, err := c.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
	if err != nil || resp.Message.Text() != "from Serve" {
		t.Fatalf("%v %+v", err, resp)
	}
	srv.Close()
	srv.Close()
	if _, err := c.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}}); err == nil {
		t.Fatal("server still answering after Close")
	}
}

func TestEcho(t *testing.T) {
	srv := llmtest.New(t, llmtest.Echo())
	c := llm.NewGemini(llm.Config{BaseURL: srv.URL})
	req := llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("first")}}
	for _, next := range []string{"second", "third"} {
		resp, err := c.Stream(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Messages = append(req.Messages, resp.Message, llm.UserText(next))
	}
	resp, err := c.Complete(context.Background(), req)
	if err != nil || resp.Message.Text() != "(fake LLM) You said: third" {
		t.Fatalf("%v %+v", err, resp)
	}
}
