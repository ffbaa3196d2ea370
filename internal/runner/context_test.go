package runner

import (
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm"
)

func TestFitContext(t *testing.T) {
	big := strings.Repeat("é", 3500) // 7000 bytes: 2000 estimated tokens
	conversation := func() *llm.Request {
		return &llm.Request{System: "sys", Messages: []llm.Message{
			llm.UserText("go"),
			{Role: llm.RoleAssistant, Parts: []llm.Part{llm.ToolCallPart("c1", "bash", "{}"), llm.ToolCallPart("c2", "bash", "{}")}},
			{Role: llm.RoleUser, Parts: []llm.Part{llm.ToolResultPart("c1", "bash", big, false), llm.ToolResultPart("c2", "bash", "short", false)}},
			{Role: llm.RoleAssistant, Parts: []llm.Part{llm.ToolCallPart("c3", "bash", "{}")}},
			{Role: llm.RoleUser, Parts: []llm.Part{llm.ToolResultPart("c3", "bash", big, false)}},
		}}
	}
	tests := []struct {
		name              string
		window, maxTokens int
		shortened         int
		// cut says which results (c1, c3) must be cut.
		cutOld, cutLatest bool
	}{
		{name: "no window", window: 0, maxTokens: 0},
		{name: "within the budget", window: 10000, maxTokens: 1000},
		{name: "old results first", window: 5000, maxTokens: 1000, shortened: 1, cutOld: true},
		{name: "the latest too when needed", window: 2000, maxTokens: 1000, shortened: 2, cutOld: true, cutLatest: true},
		{name: "max tokens above the window", window: 1000, maxTokens: 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := conversation()
			if n := fitContext(req, tt.window, tt.maxTokens); n != tt.shortened {
				t.Fatalf("shortened %d, want %d", n, tt.shortened)
			}
			check := func(content string, cut bool) {
				t.Helper()
				if !cut {
					if content != big {
						t.Fatalf("result cut: %.80q", content)
					}
					return
				}
				if !strings.HasPrefix(content, big[:keptResultBytes]) ||
					!strings.HasSuffix(content, "\n[… 5976 more bytes of this tool result were cut to fit the model's context window; run the tool again for the rest]") {
					t.Fatalf("cut result %q", content)
				}
			}
			check(req.Messages[2].Parts[0].ToolResult.Content, tt.cutOld)
			check(req.Messages[4].Parts[0].ToolResult.Content, tt.cutLatest)
			if req.Messages[2].Parts[1].ToolResult.Content != "short" {
				t.Fatal("a short result was cut")
			}
			// Shortening again changes nothing.
			if tt.shortened > 0 {
				if n := fitContext(req, tt.window, tt.maxTokens); n != 0 {
					t.Fatalf("shortened %d results a second time", n)
				}
			}
		})
	}
}

func TestEstimateTokens(t *testing.T) {
	req := llm.Request{System: strings.Repeat("s", 35), Messages: []llm.Message{
		llm.UserText(strings.Repeat("u", 70)),
		{Role: llm.RoleUser, Parts: []llm.Part{llm.ImagePart("image/png", make([]byte, 100000))}},
	}, Tools: []llm.ToolSpec{{Name: "n", Description: strings.Repeat("d", 33), InputSchema: []byte("{}")}}}
	// (35 + 70 + 1 + 33 + 2) / 3.5 = 40.3 → 41, and one image.
	if got := estimateTokens(req); got != 41+imageTokens {
		t.Fatalf("estimate %d", got)
	}
}
