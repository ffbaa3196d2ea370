package llm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var fuzzAPIs = []string{"openai-completions", "openai-responses", "anthropic-messages", "google-generative-ai"}

// fixtureAPI maps the golden fixtures to their API.
func fixtures(f *testing.F) map[string][]byte {
	f.Helper()
	out := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join("testdata", "meter", "*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func fixtureAPIIndex(name string) uint8 {
	switch {
	case strings.HasPrefix(name, "chat"):
		return 0
	case strings.HasPrefix(name, "responses"):
		return 1
	case strings.HasPrefix(name, "anthropic"):
		return 2
	}
	return 3
}

// FuzzSSE checks the event-stream parser never panics and gives the same events however the bytes are split.
func FuzzSSE(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b, uint16(1))
		f.Add(b, uint16(17))
	}
	f.Add([]byte("data: a\r\n\r\ndata: b\r\rdata: c\n\n"), uint16(1))
	f.Add([]byte("\xEF\xBB\xBFevent: x\ndata\n\n:comment\nid: 1\x00\ndata: [DONE]"), uint16(3))
	f.Add([]byte("data: \xff\xfe\n\n"), uint16(2))
	f.Fuzz(func(t *testing.T, b []byte, split uint16) {
		whole, _ := parseAll(b, 0)
		chunked, _ := parseAll(b, int(split%64)+1)
		if !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("split %d changes the events:\n%#v\n%#v", split%64+1, whole, chunked)
		}
		for _, e := range whole {
			if strings.ContainsAny(e.Event, "\r\n") || strings.ContainsAny(e.ID, "\r\n\x00") {
				t.Fatalf("line break inside a field: %#v", e)
			}
		}
	})
}

// FuzzMeterStream checks the meter never panics, never reports negative usage, and does not depend on how the
// body is split.
func FuzzMeterStream(f *testing.F) {
	for name, b := range fixtures(f) {
		f.Add(fixtureAPIIndex(name), b, uint16(5))
	}
	f.Add(uint8(0), []byte(`data: {"usage":{"prompt_tokens":-1e400,"completion_tokens":"9e99"}}`), uint16(3))
	f.Add(uint8(2), []byte("event: message_delta\ndata: {\"usage\":{\"output_tokens\":null}}\n\n"), uint16(1))
	f.Add(uint8(3), []byte(`[{"usageMetadata":{"promptTokenCount":5,"cachedContentTokenCount":9}}]`), uint16(2))
	f.Add(uint8(1), []byte(`{"usage":{"input_tokens":1,"input_tokens_details":{"cached_tokens":1e20}}}`), uint16(4))
	f.Fuzz(func(t *testing.T, api uint8, b []byte, split uint16) {
		name := fuzzAPIs[int(api)%len(fuzzAPIs)]
		whole, _ := NewMeter(name)
		_, _ = whole.Write(b)
		_ = whole.Close()
		chunked, _ := NewMeter(name)
		step := int(split%97) + 1
		for rest := b; len(rest) > 0; {
			n := min(step, len(rest))
			_, _ = chunked.Write(rest[:n])
			rest = rest[n:]
		}
		_ = chunked.Close()
		u := whole.Usage()
		if u.InputTokens < 0 || u.OutputTokens < 0 || u.CacheReadTokens < 0 || u.CacheWriteTokens < 0 {
			t.Fatalf("negative usage %+v", u)
		}
		if u.Total() < 0 || Cost(u, Pricing{InputPerMTok: 3, OutputPerMTok: 15, CacheReadPerMTok: 0.3, CacheWritePerMTok: 3.75}) < 0 {
			t.Fatalf("negative total or cost for %+v", u)
		}
		if chunked.Usage() != u || chunked.Complete() != whole.Complete() {
			t.Fatalf("split %d: %+v/%v vs %+v/%v", step, chunked.Usage(), chunked.Complete(), u, whole.Complete())
		}
	})
}

// cannedTransport answers every request with the same body.
type cannedTransport struct {
	contentType string
	body        []byte
}

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {c.contentType}},
		Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

// FuzzClientStream feeds arbitrary bytes to each client's stream decoder: no panic, and an answer it accepts is
// well formed (non-negative usage, tool calls with names matching their start events).
func FuzzClientStream(f *testing.F) {
	for name, b := range fixtures(f) {
		f.Add(fixtureAPIIndex(name), b)
	}
	f.Add(uint8(0), []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":5,\"function\":{\"arguments\":\"{\"}}]}}]}\n\ndata: [DONE]\n\n"))
	f.Add(uint8(1), []byte("data: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":-3,\"delta\":\"x\"}\n\ndata: {\"type\":\"response.completed\",\"response\":{}}\n\n"))
	f.Add(uint8(2), []byte("data: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"s\"}}\n\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Add(uint8(3), []byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"x\",\"args\":[1]}}]},\"finishReason\":\"STOP\"}]}\n\n"))
	f.Fuzz(func(t *testing.T, api uint8, b []byte) {
		name := fuzzAPIs[int(api)%len(fuzzAPIs)]
		c, err := New(name, Config{BaseURL: "http://fuzz.invalid", HTTPClient: &http.Client{Transport: cannedTransport{"text/event-stream", b}}})
		if err != nil {
			t.Fatal(err)
		}
		starts := map[int]Event{}
		resp, err := c.Stream(context.Background(), Request{Model: "m", Messages: []Message{UserText("x")}}, func(ev Event) error {
			if ev.Type == EventToolCallStart {
				starts[ev.Index] = ev
			}
			if ev.Type == EventUsage && (ev.Usage.InputTokens < 0 || ev.Usage.OutputTokens < 0 || ev.Usage.CacheReadTokens < 0 || ev.Usage.CacheWriteTokens < 0) {
				t.Fatalf("negative usage event %+v", ev.Usage)
			}
			return nil
		})
		if err != nil {
			return
		}
		u := resp.Usage
		if u.InputTokens < 0 || u.OutputTokens < 0 || u.CacheReadTokens < 0 || u.CacheWriteTokens < 0 {
			t.Fatalf("negative usage %+v", u)
		}
		for i, tc := range resp.Message.ToolCalls() {
			if s, ok := starts[i]; !ok || s.ToolName != tc.Name && tc.Name == "" {
				t.Fatalf("tool call %d %+v without matching start %+v", i, tc, s)
			}
			if tc.Arguments == "" {
				t.Fatalf("tool call %d with empty arguments", i)
			}
		}
		// The whole-body decoders must not panic on the same bytes either.
		cj, _ := New(name, Config{BaseURL: "http://fuzz.invalid", HTTPClient: &http.Client{Transport: cannedTransport{"application/json", b}}})
		_, _ = cj.Complete(context.Background(), Request{Model: "m", Messages: []Message{UserText("x")}})
	})
}
