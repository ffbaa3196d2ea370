package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// API names a wire format. The values are the runtime's MODEL_API shape names.
type API string

// The wire formats this package speaks.
const (
	OpenAIChat      API = "openai-completions"   // POST {base}/chat/completions
	OpenAIResponses API = "openai-responses"     // POST {base}/responses
	Anthropic       API = "anthropic-messages"   // POST {base}/v1/messages
	Gemini          API = "google-generative-ai" // POST {base}/v1beta/models/{model}:generateContent
)

// apiAliases maps the other shape names the platform knows to the wire format they speak.
var apiAliases = map[string]API{
	"openai-completions":     OpenAIChat,
	"openai-chat":            OpenAIChat,
	"mistral-conversations":  OpenAIChat,
	"openai-responses":       OpenAIResponses,
	"openai-codex-responses": OpenAIResponses,
	"azure-openai-responses": OpenAIResponses,
	"anthropic-messages":     Anthropic,
	"google-generative-ai":   Gemini,
}

// ParseAPI resolves an API shape name (MODEL_API values and a few aliases) to the wire format it speaks.
func ParseAPI(name string) (API, error) {
	if api, ok := apiAliases[strings.ToLower(strings.TrimSpace(name))]; ok {
		return api, nil
	}
	return "", fmt.Errorf("llm: unsupported API %q", name)
}

// Role is who authored a message.
type Role string

// Roles. Tool results travel in user messages (as Anthropic does); clients move them where their wire wants them.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// PartType is the kind of a message part.
type PartType string

// Part types.
const (
	PartText       PartType = "text"
	PartImage      PartType = "image"
	PartThinking   PartType = "thinking"
	PartToolCall   PartType = "tool_call"
	PartToolResult PartType = "tool_result"
)

// Part is one piece of a message. Which fields are meaningful depends on Type.
type Part struct {
	Type PartType `json:"type"`
	// Text is the text of a text or thinking part.
	Text string `json:"text,omitempty"`
	// Signature is an opaque provider token that must be sent back with the part in later turns (Anthropic
	// thinking signatures, Gemini thought signatures). Clients of other providers ignore it.
	Signature string `json:"signature,omitempty"`
	// MediaType and Data hold an image (e.g. "image/png" and the raw bytes).
	MediaType string `json:"mediaType,omitempty"`
	Data      []byte `json:"data,omitempty"`
	// ToolCall is set on tool_call parts (assistant messages).
	ToolCall *ToolCall `json:"toolCall,omitempty"`
	// ToolResult is set on tool_result parts (user messages).
	ToolResult *ToolResult `json:"toolResult,omitempty"`
}

// ToolCall is the model asking to run a tool.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Arguments is the JSON text the model produced, as is ("{}" when it gave none). It may be invalid JSON:
	// validating it is the caller's business.
	Arguments string `json:"arguments"`
}

// ToolResult answers a ToolCall.
type ToolResult struct {
	CallID  string `json:"callId"`
	Name    string `json:"name"` // the tool's name (Gemini matches results by name)
	Content string `json:"content"`
	IsError bool   `json:"isError,omitempty"`
}

// Message is one turn of the conversation.
type Message struct {
	Role  Role   `json:"role"`
	Parts []Part `json:"parts"`
}

// TextPart returns a text part.
func TextPart(text string) Part { return Part{Type: PartText, Text: text} }

// ImagePart returns an image part.
func ImagePart(mediaType string, data []byte) Part {
	return Part{Type: PartImage, MediaType: mediaType, Data: data}
}

// ToolCallPart returns a tool_call part.
func ToolCallPart(id, name, arguments string) Part {
	return Part{Type: PartToolCall, ToolCall: &ToolCall{ID: id, Name: name, Arguments: arguments}}
}

// ToolResultPart returns a tool_result part.
func ToolResultPart(callID, name, content string, isError bool) Part {
	return Part{Type: PartToolResult, ToolResult: &ToolResult{CallID: callID, Name: name, Content: content, IsError: isError}}
}

// UserText returns a user message holding one text part.
func UserText(text string) Message { return Message{Role: RoleUser, Parts: []Part{TextPart(text)}} }

// Text concatenates the message's text parts.
func (m Message) Text() string {
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Type == PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// Thinking concatenates the message's thinking parts.
func (m Message) Thinking() string {
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Type == PartThinking {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// ToolCalls lists the message's tool calls in order.
func (m Message) ToolCalls() []ToolCall {
	var calls []ToolCall
	for _, p := range m.Parts {
		if p.Type == PartToolCall && p.ToolCall != nil {
			calls = append(calls, *p.ToolCall)
		}
	}
	return calls
}

// ToolSpec declares a tool the model may call.
type ToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema,omitempty"` // a JSON Schema object; empty means {"type":"object"}
}

// Tool choice values for Request.ToolChoice. Any other non-empty value forces the tool of that name.
const (
	ToolChoiceAuto     = "auto"
	ToolChoiceNone     = "none"
	ToolChoiceRequired = "required"
)

// Request is one call to the model.
type Request struct {
	Model    string
	System   string
	Messages []Message
	Tools    []ToolSpec
	// ToolChoice is "" or "auto" (the model decides), "none", "required" (some tool), or a tool name.
	ToolChoice string
	// MaxTokens caps the output; 0 leaves the provider's default (Anthropic requires one: 4096 is sent).
	MaxTokens     int
	Temperature   *float64
	StopSequences []string
	// PromptCaching marks the system prompt and the last message as cache breakpoints where the wire supports
	// explicit ones (Anthropic). Other providers cache automatically.
	PromptCaching bool
}

// StopReason is why the model stopped, normalized across providers.
type StopReason string

// Stop reasons.
const (
	StopEndTurn       StopReason = "end_turn"
	StopToolUse       StopReason = "tool_use"
	StopMaxTokens     StopReason = "max_tokens"
	StopSequence      StopReason = "stop_sequence"
	StopContentFilter StopReason = "content_filter"
	StopOther         StopReason = "other"
)

// Usage counts tokens. InputTokens excludes cached input: the four categories are disjoint and each is priced
// on its own (Anthropic's convention; OpenAI and Gemini report cached tokens inside the prompt count and are
// converted). Output includes reasoning tokens.
type Usage struct {
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheReadTokens  int64 `json:"cache_read_input_tokens"`
	CacheWriteTokens int64 `json:"cache_creation_input_tokens"`
}

// Add returns the sum of two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		InputTokens:      u.InputTokens + o.InputTokens,
		OutputTokens:     u.OutputTokens + o.OutputTokens,
		CacheReadTokens:  u.CacheReadTokens + o.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens + o.CacheWriteTokens,
	}
}

// Total is the number of tokens of every category.
func (u Usage) Total() int64 {
	return u.InputTokens + u.OutputTokens + u.CacheReadTokens + u.CacheWriteTokens
}

// IsZero reports whether no token was counted.
func (u Usage) IsZero() bool { return u == Usage{} }

// Response is the model's answer.
type Response struct {
	ID      string
	Model   string
	Message Message // role assistant
	// StopReason is normalized; RawStopReason is what the provider said.
	StopReason    StopReason
	RawStopReason string
	Usage         Usage
}

// EventType is the kind of a streaming event.
type EventType string

// Streaming event types.
const (
	EventTextDelta     EventType = "text_delta"      // Text holds the new text
	EventThinkingDelta EventType = "thinking_delta"  // Text holds the new reasoning text
	EventToolCallStart EventType = "tool_call_start" // Index, ToolCallID and ToolName are known
	EventToolCallDelta EventType = "tool_call_delta" // Text holds a fragment of the arguments JSON
	EventUsage         EventType = "usage"           // Usage holds the totals so far
)

// Event is one increment of a streamed response.
type Event struct {
	Type EventType
	// Index numbers the tool calls of the response from 0 (tool call events only).
	Index      int
	ToolCallID string
	ToolName   string
	Text       string
	Usage      Usage
}

// Client is a model endpoint. Implementations are safe for concurrent use.
type Client interface {
	// Complete sends the request and waits for the whole answer.
	Complete(ctx context.Context, req Request) (*Response, error)
	// Stream sends the request with streaming on, calls fn (which may be nil) for each increment, and returns the
	// assembled answer. An error returned by fn aborts the stream and is returned as is. A stream cut before its
	// final event fails with ErrIncomplete.
	Stream(ctx context.Context, req Request, fn func(Event) error) (*Response, error)
}
