package llm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// OpenAIChatClient speaks OpenAI Chat Completions (POST {base}/chat/completions), the format most compatible
// and local servers implement. Thinking parts are not sent back; reasoning streamed as reasoning_content or
// reasoning (DeepSeek, vLLM, OpenRouter, Ollama) comes out as thinking.
type OpenAIChatClient struct{ cfg Config }

// NewOpenAIChat returns a Chat Completions client.
func NewOpenAIChat(cfg Config) *OpenAIChatClient { return &OpenAIChatClient{cfg: cfg} }

type chatContentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url,omitempty"`
}

type chatFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type chatToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function chatFunction `json:"function"`
}

type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

func (c *OpenAIChatClient) body(req Request, stream bool) map[string]any {
	var msgs []chatMessage
	if req.System != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: req.System})
	}
	for _, m := range req.Messages {
		msgs = append(msgs, chatMessages(m)...)
	}
	body := map[string]any{"model": req.Model, "messages": msgs}
	if len(req.Tools) > 0 {
		tools := make([]chatTool, len(req.Tools))
		for i, t := range req.Tools {
			tools[i].Type = "function"
			tools[i].Function.Name = t.Name
			tools[i].Function.Description = t.Description
			tools[i].Function.Parameters = schemaOrObject(t.InputSchema)
		}
		body["tools"] = tools
		switch req.ToolChoice {
		case "":
		case ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired:
			body["tool_choice"] = req.ToolChoice
		default:
			body["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": req.ToolChoice}}
		}
	}
	if req.MaxTokens > 0 {
		field := c.cfg.MaxTokensField
		if field == "" {
			field = "max_tokens"
		}
		body[field] = req.MaxTokens
	}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if len(req.StopSequences) > 0 {
		body["stop"] = req.StopSequences
	}
	if stream {
		body["stream"] = true
		body["stream_options"] = map[string]bool{"include_usage": true}
	}
	return body
}

// chatMessages renders one neutral message: tool results become "tool" messages, the rest one user or
// assistant message.
func chatMessages(m Message) []chatMessage {
	var out []chatMessage
	if m.Role == RoleAssistant {
		am := chatMessage{Role: "assistant"}
		text := m.Text()
		if text != "" {
			am.Content = text
		}
		for _, tc := range m.ToolCalls() {
			am.ToolCalls = append(am.ToolCalls, chatToolCall{ID: tc.ID, Type: "function",
				Function: chatFunction{Name: tc.Name, Arguments: normArgs(tc.Arguments)}})
		}
		if am.Content == nil && len(am.ToolCalls) == 0 {
			am.Content = ""
		}
		return append(out, am)
	}
	var parts []chatContentPart
	hasImage := false
	for _, p := range m.Parts {
		switch p.Type {
		case PartToolResult:
			if p.ToolResult != nil {
				out = append(out, chatMessage{Role: "tool", ToolCallID: p.ToolResult.CallID, Content: p.ToolResult.Content})
			}
		case PartText:
			parts = append(parts, chatContentPart{Type: "text", Text: p.Text})
		case PartImage:
			hasImage = true
			cp := chatContentPart{Type: "image_url"}
			cp.ImageURL = &struct {
				URL string `json:"url"`
			}{URL: dataURL(p.MediaType, p.Data)}
			parts = append(parts, cp)
		}
	}
	switch {
	case len(parts) == 0:
	case hasImage:
		out = append(out, chatMessage{Role: "user", Content: parts})
	default:
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(p.Text)
		}
		out = append(out, chatMessage{Role: "user", Content: b.String()})
	}
	return out
}

func dataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

type chatRespMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	ReasoningContent string          `json:"reasoning_content"`
	Reasoning        string          `json:"reasoning"`
	Refusal          string          `json:"refusal"`
	ToolCalls        []chatToolCall  `json:"tool_calls"`
}

type chatResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int             `json:"index"`
		Message      chatRespMessage `json:"message"`
		Delta        chatRespMessage `json:"delta"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (c *OpenAIChatClient) url() string {
	return c.cfg.base(DefaultOpenAIBaseURL) + "/chat/completions"
}

func (c *OpenAIChatClient) headers() map[string]string {
	if c.cfg.APIKey == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + c.cfg.APIKey}
}

// Complete implements Client.
func (c *OpenAIChatClient) Complete(ctx context.Context, req Request) (*Response, error) {
	resp, err := c.cfg.post(ctx, c.url(), c.body(req, false), c.headers(), false)
	if err != nil {
		return nil, err
	}
	return c.decode(ctx, resp)
}

// decode reads a whole (non-streamed) response body.
func (c *OpenAIChatClient) decode(ctx context.Context, resp *http.Response) (*Response, error) {
	var cr chatResponse
	if err := readJSON(ctx, resp, &cr); err != nil {
		return nil, err
	}
	if e := streamError(cr.Error); e != nil {
		return nil, e
	}
	if len(cr.Choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", ErrBadResponse)
	}
	ch := cr.Choices[0]
	msg := Message{Role: RoleAssistant}
	if r := firstNonEmpty(ch.Message.ReasoningContent, ch.Message.Reasoning); r != "" {
		msg.Parts = append(msg.Parts, Part{Type: PartThinking, Text: r})
	}
	if t := firstNonEmpty(rawJSONString(ch.Message.Content), ch.Message.Refusal); t != "" {
		msg.Parts = append(msg.Parts, TextPart(t))
	}
	for i, tc := range ch.Message.ToolCalls {
		id := tc.ID
		if id == "" {
			id = "call_" + strconv.Itoa(i)
		}
		msg.Parts = append(msg.Parts, ToolCallPart(id, tc.Function.Name, normArgs(tc.Function.Arguments)))
	}
	raw := ""
	if ch.FinishReason != nil {
		raw = *ch.FinishReason
	}
	return &Response{ID: cr.ID, Model: cr.Model, Message: msg, RawStopReason: raw,
		StopReason: chatStopReason(raw, hasToolCalls(msg)), Usage: cr.Usage.usage()}, nil
}

// Stream implements Client.
func (c *OpenAIChatClient) Stream(ctx context.Context, req Request, fn func(Event) error) (*Response, error) {
	resp, err := c.cfg.post(ctx, c.url(), c.body(req, true), c.headers(), true)
	if err != nil {
		return nil, err
	}
	if isJSON(resp) {
		// The server ignored the stream flag (some compatible servers do): read the whole answer and replay it.
		out, err := c.decode(ctx, resp)
		if err != nil {
			return nil, err
		}
		if err := replay(out, fn); err != nil {
			return nil, err
		}
		return out, nil
	}
	asm := newAssembler(fn)
	out := &Response{}
	finish := ""
	sawFinish := false
	done, err := streamSSE(ctx, resp, func(ev sseEvent) (bool, error) {
		if strings.TrimSpace(ev.Data) == "[DONE]" {
			return true, nil
		}
		var chunk chatResponse
		if err := decodeEvent(ev, &chunk); err != nil {
			return false, err
		}
		if e := streamError(chunk.Error); e != nil {
			return false, e
		}
		if out.ID == "" {
			out.ID, out.Model = chunk.ID, chunk.Model
		}
		if chunk.Usage != nil {
			out.Usage = chunk.Usage.usage()
			if err := asm.emit(Event{Type: EventUsage, Usage: out.Usage}); err != nil {
				return false, err
			}
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue
			}
			d := ch.Delta
			if err := asm.text("thinking", PartThinking, firstNonEmpty(d.ReasoningContent, d.Reasoning)); err != nil {
				return false, err
			}
			if err := asm.text("text", PartText, firstNonEmpty(rawJSONString(d.Content), d.Refusal)); err != nil {
				return false, err
			}
			for i, tc := range d.ToolCalls {
				idx := i
				if tc.Index != nil {
					idx = *tc.Index
				}
				key := "tool" + strconv.Itoa(idx)
				if !asm.hasKey(key) {
					id := tc.ID
					if id == "" {
						id = "call_" + strconv.Itoa(idx)
					}
					if err := asm.startCall(key, id, tc.Function.Name); err != nil {
						return false, err
					}
				} else {
					asm.setCall(key, tc.ID, tc.Function.Name, "")
				}
				if err := asm.callArgs(key, tc.Function.Arguments); err != nil {
					return false, err
				}
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finish, sawFinish = *ch.FinishReason, true
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !done && !sawFinish {
		return nil, ErrIncomplete
	}
	out.Message = asm.message()
	out.RawStopReason = finish
	out.StopReason = chatStopReason(finish, hasToolCalls(out.Message))
	return out, nil
}

// streamError turns an {"error":…} member (sent by some compatible servers inside a 200 body) into an APIError.
func streamError(raw json.RawMessage) *APIError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	typ, msg := parseErrorBody([]byte(`{"error":` + string(raw) + `}`))
	if typ == "" && msg == "" {
		msg = string(raw)
	}
	return &APIError{Type: typ, Message: msg}
}

func chatStopReason(raw string, toolCalls bool) StopReason {
	switch raw {
	case "length":
		return StopMaxTokens
	case "content_filter":
		return StopContentFilter
	case "tool_calls", "function_call":
		return StopToolUse
	case "stop", "", "end_turn", "eos":
		if toolCalls {
			return StopToolUse
		}
		return StopEndTurn
	}
	if toolCalls {
		return StopToolUse
	}
	return StopOther
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
