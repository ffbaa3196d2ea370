package llm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// BenchmarkMeter measures the sidecar's per-response metering cost on a real-shaped stream.
func BenchmarkMeter(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "meter", "anthropic_stream.sse"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, _ := llm.NewMeter("anthropic-messages")
		for rest := raw; len(rest) > 0; {
			n := min(512, len(rest))
			_, _ = m.Write(rest[:n])
			rest = rest[n:]
		}
		_ = m.Close()
		if m.Usage().InputTokens != 472 {
			b.Fatal("wrong usage")
		}
	}
}

// BenchmarkStreamTurn measures one streamed tool-call turn per API against the fake, over loopback.
func BenchmarkStreamTurn(b *testing.B) {
	for _, api := range apis {
		b.Run(api, func(b *testing.B) {
			srv := llmtest.New(b, llmtest.Script{Turns: []llmtest.Turn{{Text: "Running it.",
				ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"echo hi"}`}}}}})
			srv.SetRecording(false)
			c, _ := llm.New(api, llm.Config{BaseURL: srv.BaseURL(api)})
			req := llm.Request{Model: "m", System: string(bytes.Repeat([]byte("prompt "), 1000)),
				Messages: []llm.Message{llm.UserText("go")}, Tools: []llm.ToolSpec{bashSpec}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Stream(context.Background(), req, func(llm.Event) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
