package llmproxy

import (
	"encoding/json"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm"
)

func TestDecodeBodyAndStreamUsage(t *testing.T) {
	tests := []struct {
		body, preset, after string
		refused             bool
	}{
		{body: `{"model":" p1 ","stream":true}`, preset: "p1", after: `{"model":" p1 ","stream":true,"stream_options":{"include_usage":true}}`},
		{body: `{"model":"p1","stream":true,"stream_options":{"include_usage":false}}`, preset: "p1",
			after: `{"model":"p1","stream":true,"stream_options":{"include_usage":false}}`},
		{body: `{"model":"p1","stream":false}`, preset: "p1", after: `{"model":"p1","stream":false}`},
		{body: `{"model":"p1","stream":true,"stream_options":7}`, preset: "p1", after: `{"model":"p1","stream":true,"stream_options":7}`},
		{body: `{"model":""}`, refused: true},
		{body: `{"model":1}`, refused: true},
		{body: `[]`, refused: true},
		{body: `null`, refused: true},
		{body: ``, refused: true},
	}
	for _, tt := range tests {
		body, preset, err := decodeBody([]byte(tt.body))
		if tt.refused {
			if e, ok := err.(*Error); !ok || e.Status != 400 {
				t.Errorf("%s: err %v, want a 400 refusal", tt.body, err)
			}
			continue
		}
		if err != nil || preset != tt.preset {
			t.Fatalf("%s: %q %v", tt.body, preset, err)
		}
		includeStreamUsage(body)
		if b, _ := json.Marshal(body); string(b) != tt.after {
			t.Errorf("%s: became %s, want %s", tt.body, b, tt.after)
		}
	}
}

func TestUpstreamURL(t *testing.T) {
	tests := []struct {
		base string
		wire llm.API
		want string
	}{
		{"https://api.openai.com/v1/", llm.OpenAIChat, "https://api.openai.com/v1/chat/completions"},
		{"https://api.anthropic.com", llm.Anthropic, "https://api.anthropic.com/v1/messages"},
		{"http://127.0.0.1:9/v1", llm.Anthropic, "http://127.0.0.1:9/v1/messages"},
	}
	for _, tt := range tests {
		if got, err := upstreamURL(tt.base, tt.wire); err != nil || got != tt.want {
			t.Errorf("upstreamURL(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
	if _, err := upstreamURL("file:///etc/passwd", llm.OpenAIChat); err == nil {
		t.Error("a file URL was accepted")
	}
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"model":"m","stream":true}`, `{"model":"m","stream_options":{}}`, `{}`, `{"model":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		body, preset, err := decodeBody(raw)
		if err != nil {
			return
		}
		if preset == "" {
			t.Fatal("accepted without a model")
		}
		includeStreamUsage(body)
		if _, err := json.Marshal(body); err != nil {
			t.Fatalf("the rewritten body does not encode: %v", err)
		}
	})
}
