package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

var apis = []string{"openai-completions", "openai-responses", "anthropic-messages", "google-generative-ai"}

const key = "sk-test-real-key"

var bashSpec = llm.ToolSpec{Name: "bash", Description: "Run a shell command",
	InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}},"required":["command"],"additionalProperties":false}`)}

// newClient returns a client of api pointed at srv.
func newClient(t *testing.T, api string, srv *llmtest.Server, runID string) llm.Client {
	t.Helper()
	h := http.Header{}
	if runID != "" {
		h.Set(llmtest.RunHeader, runID)
	}
	c, err := llm.New(api, llm.Config{BaseURL: srv.BaseURL(api), APIKey: key, Header: h})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call runs Complete or Stream; for Stream it also checks the events against the final message.
func call(t *testing.T, c llm.Client, stream bool, req llm.Request) (*llm.Response, error) {
	t.Helper()
	if !stream {
		return c.Complete(context.Background(), req)
	}
	var text, thinking strings.Builder
	args := map[int]*strings.Builder{}
	starts := map[int]llm.Event{}
	var lastUsage llm.Usage
	resp, err := c.Stream(context.Background(), req, func(ev llm.Event) error {
		switch ev.Type {
		case llm.EventTextDelta:
			text.WriteString(ev.Text)
		case llm.EventThinkingDelta:
			thinking.WriteString(ev.Text)
		case llm.EventToolCallStart:
			starts[ev.Index] = ev
			args[ev.Index] = &strings.Builder{}
		case llm.EventToolCallDelta:
			if args[ev.Index] == nil {
				t.Errorf("tool call delta for index %d before its start", ev.Index)
				return nil
			}
			args[ev.Index].WriteString(ev.Text)
		case llm.EventUsage:
			lastUsage = ev.Usage
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if got := text.String(); got != resp.Message.Text() {
		t.Errorf("text deltas %q != message text %q", got, resp.Message.Text())
	}
	if got := thinking.String(); got != resp.Message.Thinking() {
		t.Errorf("thinking deltas %q != message thinking %q", got, resp.Message.Thinking())
	}
	calls := resp.Message.ToolCalls()
	if len(starts) != len(calls) {
		t.Errorf("%d tool call starts, %d tool calls", len(starts), len(calls))
	}
	for i, tc := range calls {
		if s := starts[i]; s.ToolCallID != tc.ID || s.ToolName != tc.Name {
			t.Errorf("start event %d = %+v, call %+v", i, s, tc)
		}
		if a := args[i]; a != nil && a.String() != tc.Arguments && !(a.String() == "" && tc.Arguments == "{}") {
			t.Errorf("argument deltas %q != arguments %q", a.String(), tc.Arguments)
		}
	}
	if lastUsage != resp.Usage {
		t.Errorf("last usage event %+v != response usage %+v", lastUsage, resp.Usage)
	}
	return resp, nil
}

func forEach(t *testing.T, fn func(t *testing.T, api string, stream bool)) {
	for _, api := range apis {
		for _, stream := range []bool{false, true} {
			name := api + "/complete"
			if stream {
				name = api + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				fn(t, api, stream)
			})
		}
	}
}

func TestTextAnswer(t *testing.T) {
	forEach(t, func(t *testing.T, api string, stream bool) {
		srv := llmtest.New(t, llmtest.Script{APIKey: key, Turns: []llmtest.Turn{{
			Text:  "Hello there, wide wörld! 👋",
			Usage: llmtest.Usage{InputTokens: 120, OutputTokens: 7, CacheReadTokens: 30, CacheWriteTokens: 5},
		}}})
		temp := 0.2
		resp, err := call(t, newClient(t, api, srv, ""), stream, llm.Request{
			Model: "m-1", System: "You are terse.", Messages: []llm.Message{llm.UserText("Say hello")},
			Tools: []llm.ToolSpec{bashSpec}, MaxTokens: 256, Temperature: &temp,
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Text() != "Hello there, wide wörld! 👋" || resp.StopReason != llm.StopEndTurn || resp.Message.Role != llm.RoleAssistant {
			t.Fatalf("response %+v", resp)
		}
		want := llm.Usage{InputTokens: 120, OutputTokens: 7, CacheReadTokens: 30, CacheWriteTokens: 5}
		if api == "openai-responses" || api == "google-generative-ai" {
			want = llm.Usage{InputTokens: 125, OutputTokens: 7, CacheReadTokens: 30} // no cache-write count on these wires
		}
		if resp.Usage != want {
			t.Fatalf("usage %+v, want %+v", resp.Usage, want)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		r := reqs[0]
		if r.APIKey != key || r.System != "You are terse." || r.FirstUserText() != "Say hello" || r.Stream != stream ||
			r.MaxTokens != 256 || len(r.Tools) != 1 || r.Tools[0] != "bash" || r.Status != 200 {
			t.Fatalf("request seen %+v", r)
		}
		if api != "google-generative-ai" && r.Model != "m-1" || api == "google-generative-ai" && !strings.Contains(r.Path, "/models/m-1:") {
			t.Fatalf("model not sent: %s %s", r.Model, r.Path)
		}
	})
}

func TestToolRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, api string, stream bool) {
		srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{
			{Text: "Let me look.", ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"echo hi"}`}}},
			{Text: "done"},
		}})
		c := newClient(t, api, srv, "")
		req := llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("list files")}, Tools: []llm.ToolSpec{bashSpec}}
		resp, err := call(t, c, stream, req)
		if err != nil {
			t.Fatal(err)
		}
		calls := resp.Message.ToolCalls()
		if resp.StopReason != llm.StopToolUse || len(calls) != 1 || calls[0].Name != "bash" || resp.Message.Text() != "Let me look." {
			t.Fatalf("response %+v", resp)
		}
		var args struct{ Command string }
		if err := json.Unmarshal([]byte(calls[0].Arguments), &args); err != nil || args.Command != "echo hi" {
			t.Fatalf("arguments %q: %v", calls[0].Arguments, err)
		}
		if calls[0].ID == "" {
			t.Fatal("tool call without id")
		}
		req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleUser, Parts: []llm.Part{
			llm.ToolResultPart(calls[0].ID, "bash", "hi\n", false)}})
		resp, err = call(t, c, stream, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Text() != "done" || resp.StopReason != llm.StopEndTurn {
			t.Fatalf("second response %+v", resp)
		}
		reqs := srv.Requests()
		second := reqs[1]
		if second.Turn != 1 || len(second.Messages) != 3 {
			t.Fatalf("second request %+v", second)
		}
		tc := second.Messages[1].ToolCalls
		if len(tc) != 1 || tc[0].Name != "bash" || !json.Valid([]byte(tc[0].Args)) || !strings.Contains(tc[0].Args, "echo hi") {
			t.Fatalf("assistant turn sent back %+v", second.Messages[1])
		}
		tr := second.LastToolResults()
		if len(tr) != 1 || tr[0].Content != "hi\n" {
			t.Fatalf("tool results sent %+v", tr)
		}
		if api == "google-generative-ai" {
			if tr[0].Name != "bash" || tr[0].CallID != "" {
				t.Fatalf("gemini result must match by name without a made-up id: %+v", tr[0])
			}
			if !second.Contains(`"thoughtSignature":"llmtest-sig-llmtest_0"`) {
				t.Fatal("thought signature not sent back")
			}
		} else if tr[0].CallID != calls[0].ID {
			t.Fatalf("result call id %q, want %q", tr[0].CallID, calls[0].ID)
		}
	})
}

func TestParallelToolCalls(t *testing.T) {
	forEach(t, func(t *testing.T, api string, stream bool) {
		srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{
			{ToolCalls: []llmtest.ToolCall{
				{Name: "bash", Args: `{"command":"ls"}`},
				{Name: "note", Args: `{"content":"ünïcode ✓"}`},
				{Name: "pin"},
			}},
			{Text: "ok"},
		}})
		c := newClient(t, api, srv, "")
		req := llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("go")}}
		resp, err := call(t, c, stream, req)
		if err != nil {
			t.Fatal(err)
		}
		calls := resp.Message.ToolCalls()
		if len(calls) != 3 || calls[0].Name != "bash" || calls[1].Name != "note" || calls[2].Name != "pin" {
			t.Fatalf("calls %+v", calls)
		}
		if !strings.Contains(calls[1].Arguments, "ünïcode ✓") || calls[2].Arguments != "{}" {
			t.Fatalf("arguments %q %q", calls[1].Arguments, calls[2].Arguments)
		}
		ids := map[string]bool{}
		results := llm.Message{Role: llm.RoleUser}
		for _, tc := range calls {
			ids[tc.ID] = true
			results.Parts = append(results.Parts, llm.ToolResultPart(tc.ID, tc.Name, "result of "+tc.Name, tc.Name == "pin"))
		}
		if len(ids) != 3 {
			t.Fatalf("tool call ids not distinct: %+v", calls)
		}
		req.Messages = append(req.Messages, resp.Message, results)
		if _, err := call(t, c, stream, req); err != nil {
			t.Fatal(err)
		}
		tr := srv.Requests()[1].LastToolResults()
		if len(tr) != 3 || tr[2].Content != "result of pin" {
			t.Fatalf("results %+v", tr)
		}
		if (api == "anthropic-messages" || api == "google-generative-ai") && !tr[2].IsError {
			t.Fatal("is_error lost")
		}
	})
}

func TestThinking(t *testing.T) {
	forEach(t, func(t *testing.T, api string, stream bool) {
		srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{
			{Thinking: "The user wants a file list.", ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"ls"}`}}},
			{Text: "ok"},
		}})
		c := newClient(t, api, srv, "")
		req := llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("go")}}
		resp, err := call(t, c, stream, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Thinking() != "The user wants a file list." {
			t.Fatalf("thinking %q", resp.Message.Thinking())
		}
		calls := resp.Message.ToolCalls()
		req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleUser,
			Parts: []llm.Part{llm.ToolResultPart(calls[0].ID, "bash", "a b", false)}})
		if _, err := call(t, c, stream, req); err != nil {
			t.Fatal(err)
		}
		if api == "anthropic-messages" && !srv.Requests()[1].Contains(`"signature":"llmtest-sig-llmtest_0"`) {
			t.Fatal("signed thinking block not sent back")
		}
	})
}

func TestStopReasons(t *testing.T) {
	forEach(t, func(t *testing.T, api string, stream bool) {
		srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "cut", StopReason: "max_tokens"}}})
		resp, err := call(t, newClient(t, api, srv, ""), stream, llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StopReason != llm.StopMaxTokens {
			t.Fatalf("stop %q (raw %q)", resp.StopReason, resp.RawStopReason)
		}
	})
}

func TestErrors(t *testing.T) {
	type check func(t *testing.T, err error)
	apiErr := func(status int, retryable bool, retryAfter time.Duration) check {
		return func(t *testing.T, err error) {
			var e *llm.APIError
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an APIError", err, err)
			}
			if e.Status != status || e.Retryable() != retryable || e.RetryAfter != retryAfter || e.Message == "" {
				t.Fatalf("APIError %+v (retryable %v)", e, e.Retryable())
			}
			if llm.ErrorCode(err) != llm.CodeProviderError {
				t.Fatalf("code %q", llm.ErrorCode(err))
			}
		}
	}
	code := func(want string) check {
		return func(t *testing.T, err error) {
			if got := llm.ErrorCode(err); got != want {
				t.Fatalf("ErrorCode(%v) = %q, want %q", err, got, want)
			}
		}
	}
	tests := []struct {
		name     string
		turn     llmtest.Turn
		apiKey   string
		timeout  time.Duration
		streamed *bool // only this mode
		check    check
	}{
		{"rate limited with Retry-After", llmtest.Turn{Fault: &llmtest.Fault{Status: 429, RetryAfter: "2"}}, "", 0, nil,
			apiErr(429, true, 2*time.Second)},
		{"overloaded", llmtest.Turn{Fault: &llmtest.Fault{Status: 529}}, "", 0, nil, apiErr(529, true, 0)},
		{"bad request is not retryable", llmtest.Turn{Fault: &llmtest.Fault{Status: 400, Message: "bad"}}, "", 0, nil,
			apiErr(400, false, 0)},
		{"wrong key", llmtest.Turn{Text: "x"}, "another-key", 0, nil, apiErr(401, false, 0)},
		{"malformed body", llmtest.Turn{Text: "x", Fault: &llmtest.Fault{Malformed: true}}, "", 0, nil, func(t *testing.T, err error) {
			if !errors.Is(err, llm.ErrBadResponse) || llm.ErrorCode(err) != llm.CodeProviderError {
				t.Fatalf("error %v", err)
			}
		}},
		{"connection cut", llmtest.Turn{Text: "a long enough answer", Fault: &llmtest.Fault{Disconnect: true, AfterEvents: 2}}, "", 0, nil,
			code(llm.CodeNetworkError)},
		{"error event inside the stream", llmtest.Turn{Text: "abc", Fault: &llmtest.Fault{StreamError: true, AfterEvents: 1}}, "", 0, ptr(true),
			func(t *testing.T, err error) {
				var e *llm.APIError
				if !errors.As(err, &e) || e.Status != 0 || !e.Retryable() {
					t.Fatalf("error %v", err)
				}
			}},
		{"slow provider hits the deadline", llmtest.Turn{Text: "x", Delay: 10 * time.Second}, "", 50 * time.Millisecond, nil,
			code(llm.CodeTimeout)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, api string, stream bool) {
				if tt.streamed != nil && *tt.streamed != stream {
					t.Skip("other mode")
				}
				srv := llmtest.New(t, llmtest.Script{APIKey: key, Turns: []llmtest.Turn{tt.turn}})
				c, _ := llm.New(api, llm.Config{BaseURL: srv.BaseURL(api), APIKey: key})
				if tt.apiKey != "" {
					c, _ = llm.New(api, llm.Config{BaseURL: srv.BaseURL(api), APIKey: tt.apiKey})
				}
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				req := llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}}
				var err error
				if stream {
					_, err = c.Stream(ctx, req, func(llm.Event) error { return nil })
				} else {
					_, err = c.Complete(ctx, req)
				}
				if err == nil {
					t.Fatal("no error")
				}
				tt.check(t, err)
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestNetworkErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there any more
	for _, api := range apis {
		c, _ := llm.New(api, llm.Config{BaseURL: "http://" + addr, APIKey: key})
		_, err := c.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
		if got := llm.ErrorCode(err); got != llm.CodeNetworkError {
			t.Fatalf("%s: ErrorCode(%v) = %q", api, err, got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := llm.NewAnthropic(llm.Config{BaseURL: "http://" + addr})
	_, err = c.Complete(ctx, llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
	if got := llm.ErrorCode(err); got != llm.CodeCanceled {
		t.Fatalf("canceled: %q (%v)", got, err)
	}
	if llm.ErrorCode(nil) != "" {
		t.Fatal("nil error classified")
	}
}

func TestCallbackErrorAbortsStream(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "a b c d e f g"}}})
	stop := errors.New("enough")
	for _, api := range apis {
		_, err := newClient(t, api, srv, "").Stream(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}},
			func(ev llm.Event) error {
				if ev.Type == llm.EventTextDelta {
					return stop
				}
				return nil
			})
		if !errors.Is(err, stop) {
			t.Fatalf("%s: %v", api, err)
		}
	}
}

func TestRetryHonoursFaultsThenSucceeds(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{
		{Text: "finally", Fault: &llmtest.Fault{Status: 429, RetryAfter: "0.01", Times: 2}},
	}})
	for _, api := range apis {
		c := newClient(t, api, srv, "retry-"+api)
		attempts := 0
		resp, err := llm.Retry(context.Background(), llm.RetryPolicy{MaxAttempts: 5}, func(ctx context.Context) (*llm.Response, error) {
			attempts++
			return c.Complete(ctx, llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
		})
		if err != nil || resp.Message.Text() != "finally" || attempts != 3 {
			t.Fatalf("%s: %v after %d attempts", api, err, attempts)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	p := llm.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: 3 * time.Second, MaxRetryAfter: 10 * time.Second}
	tests := []struct {
		name    string
		err     error
		attempt int
		want    time.Duration
		ok      bool
	}{
		{"429 with Retry-After", &llm.APIError{Status: 429, RetryAfter: 4 * time.Second}, 0, 4 * time.Second, true},
		{"529 backs off", &llm.APIError{Status: 529}, 0, time.Second, true},
		{"503 backs off exponentially", &llm.APIError{Status: 503}, 1, 2 * time.Second, true},
		{"attempts exhausted", &llm.APIError{Status: 503}, 2, 0, false},
		{"overloaded event in a stream", &llm.APIError{Type: "overloaded_error"}, 0, time.Second, true},
		{"Retry-After too long", &llm.APIError{Status: 429, RetryAfter: time.Hour}, 0, 0, false},
		{"400 not retried", &llm.APIError{Status: 400}, 0, 0, false},
		{"network errors are the caller's call", errors.New("boom"), 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := p.RetryDelay(tt.err, tt.attempt)
			if d != tt.want || ok != tt.ok {
				t.Fatalf("RetryDelay = %v, %v; want %v, %v", d, ok, tt.want, tt.ok)
			}
		})
	}
	capped := llm.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, MaxDelay: 3 * time.Second}
	if d, _ := capped.RetryDelay(&llm.APIError{Status: 503}, 5); d != 3*time.Second {
		t.Fatalf("cap: %v", d)
	}
}

// TestConcurrentConversations runs many scripted conversations at once on one server: each gets its own script
// position, whether identified by X-Run-Id or by its first message.
func TestConcurrentConversations(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"echo 1"}`}}},
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"echo 2"}`}}},
		{Text: "done", Usage: llmtest.Usage{InputTokens: 10, OutputTokens: 1}},
	}})
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := apis[i%len(apis)]
			runID := ""
			if i%2 == 0 {
				runID = fmt.Sprintf("run-%d", i)
			}
			h := http.Header{}
			if runID != "" {
				h.Set(llmtest.RunHeader, runID)
			}
			c, err := llm.New(api, llm.Config{BaseURL: srv.BaseURL(api), Header: h})
			if err != nil {
				errs <- err
				return
			}
			req := llm.Request{Model: "m", Messages: []llm.Message{llm.UserText(fmt.Sprintf("conversation %d", i))}}
			for turn := 0; ; turn++ {
				resp, err := c.Stream(context.Background(), req, func(llm.Event) error { return nil })
				if err != nil {
					errs <- err
					return
				}
				calls := resp.Message.ToolCalls()
				if len(calls) == 0 {
					if resp.Message.Text() != "done" || turn != 2 {
						errs <- errors.New("wrong end of conversation")
					}
					return
				}
				req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleUser,
					Parts: []llm.Part{llm.ToolResultPart(calls[0].ID, calls[0].Name, "ok", false)}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if srv.Count() != 3*n {
		t.Fatalf("%d requests, want %d", srv.Count(), 3*n)
	}
}

// TestMeterBehindReverseProxy is the sidecar's arrangement: the client holds a placeholder key, a reverse proxy
// swaps it for the real one and meters the response bytes it relays; the meter agrees with the client.
func TestMeterBehindReverseProxy(t *testing.T) {
	const placeholder = "sk-placeholder-xxxx"
	srv := llmtest.New(t, llmtest.Script{APIKey: key, Turns: []llmtest.Turn{{
		Text: "metered", Usage: llmtest.Usage{InputTokens: 900, OutputTokens: 40, CacheReadTokens: 300},
	}}})
	for _, api := range apis {
		for _, stream := range []bool{false, true} {
			target, _ := url.Parse(srv.URL)
			var mu sync.Mutex
			var meters []*llm.Meter
			proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/llm")
				pr.Out.URL.RawPath = ""
				for k, vs := range pr.Out.Header {
					for i, v := range vs {
						pr.Out.Header[k][i] = strings.Replace(v, placeholder, key, 1)
					}
				}
			}}
			proxy.ModifyResponse = func(resp *http.Response) error {
				m, err := llm.NewMeter(api)
				if err != nil {
					return err
				}
				m.SetContentType(resp.Header.Get("Content-Type"))
				resp.Body = m.Wrap(resp.Body)
				mu.Lock()
				meters = append(meters, m)
				mu.Unlock()
				return nil
			}
			ps := httptest.NewServer(proxy)
			base := ps.URL + "/llm"
			if strings.HasPrefix(api, "openai") {
				base += "/v1"
			}
			c, _ := llm.New(api, llm.Config{BaseURL: base, APIKey: placeholder})
			resp, err := call(t, c, stream, llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
			ps.Close()
			if err != nil {
				t.Fatalf("%s stream=%v: %v", api, stream, err)
			}
			mu.Lock()
			if len(meters) != 1 || meters[0].Usage() != resp.Usage || !meters[0].Complete() {
				t.Fatalf("%s stream=%v: meter %+v, client %+v", api, stream, meters[0].Usage(), resp.Usage)
			}
			mu.Unlock()
			if resp.Usage.InputTokens != 900 || resp.Usage.CacheReadTokens != 300 {
				t.Fatalf("%s: usage %+v", api, resp.Usage)
			}
		}
	}
	for _, r := range srv.Requests() {
		if r.APIKey != key || r.Contains(placeholder) {
			t.Fatalf("key not swapped: %+v", r.APIKey)
		}
	}
}

func TestRequestRendering(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake")
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "a"}}})
	for _, api := range apis {
		c := newClient(t, api, srv, "")
		_, err := c.Complete(context.Background(), llm.Request{
			Model: "m", System: "sys", PromptCaching: true, ToolChoice: "bash", Tools: []llm.ToolSpec{bashSpec},
			StopSequences: []string{"STOP"},
			Messages:      []llm.Message{{Role: llm.RoleUser, Parts: []llm.Part{llm.TextPart("look"), llm.ImagePart("image/png", png)}}},
		})
		if err != nil {
			t.Fatalf("%s: %v", api, err)
		}
	}
	reqs := srv.Requests()
	wants := map[string][]string{
		"openai-completions":   {`"image_url":{"url":"data:image/png;base64,iVBORw0KGgpmYWtl"}`, `"tool_choice":{"function":{"name":"bash"},"type":"function"}`, `"stop":["STOP"]`, `"additionalProperties":false`},
		"openai-responses":     {`"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgpmYWtl"`, `"store":false`, `"instructions":"sys"`, `"tool_choice":{"name":"bash","type":"function"}`},
		"anthropic-messages":   {`"media_type":"image/png","data":"iVBORw0KGgpmYWtl"`, `"cache_control":{"type":"ephemeral"}`, `"tool_choice":{"name":"bash","type":"tool"}`, `"stop_sequences":["STOP"]`, `"max_tokens":4096`},
		"google-generative-ai": {`"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgpmYWtl"}`, `"allowedFunctionNames":["bash"]`, `"parametersJsonSchema"`, `"stopSequences":["STOP"]`},
	}
	for i, api := range apis {
		r := reqs[i]
		if r.API != api || r.Messages[0].Images != 1 {
			t.Fatalf("%s: request %+v", api, r)
		}
		for _, w := range wants[api] {
			if !r.Contains(w) {
				t.Errorf("%s: body lacks %s:\n%s", api, w, r.Body)
			}
		}
	}
	if got := reqs[2].Header.Get("anthropic-version"); got != llm.AnthropicVersion {
		t.Fatalf("anthropic-version %q", got)
	}
}

func TestParseAPI(t *testing.T) {
	for name, want := range map[string]llm.API{
		"openai-completions": llm.OpenAIChat, "openai-chat": llm.OpenAIChat, "mistral-conversations": llm.OpenAIChat,
		"openai-responses": llm.OpenAIResponses, "openai-codex-responses": llm.OpenAIResponses,
		"anthropic-messages": llm.Anthropic, " Google-Generative-AI ": llm.Gemini,
	} {
		if got, err := llm.ParseAPI(name); err != nil || got != want {
			t.Errorf("ParseAPI(%q) = %q, %v", name, got, err)
		}
	}
	if _, err := llm.ParseAPI("bedrock-converse-stream"); err == nil {
		t.Error("unsupported API accepted")
	}
	if _, err := llm.New("nope", llm.Config{}); err == nil {
		t.Error("New accepted an unknown API")
	}
}

// TestStreamAnsweredWhole: a server that ignores the stream flag and answers JSON still satisfies Stream, whose
// callback sees the answer replayed as events.
func TestStreamAnsweredWhole(t *testing.T) {
	fake := llmtest.NewHandler(llmtest.Script{Turns: []llmtest.Turn{{Text: "whole", Thinking: "t",
		ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"ls"}`}}}}})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		delete(body, "stream")
		delete(body, "stream_options")
		b, _ := json.Marshal(body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.URL.Path = strings.Replace(r.URL.Path, ":streamGenerateContent", ":generateContent", 1)
		r.URL.RawQuery = ""
		fake.ServeHTTP(w, r)
	}))
	defer ts.Close()
	for _, api := range apis {
		base := ts.URL
		if strings.HasPrefix(api, "openai") {
			base += "/v1"
		}
		c, _ := llm.New(api, llm.Config{BaseURL: base})
		resp, err := call(t, c, true, llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("x")}})
		if err != nil {
			t.Fatalf("%s: %v", api, err)
		}
		if resp.Message.Text() != "whole" || len(resp.Message.ToolCalls()) != 1 || resp.Usage.InputTokens != 100 {
			t.Fatalf("%s: %+v", api, resp)
		}
	}
	if fake.Count() != len(apis) {
		t.Fatalf("%d requests", fake.Count())
	}
}
