package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Config is what every client needs to reach its endpoint.
type Config struct {
	// BaseURL is the endpoint root; empty uses the provider's public one. The paths appended are
	// "/chat/completions" and "/responses" for OpenAI (so the base carries the version, e.g. ".../v1"),
	// "/v1/messages" for Anthropic and "/v1beta/models/…" for Gemini (a base already ending in the version
	// segment is not given it twice). A sidecar base such as "http://127.0.0.1:PORT/llm" works for all four.
	BaseURL string
	// APIKey is sent the provider's way (Authorization Bearer, x-api-key, x-goog-api-key). Behind the sidecar it
	// is the run's placeholder. Empty sends no key (local endpoints).
	APIKey string
	// HTTPClient defaults to a client without a timeout: deadlines come from the context.
	HTTPClient *http.Client
	// Header is added to every request (e.g. an X-Run-Id, or the llmtest conversation header).
	Header http.Header
	// MaxTokensField names the output cap in OpenAI Chat Completions requests: "max_tokens" (default, what
	// compatible servers accept) or "max_completion_tokens" (required by OpenAI's reasoning models).
	MaxTokensField string
}

// Default public endpoints.
const (
	DefaultOpenAIBaseURL    = "https://api.openai.com/v1"
	DefaultAnthropicBaseURL = "https://api.anthropic.com"
	DefaultGeminiBaseURL    = "https://generativelanguage.googleapis.com"
)

// New returns the client of the given API shape (see ParseAPI for the accepted names).
func New(api string, cfg Config) (Client, error) {
	a, err := ParseAPI(api)
	if err != nil {
		return nil, err
	}
	switch a {
	case OpenAIChat:
		return NewOpenAIChat(cfg), nil
	case OpenAIResponses:
		return NewOpenAIResponses(cfg), nil
	case Anthropic:
		return NewAnthropic(cfg), nil
	default:
		return NewGemini(cfg), nil
	}
}

// maxResponseBody bounds a non-streamed response body.
const maxResponseBody = 64 << 20

func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

func (c Config) base(def string) string {
	b := strings.TrimRight(c.BaseURL, "/")
	if b == "" {
		b = def
	}
	return b
}

// withVersion appends "/"+version to base unless base already ends with a version segment.
func withVersion(base, version string) string {
	last := base[strings.LastIndexByte(base, '/')+1:]
	if last == version || last == "v1" || last == "v1beta" || last == "v1alpha" {
		return base
	}
	return base + "/" + version
}

// post sends a JSON body and returns the response when its status is 2xx; otherwise the *APIError built from
// it. Transport failures come back as network errors (or the context's error).
func (c Config) post(ctx context.Context, url string, body any, headers map[string]string, stream bool) (*http.Response, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("llm: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("llm: build request: %w", err)
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("llm: request: %w", ctxErr)
		}
		return nil, &networkError{err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, apiErrorFromResponse(resp)
	}
	return resp, nil
}

// readJSON decodes a whole (bounded) response body into v.
func readJSON(ctx context.Context, resp *http.Response, v any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return readError(ctx, err)
	}
	if len(body) > maxResponseBody {
		return fmt.Errorf("%w: body larger than %d bytes", ErrBadResponse, maxResponseBody)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return nil
}

// streamSSE reads an event stream response, calling handle for each event, until handle returns done=true
// (the terminal event) or the stream ends. It reports whether the terminal event was seen: callers decide
// whether a stream without one is complete enough.
func streamSSE(ctx context.Context, resp *http.Response, handle func(sseEvent) (done bool, err error)) (bool, error) {
	defer resp.Body.Close()
	finished := false
	err := readSSE(ctx, resp.Body, func(ev sseEvent) error {
		done, err := handle(ev)
		if err != nil {
			return err
		}
		if done {
			finished = true
			return errStopStream
		}
		return nil
	})
	if errors.Is(err, errStopStream) {
		return true, nil
	}
	return finished, err
}

// errStopStream ends readSSE early once the terminal event arrived.
var errStopStream = errors.New("llm: stream finished")

// isJSON reports whether a response announced a JSON body.
func isJSON(resp *http.Response) bool {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	return strings.HasPrefix(ct, "application/json") || strings.Contains(ct, "+json")
}

// replay emits the events of an answer that arrived whole.
func replay(r *Response, fn func(Event) error) error {
	if fn == nil {
		return nil
	}
	idx := 0
	for _, p := range r.Message.Parts {
		var err error
		switch p.Type {
		case PartText:
			if p.Text != "" {
				err = fn(Event{Type: EventTextDelta, Text: p.Text})
			}
		case PartThinking:
			if p.Text != "" {
				err = fn(Event{Type: EventThinkingDelta, Text: p.Text})
			}
		case PartToolCall:
			tc := p.ToolCall
			if err = fn(Event{Type: EventToolCallStart, Index: idx, ToolCallID: tc.ID, ToolName: tc.Name}); err == nil {
				err = fn(Event{Type: EventToolCallDelta, Index: idx, Text: tc.Arguments})
			}
			idx++
		}
		if err != nil {
			return err
		}
	}
	return fn(Event{Type: EventUsage, Usage: r.Usage})
}

// decodeEvent unmarshals an event's JSON data.
func decodeEvent(ev sseEvent, v any) error {
	if err := json.Unmarshal([]byte(ev.Data), v); err != nil {
		return fmt.Errorf("%w: event %q: %v", ErrBadResponse, ev.Event, err)
	}
	return nil
}

// schemaOrObject returns the tool's schema, or an empty object schema.
func schemaOrObject(s json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(s)) == 0 {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return s
}

// argsObject returns tool-call arguments as a JSON object for the wires that want one (Anthropic, Gemini):
// invalid or non-object arguments become {}.
func argsObject(args string) json.RawMessage {
	b := bytes.TrimSpace([]byte(args))
	if len(b) > 0 && b[0] == '{' && json.Valid(b) {
		return json.RawMessage(b)
	}
	return json.RawMessage(`{}`)
}

// normArgs turns an empty arguments string into "{}".
func normArgs(s string) string {
	if strings.TrimSpace(s) == "" {
		return "{}"
	}
	return s
}

// assembler builds the assistant message of a stream from deltas keyed by the provider's block index.
type assembler struct {
	parts []Part
	byKey map[string]int // key -> index in parts
	calls int            // tool calls seen (their Event.Index)
	args  map[int]*strings.Builder
	fn    func(Event) error
}

func newAssembler(fn func(Event) error) *assembler {
	return &assembler{byKey: map[string]int{}, args: map[int]*strings.Builder{}, fn: fn}
}

func (a *assembler) emit(ev Event) error {
	if a.fn == nil {
		return nil
	}
	return a.fn(ev)
}

// text appends a text (or thinking) delta to the part under key.
func (a *assembler) text(key string, typ PartType, delta string) error {
	if delta == "" {
		return nil
	}
	i, ok := a.byKey[key]
	if !ok || a.parts[i].Type != typ {
		a.parts = append(a.parts, Part{Type: typ})
		i = len(a.parts) - 1
		a.byKey[key] = i
	}
	a.parts[i].Text += delta
	et := EventTextDelta
	if typ == PartThinking {
		et = EventThinkingDelta
	}
	return a.emit(Event{Type: et, Text: delta})
}

// signature sets the signature of the part under key (creating a thinking part if needed).
func (a *assembler) signature(key string, typ PartType, sig string) {
	i, ok := a.byKey[key]
	if !ok {
		a.parts = append(a.parts, Part{Type: typ})
		i = len(a.parts) - 1
		a.byKey[key] = i
	}
	a.parts[i].Signature += sig
}

// setSignature replaces the signature of the part under key, if there is one.
func (a *assembler) setSignature(key, sig string) {
	if i, ok := a.byKey[key]; ok {
		a.parts[i].Signature = sig
	}
}

// startCall opens a tool call under key.
func (a *assembler) startCall(key, id, name string) error {
	if _, ok := a.byKey[key]; ok {
		return nil
	}
	idx := a.calls
	a.calls++
	a.parts = append(a.parts, Part{Type: PartToolCall, ToolCall: &ToolCall{ID: id, Name: name}})
	a.byKey[key] = len(a.parts) - 1
	a.args[len(a.parts)-1] = &strings.Builder{}
	return a.emit(Event{Type: EventToolCallStart, Index: idx, ToolCallID: id, ToolName: name})
}

// callIndex is the Event.Index of the tool call under key.
func (a *assembler) callIndex(key string) int {
	pi := a.byKey[key]
	n := 0
	for i := 0; i < pi; i++ {
		if a.parts[i].Type == PartToolCall {
			n++
		}
	}
	return n
}

// callArgs appends an arguments fragment to the tool call under key.
func (a *assembler) callArgs(key, delta string) error {
	pi, ok := a.byKey[key]
	if !ok || a.parts[pi].Type != PartToolCall || delta == "" {
		return nil
	}
	a.args[pi].WriteString(delta)
	return a.emit(Event{Type: EventToolCallDelta, Index: a.callIndex(key), Text: delta})
}

// setCall overwrites fields of the tool call under key with the final values a provider repeats at the end.
func (a *assembler) setCall(key, id, name, args string) {
	pi, ok := a.byKey[key]
	if !ok || a.parts[pi].Type != PartToolCall {
		return
	}
	tc := a.parts[pi].ToolCall
	if id != "" {
		tc.ID = id
	}
	if name != "" {
		tc.Name = name
	}
	if args != "" {
		a.args[pi].Reset()
		a.args[pi].WriteString(args)
	}
}

func (a *assembler) hasKey(key string) bool { _, ok := a.byKey[key]; return ok }

// message returns the assembled assistant message.
func (a *assembler) message() Message {
	for i := range a.parts {
		if a.parts[i].Type == PartToolCall {
			a.parts[i].ToolCall.Arguments = normArgs(a.args[i].String())
		}
	}
	return Message{Role: RoleAssistant, Parts: a.parts}
}

// hasToolCalls reports whether m calls a tool.
func hasToolCalls(m Message) bool {
	for _, p := range m.Parts {
		if p.Type == PartToolCall {
			return true
		}
	}
	return false
}

// clamp keeps token counts non-negative.
func clamp(n int64) int64 {
	if n < 0 {
		return 0
	}
	return n
}
