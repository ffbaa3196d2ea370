package llmtest

import (
	"net/http"
	"strings"
	"time"
)

// API names, as in package llm (the runtime's MODEL_API values).
const (
	OpenAIChat      = "openai-completions"
	OpenAIResponses = "openai-responses"
	Anthropic       = "anthropic-messages"
	Gemini          = "google-generative-ai"
)

// APIs lists the four wire formats served.
var APIs = []string{OpenAIChat, OpenAIResponses, Anthropic, Gemini}

// RunHeader is the request header that identifies a conversation (optional).
const RunHeader = "X-Run-Id"

// Script is a programmed conversation.
type Script struct {
	Turns []Turn
	// APIKey is the key requests must carry (Authorization Bearer, x-api-key, x-goog-api-key or ?key=); ""
	// accepts any key or none. A request with another key gets the API's 401.
	APIKey string
	// Match selects this script, among several, for conversations whose system prompt or first user message
	// contains it. "" matches everything (a fallback).
	Match string
}

// Turn is one answer of the model.
type Turn struct {
	Text      string
	Thinking  string // reasoning text, sent before the answer
	ToolCalls []ToolCall
	// Usage is reported for this turn; zero reports DefaultUsage.
	Usage Usage
	// StopReason overrides the stop reason: "max_tokens" or "content_filter" (default: end of turn, or tool
	// use when the turn calls tools).
	StopReason string
	// Fault, when set, is answered instead of the turn (Fault.Times times per conversation).
	Fault *Fault
	// Delay waits before answering; EventDelay waits between the events of a stream. Both end early when the
	// client goes away.
	Delay      time.Duration
	EventDelay time.Duration
	// Reply, when set, computes the turn from the request (Reply's own Reply and Fault are ignored).
	Reply func(Request) Turn
}

// ToolCall is a tool call the model makes. ID defaults to "call_<turn>_<i>" ("toolu_…" for Anthropic; Gemini
// sends none, as the real API often does, unless one is set).
type ToolCall struct {
	ID   string
	Name string
	Args string // JSON object text; "" sends {}
}

// Usage is what a turn reports, in llm.Usage's terms: InputTokens excludes the cached categories (each wire gets
// them in its own convention, e.g. OpenAI's prompt_tokens = input + cache read + cache write). Wires without a cache-write count (Responses, Gemini) report those tokens as
// plain input; Chat Completions reports them in prompt_tokens_details.cache_write_tokens.
type Usage struct {
	InputTokens      int
	OutputTokens     int
	CacheReadTokens  int
	CacheWriteTokens int
}

// DefaultUsage is reported by turns that set none.
var DefaultUsage = Usage{InputTokens: 100, OutputTokens: 20}

// Fault is an injected failure.
type Fault struct {
	// Status answers this HTTP status with the API's error body (and Type, Message, RetryAfter).
	Status     int
	Type       string // error type or code in the body (default by status)
	Message    string // default "llmtest: injected fault"
	RetryAfter string // Retry-After header value
	// Malformed answers 200 with a body that is not valid JSON (streams: a broken event after the first).
	Malformed bool
	// Disconnect cuts the connection after AfterEvents events of a stream (a non-streamed answer: after
	// half of its body).
	Disconnect  bool
	AfterEvents int
	// StreamError sends the API's error event inside a 200 stream after AfterEvents events (Type defaults to
	// overloaded_error). A non-streamed request gets Status (default 529) instead.
	StreamError bool
	// Times is how many requests at this position get the fault before the turn answers normally (default 1;
	// negative: always).
	Times int
}

// Message is one message of a received conversation, in a shape common to the four wires.
type Message struct {
	Role        string // "user", "assistant" (tool results are user messages)
	Text        string // text parts joined with "\n"
	Thinking    string
	ToolCalls   []ToolCall
	ToolResults []ToolResult
	Images      int
}

// ToolResult is a tool result sent back to the model.
type ToolResult struct {
	CallID  string // empty when the wire carries none (Gemini)
	Name    string // Gemini only
	Content string
	IsError bool
}

// Request is one request received, decoded.
type Request struct {
	API    string
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	// APIKey is the key the request carried (the header of its API).
	APIKey string
	// RunID is the X-Run-Id header; Conversation the identity used (RunID, or a hash of the prompt).
	RunID        string
	Conversation string
	Model        string
	Stream       bool
	System       string
	Messages     []Message
	Tools        []string // names of the tools declared
	MaxTokens    int
	// Turn is the script position answered (-1 when the request was refused before); Status the HTTP status
	// sent, and Fault whether an injected fault answered.
	Turn   int
	Status int
	Fault  bool

	includeUsage bool // Chat Completions: stream_options.include_usage
}

// Contains reports whether the raw body contains s (e.g. a checkpoint in the prompt, or a leaked secret).
func (r Request) Contains(s string) bool { return strings.Contains(string(r.Body), s) }

// FirstUserText is the text of the first user message.
func (r Request) FirstUserText() string {
	for _, m := range r.Messages {
		if m.Role == "user" && m.Text != "" {
			return m.Text
		}
	}
	return ""
}

// LastToolResults are the tool results of the last message.
func (r Request) LastToolResults() []ToolResult {
	if len(r.Messages) == 0 {
		return nil
	}
	return r.Messages[len(r.Messages)-1].ToolResults
}

// AssistantTurns counts the assistant turns of the conversation (runs of consecutive assistant messages).
func (r Request) AssistantTurns() int {
	n, prev := 0, ""
	for _, m := range r.Messages {
		if m.Role == "assistant" && prev != "assistant" {
			n++
		}
		prev = m.Role
	}
	return n
}

// Echo is a script for a developer mode without a model: each turn (up to 64 per conversation) answers a short
// text quoting the last user text.
func Echo() Script {
	reply := func(r Request) Turn {
		last := ""
		for _, m := range r.Messages {
			if m.Role == "user" && m.Text != "" {
				last = m.Text
			}
		}
		if runes := []rune(last); len(runes) > 200 {
			last = string(runes[:200]) + "…"
		}
		return Turn{Text: "(fake LLM) You said: " + last}
	}
	turns := make([]Turn, 64)
	for i := range turns {
		turns[i].Reply = reply
	}
	return Script{Turns: turns}
}
