package sidecar_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// The agent talks to the sidecar with the placeholder; the fake model only accepts the real key; the sidecar
// meters the relayed answer and reports it to the platform, for the four wire formats, streamed and not.
func TestLLMProxyMetersEveryAPI(t *testing.T) {
	usage := llmtest.Usage{InputTokens: 1200, OutputTokens: 30, CacheReadTokens: 1000}
	for _, api := range []string{llmtest.Anthropic, llmtest.OpenAIChat, llmtest.OpenAIResponses, llmtest.Gemini} {
		for _, stream := range []bool{true, false} {
			name := api + map[bool]string{true: "/stream", false: "/complete"}[stream]
			t.Run(name, func(t *testing.T) {
				model := llmtest.New(t, llmtest.Script{APIKey: "sk-real-key", Turns: []llmtest.Turn{{Text: "hello", Usage: usage}}})
				h := newHarness(t, map[string]string{"PI_BASE_URL": model.BaseURL(api), "PI_API_KEY": "sk-real-key",
					"PI_PLACEHOLDER": "sk-placeholder", "MODEL_API": api})
				client, err := llm.New(api, llm.Config{BaseURL: h.server.URL + "/llm", APIKey: "sk-placeholder",
					Header: http.Header{"X-Sidecar-Token": {testSCToken}}})
				if err != nil {
					t.Fatal(err)
				}
				req := llm.Request{Model: "model-x", System: "sys", Messages: []llm.Message{llm.UserText("hi")}}
				var resp *llm.Response
				if stream {
					resp, err = client.Stream(context.Background(), req, nil)
				} else {
					resp, err = client.Complete(context.Background(), req)
				}
				if err != nil {
					t.Fatal(err)
				}
				if resp.Message.Text() != "hello" {
					t.Fatalf("answer = %q", resp.Message.Text())
				}
				rep := h.platform.nextUsage(t)
				want := llm.Usage{InputTokens: 1200, OutputTokens: 30, CacheReadTokens: 1000}
				got := llm.Usage{InputTokens: rep.Usage.InputTokens, OutputTokens: rep.Usage.OutputTokens,
					CacheReadTokens: rep.Usage.CacheReadInputTokens, CacheWriteTokens: rep.Usage.CacheCreationInputTokens}
				if got != want || rep.API != api || rep.Model != "model-x" || !rep.Complete || rep.RequestID == "" {
					t.Fatalf("usage report = %+v", rep)
				}
			})
		}
	}
}

// Headers are filtered both ways, the placeholder is swapped once per value, and the body streams through:
// the agent reads the first event while the upstream is still holding the second one back.
func TestLLMProxyHeadersAndStreaming(t *testing.T) {
	release := make(chan struct{})
	var seen *http.Request
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Clone(context.Background())
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"model":"m","stream":true}` {
			http.Error(w, "body "+string(body), 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Request-Id", "req-1")
		w.Header().Set("Ratelimit-Remaining", "9")
		w.Header().Set("Set-Cookie", "upstream=1")
		w.Header().Set("X-Upstream-Secret", "s")
		_, _ = io.WriteString(w, "event: one\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "event: two\ndata: {}\n\n")
	}))
	defer upstream.Close()
	h := newHarness(t, map[string]string{"PI_BASE_URL": upstream.URL + "/base/", "PI_API_KEY": "sk-real", "PI_PLACEHOLDER": "sk-ph"})

	req, _ := http.NewRequest(http.MethodPost, h.server.URL+"/llm/v1/messages?beta=true", strings.NewReader(`{"model":"m","stream":true}`))
	req.Header.Set("X-Sidecar-Token", testSCToken)
	req.Header.Set("X-Api-Key", "sk-ph")
	req.Header.Set("Authorization", "Bearer sk-ph sk-ph")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "1")
	req.Header.Set("X-Custom", "keep")
	resp, err := h.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	first, err := rd.ReadString('\n')
	if err != nil || first != "event: one\n" {
		t.Fatalf("first line = %q, %v", first, err)
	}
	close(release)
	rest, _ := io.ReadAll(rd)
	if !strings.Contains(string(rest), "event: two") {
		t.Fatalf("rest = %q", rest)
	}

	if seen.URL.Path != "/base/v1/messages" || seen.URL.RawQuery != "beta=true" {
		t.Fatalf("upstream URL = %s", seen.URL)
	}
	checks := map[string]string{"X-Api-Key": "sk-real", "Authorization": "Bearer sk-real sk-ph", "X-Custom": "keep",
		"X-Sidecar-Token": "", "X-Hop": ""}
	for name, want := range checks {
		if got := seen.Header.Get(name); got != want {
			t.Errorf("upstream %s = %q, want %q", name, got, want)
		}
	}
	if resp.Header.Get("X-Request-Id") != "req-1" || resp.Header.Get("Ratelimit-Remaining") != "9" ||
		resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("allowlisted headers missing: %v", resp.Header)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Upstream-Secret") != "" {
		t.Errorf("non-allowlisted headers passed back: %v", resp.Header)
	}
}

func TestLLMProxyErrors(t *testing.T) {
	do := func(t *testing.T, h *harness, token string, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.server.URL+"/llm/v1/messages", strings.NewReader(body))
		if token != "" {
			req.Header.Set("X-Sidecar-Token", token)
		}
		resp, err := h.server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	t.Run("not configured", func(t *testing.T) {
		h := newHarness(t, nil)
		if status, body := do(t, h, testSCToken, "{}"); status != 503 || body != `{"error":"LLM proxy not configured"}` {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("token", func(t *testing.T) {
		h := newHarness(t, map[string]string{"PI_BASE_URL": "http://127.0.0.1:1"})
		for _, tok := range []string{"", "wrong"} {
			if status, _ := do(t, h, tok, "{}"); status != http.StatusUnauthorized {
				t.Fatalf("token %q: status %d", tok, status)
			}
		}
	})
	t.Run("fetch failure", func(t *testing.T) {
		h := newHarness(t, map[string]string{"PI_BASE_URL": "http://127.0.0.1:1"})
		status, body := do(t, h, testSCToken, "{}")
		if status != http.StatusBadGateway || body != `{"error":"LLM request failed: ECONNREFUSED (127.0.0.1:1)"}` {
			t.Fatalf("%d %s", status, body)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		h := newHarness(t, map[string]string{"PI_BASE_URL": "http://127.0.0.1:1", "SIDECAR_MAX_REQUEST_BODY_BYTES": "8"})
		status, body := do(t, h, testSCToken, `{"model":"too-long"}`)
		var e map[string]any
		_ = json.Unmarshal([]byte(body), &e)
		if status != http.StatusRequestEntityTooLarge || e["envVar"] != "SIDECAR_MAX_REQUEST_BODY_BYTES" {
			t.Fatalf("%d %s", status, body)
		}
	})
}
