package llm

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMeterGolden(t *testing.T) {
	tests := []struct {
		name, api, file, contentType string
		want                         Usage
		complete                     bool
	}{
		{"chat stream with tool call and cached prompt", "openai-completions", "chat_stream.sse", "text/event-stream",
			Usage{InputTokens: 243, OutputTokens: 18, CacheReadTokens: 1280}, true},
		{"chat whole body", "openai-completions", "chat.json", "application/json",
			Usage{InputTokens: 1117, OutputTokens: 46}, true},
		{"responses stream", "openai-responses", "responses_stream.sse", "text/event-stream; charset=utf-8",
			Usage{InputTokens: 262, OutputTokens: 31, CacheReadTokens: 2048}, true},
		{"responses whole body with reasoning tokens", "openai-responses", "responses.json", "application/json",
			Usage{InputTokens: 328, OutputTokens: 452}, true},
		{"anthropic stream with cache write and read", "anthropic-messages", "anthropic_stream.sse", "text/event-stream",
			Usage{InputTokens: 472, OutputTokens: 89, CacheReadTokens: 10240, CacheWriteTokens: 1904}, true},
		{"anthropic whole body", "anthropic-messages", "anthropic.json", "application/json",
			Usage{InputTokens: 12, OutputTokens: 6, CacheReadTokens: 2006}, true},
		{"anthropic stream ended by an error event", "anthropic-messages", "anthropic_stream_error.sse", "text/event-stream",
			Usage{InputTokens: 25, OutputTokens: 1}, false},
		{"gemini sse stream with CRLF, cache and thoughts", "google-generative-ai", "gemini_stream.sse", "text/event-stream",
			Usage{InputTokens: 1458, OutputTokens: 129, CacheReadTokens: 8192}, true},
		{"gemini whole body with thoughts", "google-generative-ai", "gemini.json", "application/json; charset=UTF-8",
			Usage{InputTokens: 8, OutputTokens: 575}, true},
		{"gemini stream as a JSON array", "google-generative-ai", "gemini_stream_array.json", "application/json",
			Usage{InputTokens: 40, OutputTokens: 3}, true},
		{"content type unknown: detected from the first byte", "anthropic-messages", "anthropic_stream.sse", "",
			Usage{InputTokens: 472, OutputTokens: 89, CacheReadTokens: 10240, CacheWriteTokens: 1904}, true},
		{"mistral shape meters as chat", "mistral-conversations", "chat.json", "",
			Usage{InputTokens: 1117, OutputTokens: 46}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "meter", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := MeterResponse(tt.api, tt.contentType, bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("MeterResponse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("usage = %+v, want %+v", got, tt.want)
			}
			// Every split of the body gives the same answer: byte by byte, and through Wrap.
			m, _ := NewMeter(tt.api)
			m.SetContentType(tt.contentType)
			for i := range raw {
				_, _ = m.Write(raw[i : i+1])
			}
			_ = m.Close()
			if m.Usage() != tt.want || m.Complete() != tt.complete {
				t.Fatalf("byte by byte: usage %+v complete %v, want %+v %v", m.Usage(), m.Complete(), tt.want, tt.complete)
			}
			m2, _ := NewMeter(tt.api)
			m2.SetContentType(tt.contentType)
			body := m2.Wrap(io.NopCloser(bytes.NewReader(raw)))
			copied, _ := io.ReadAll(body)
			_ = body.Close()
			if !bytes.Equal(copied, raw) {
				t.Fatal("Wrap altered the body")
			}
			if m2.Usage() != tt.want {
				t.Fatalf("through Wrap: usage %+v, want %+v", m2.Usage(), tt.want)
			}
		})
	}
}

func TestMeterPartialStream(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "meter", "anthropic_stream.sse"))
	if err != nil {
		t.Fatal(err)
	}
	// The connection is cut in the middle of the stream: the input is known, the stream is not complete.
	cutAt := bytes.Index(raw, []byte("event: content_block_stop"))
	m, _ := NewMeter("anthropic-messages")
	_, _ = m.Write(raw[:cutAt])
	_ = m.Close()
	want := Usage{InputTokens: 472, OutputTokens: 2, CacheReadTokens: 10240, CacheWriteTokens: 1904}
	if m.Usage() != want || m.Complete() {
		t.Fatalf("usage %+v complete %v, want %+v and incomplete", m.Usage(), m.Complete(), want)
	}
}

func TestMeterTolerance(t *testing.T) {
	tests := []struct {
		name, api, body string
		want            Usage
	}{
		{"broken events are skipped", "openai-completions",
			"data: {not json\n\ndata: {\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n",
			Usage{InputTokens: 10, OutputTokens: 2}},
		{"negative and fractional counts are clamped", "openai-completions",
			`{"usage":{"prompt_tokens":-5,"completion_tokens":2.9,"prompt_tokens_details":{"cached_tokens":7}}}`,
			Usage{OutputTokens: 2}},
		{"cached larger than prompt never goes negative", "openai-responses",
			`{"usage":{"input_tokens":3,"output_tokens":1,"input_tokens_details":{"cached_tokens":9}}}`,
			Usage{OutputTokens: 1, CacheReadTokens: 3}},
		{"huge counts are bounded", "google-generative-ai",
			`{"usageMetadata":{"promptTokenCount":1e300,"candidatesTokenCount":"12"}}`,
			Usage{InputTokens: maxCount, OutputTokens: 12}},
		{"usage of the wrong type reads as zero", "anthropic-messages",
			`{"usage":{"input_tokens":"x","output_tokens":[1]}}`, Usage{}},
		{"anthropic message_delta repeating input counts", "anthropic-messages",
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":6,\"output_tokens\":9,\"cache_read_input_tokens\":4}}\n\n",
			Usage{InputTokens: 6, OutputTokens: 9, CacheReadTokens: 4}},
		{"responses usage only counts on a terminal event", "openai-responses",
			"event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"response\":{\"usage\":{\"input_tokens\":99}}}\n\n",
			Usage{}},
		{"error body has no usage", "anthropic-messages",
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, Usage{}},
		{"leading whitespace before JSON", "openai-completions", "\n\n  {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}",
			Usage{InputTokens: 1, OutputTokens: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MeterResponse(tt.api, "", strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("MeterResponse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("usage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMeterErrors(t *testing.T) {
	if _, err := NewMeter("cohere-chat"); err == nil {
		t.Fatal("unknown API accepted")
	}
	if _, err := MeterResponse("openai-completions", "application/json", strings.NewReader(`{"usage":`)); err == nil {
		t.Fatal("truncated JSON body accepted")
	}
	// Writes after Close are ignored, Close twice is fine.
	m, _ := NewMeter("openai-completions")
	_, _ = m.Write([]byte(`{"usage":{"prompt_tokens":1}}`))
	_ = m.Close()
	_ = m.Close()
	if n, err := m.Write([]byte("garbage")); n != 7 || err != nil {
		t.Fatalf("Write after Close = %d, %v", n, err)
	}
	if m.Usage().InputTokens != 1 {
		t.Fatalf("usage %+v", m.Usage())
	}
}

func TestCost(t *testing.T) {
	sonnet := Pricing{InputPerMTok: 3, OutputPerMTok: 15, CacheReadPerMTok: 0.3, CacheWritePerMTok: 3.75}
	tests := []struct {
		name  string
		usage Usage
		price Pricing
		want  float64
	}{
		{"no usage costs nothing", Usage{}, sonnet, 0},
		{"no pricing costs nothing", Usage{InputTokens: 1000, OutputTokens: 1000}, Pricing{}, 0},
		{"one million input tokens", Usage{InputTokens: 1_000_000}, sonnet, 3},
		{"every category", Usage{InputTokens: 472, OutputTokens: 89, CacheReadTokens: 10240, CacheWriteTokens: 1904},
			sonnet, (472*3 + 89*15 + 10240*0.3 + 1904*3.75) / 1e6},
		{"negative counts and prices count as zero", Usage{InputTokens: -5, OutputTokens: 10},
			Pricing{InputPerMTok: 3, OutputPerMTok: -1}, 0},
		{"NaN price counts as zero", Usage{InputTokens: 10}, Pricing{InputPerMTok: math.NaN()}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Cost(tt.usage, tt.price)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("Cost = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUsageHelpers(t *testing.T) {
	a := Usage{InputTokens: 1, OutputTokens: 2, CacheReadTokens: 3, CacheWriteTokens: 4}
	if got := a.Add(a); got != (Usage{2, 4, 6, 8}) || got.Total() != 20 || a.IsZero() || !(Usage{}).IsZero() {
		t.Fatalf("Add/Total/IsZero wrong: %+v", got)
	}
}
