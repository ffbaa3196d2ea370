package llm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// AnthropicClient speaks the Anthropic Messages API (POST {base}/v1/messages, anthropic-version 2023-06-01).
// Thinking parts with a signature are sent back as thinking blocks, as the API requires during tool use.
type AnthropicClient struct{ cfg Config }

// NewAnthropic returns a Messages client.
func NewAnthropic(cfg Config) *AnthropicClient { return &AnthropicClient{cfg: cfg} }

// AnthropicVersion is the anthropic-version header sent.
const AnthropicVersion = "2023-06-01"

// anthropicDefaultMaxTokens is sent when the request sets none (the API requires max_tokens).
const anthropicDefaultMaxTokens = 4096

func (c *AnthropicClient) url() string {
	return withVersion(c.cfg.base(DefaultAnthropicBaseURL), "v1") + "/messages"
}

func (c *AnthropicClient) headers() map[string]string {
	h := map[string]string{"anthropic-version": AnthropicVersion}
	if c.cfg.APIKey != "" {
		h["x-api-key"] = c.cfg.APIKey
	}
	return h
}

type antBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Thinking     string          `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Source       *antSource      `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      string          `json:"content,omitempty"`
	IsError      bool            `json:"is_error,omitempty"`
	CacheControl *antCache       `json:"cache_control,omitempty"`
}

type antSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
}

type antCache struct {
	Type string `json:"type"`
}

type antMessage struct {
	Role    string     `json:"role"`
	Content []antBlock `json:"content"`
}

func (c *AnthropicClient) body(req Request, stream bool) map[string]any {
	msgs := make([]antMessage, 0, len(req.Messages))
	for _, m := range req.Messages {
		am := antMessage{Role: string(RoleUser), Content: []antBlock{}}
		if m.Role == RoleAssistant {
			am.Role = string(RoleAssistant)
		}
		for _, p := range m.Parts {
			if b, ok := anthropicBlock(p, m.Role); ok {
				am.Content = append(am.Content, b)
			}
		}
		if len(am.Content) == 0 {
			continue // the API rejects empty content
		}
		msgs = append(msgs, am)
	}
	if req.PromptCaching && len(msgs) > 0 {
		// The breakpoint goes on the last block that may carry one (thinking blocks may not).
		last := msgs[len(msgs)-1].Content
		for i := len(last) - 1; i >= 0; i-- {
			if last[i].Type != "thinking" {
				last[i].CacheControl = &antCache{Type: "ephemeral"}
				break
			}
		}
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = anthropicDefaultMaxTokens
	}
	body := map[string]any{"model": req.Model, "messages": msgs, "max_tokens": maxTokens}
	if req.System != "" {
		sys := antBlock{Type: "text", Text: req.System}
		if req.PromptCaching {
			sys.CacheControl = &antCache{Type: "ephemeral"}
		}
		body["system"] = []antBlock{sys}
	}
	if len(req.Tools) > 0 {
		tools := make([]map[string]any, len(req.Tools))
		for i, t := range req.Tools {
			tools[i] = map[string]any{"name": t.Name, "input_schema": schemaOrObject(t.InputSchema)}
			if t.Description != "" {
				tools[i]["description"] = t.Description
			}
		}
		body["tools"] = tools
		switch req.ToolChoice {
		case "", ToolChoiceAuto:
		case ToolChoiceNone:
			body["tool_choice"] = map[string]string{"type": "none"}
		case ToolChoiceRequired:
			body["tool_choice"] = map[string]string{"type": "any"}
		default:
			body["tool_choice"] = map[string]string{"type": "tool", "name": req.ToolChoice}
		}
	}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if len(req.StopSequences) > 0 {
		body["stop_sequences"] = req.StopSequences
	}
	if stream {
		body["stream"] = true
	}
	return body
}

func anthropicBlock(p Part, role Role) (antBlock, bool) {
	switch p.Type {
	case PartText:
		if p.Text == "" {
			return antBlock{}, false
		}
		return antBlock{Type: "text", Text: p.Text}, true
	case PartImage:
		return antBlock{Type: "image", Source: &antSource{Type: "base64", MediaType: p.MediaType,
			Data: base64.StdEncoding.EncodeToString(p.Data)}}, true
	case PartThinking:
		// Only signed thinking can be replayed; unsigned thinking came from elsewhere and is dropped.
		if role != RoleAssistant || p.Signature == "" {
			return antBlock{}, false
		}
		return antBlock{Type: "thinking", Thinking: p.Text, Signature: p.Signature}, true
	case PartToolCall:
		if p.ToolCall == nil {
			return antBlock{}, false
		}
		return antBlock{Type: "tool_use", ID: p.ToolCall.ID, Name: p.ToolCall.Name, Input: argsObject(p.ToolCall.Arguments)}, true
	case PartToolResult:
		if p.ToolResult == nil {
			return antBlock{}, false
		}
		return antBlock{Type: "tool_result", ToolUseID: p.ToolResult.CallID, Content: p.ToolResult.Content,
			IsError: p.ToolResult.IsError}, true
	}
	return antBlock{}, false
}

type antRespBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type antResponse struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Model      string          `json:"model"`
	Content    []antRespBlock  `json:"content"`
	StopReason string          `json:"stop_reason"`
	Usage      *anthropicUsage `json:"usage"`
	Error      json.RawMessage `json:"error"`
}

func anthropicStop(raw string, toolCalls bool) StopReason {
	switch raw {
	case "end_turn", "pause_turn":
		if toolCalls {
			return StopToolUse
		}
		return StopEndTurn
	case "tool_use":
		return StopToolUse
	case "max_tokens", "model_context_window_exceeded":
		return StopMaxTokens
	case "stop_sequence":
		return StopSequence
	case "refusal":
		return StopContentFilter
	}
	if toolCalls {
		return StopToolUse
	}
	return StopOther
}

// Complete implements Client.
func (c *AnthropicClient) Complete(ctx context.Context, req Request) (*Response, error) {
	resp, err := c.cfg.post(ctx, c.url(), c.body(req, false), c.headers(), false)
	if err != nil {
		return nil, err
	}
	return c.decode(ctx, resp)
}

// decode reads a whole (non-streamed) response body.
func (c *AnthropicClient) decode(ctx context.Context, resp *http.Response) (*Response, error) {
	var ar antResponse
	if err := readJSON(ctx, resp, &ar); err != nil {
		return nil, err
	}
	if e := streamError(ar.Error); e != nil {
		return nil, e
	}
	msg := Message{Role: RoleAssistant}
	for _, b := range ar.Content {
		switch b.Type {
		case "text":
			msg.Parts = append(msg.Parts, TextPart(b.Text))
		case "thinking":
			msg.Parts = append(msg.Parts, Part{Type: PartThinking, Text: b.Thinking, Signature: b.Signature})
		case "tool_use":
			args := "{}"
			if len(b.Input) > 0 && string(b.Input) != "null" {
				args = string(b.Input)
			}
			msg.Parts = append(msg.Parts, ToolCallPart(b.ID, b.Name, args))
		}
	}
	return &Response{ID: ar.ID, Model: ar.Model, Message: msg, RawStopReason: ar.StopReason,
		StopReason: anthropicStop(ar.StopReason, hasToolCalls(msg)), Usage: ar.Usage.apply(Usage{})}, nil
}

type antEvent struct {
	Type         string        `json:"type"`
	Index        int           `json:"index"`
	Message      *antResponse  `json:"message"`
	ContentBlock *antRespBlock `json:"content_block"`
	Delta        *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		Thinking    string `json:"thinking"`
		Signature   string `json:"signature"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// Stream implements Client.
func (c *AnthropicClient) Stream(ctx context.Context, req Request, fn func(Event) error) (*Response, error) {
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
	done, err := streamSSE(ctx, resp, func(ev sseEvent) (bool, error) {
		var e antEvent
		if err := decodeEvent(ev, &e); err != nil {
			return false, err
		}
		if e.Type == "" {
			e.Type = ev.Event
		}
		key := "b" + strconv.Itoa(e.Index)
		switch e.Type {
		case "message_start":
			if e.Message != nil {
				out.ID, out.Model = e.Message.ID, e.Message.Model
				out.Usage = e.Message.Usage.apply(out.Usage)
				return false, asm.emit(Event{Type: EventUsage, Usage: out.Usage})
			}
		case "content_block_start":
			b := e.ContentBlock
			if b == nil {
				return false, nil
			}
			switch b.Type {
			case "tool_use":
				if err := asm.startCall(key, b.ID, b.Name); err != nil {
					return false, err
				}
				if len(b.Input) > 0 && string(b.Input) != "{}" && string(b.Input) != "null" {
					return false, asm.callArgs(key, string(b.Input))
				}
			case "text":
				return false, asm.text(key, PartText, b.Text)
			case "thinking":
				return false, asm.text(key, PartThinking, b.Thinking)
			}
		case "content_block_delta":
			d := e.Delta
			if d == nil {
				return false, nil
			}
			switch d.Type {
			case "text_delta":
				return false, asm.text(key, PartText, d.Text)
			case "thinking_delta":
				return false, asm.text(key, PartThinking, d.Thinking)
			case "signature_delta":
				asm.signature(key, PartThinking, d.Signature)
			case "input_json_delta":
				return false, asm.callArgs(key, d.PartialJSON)
			}
		case "message_delta":
			if e.Delta != nil && e.Delta.StopReason != "" {
				out.RawStopReason = e.Delta.StopReason
			}
			if e.Usage != nil {
				out.Usage = e.Usage.apply(out.Usage)
				return false, asm.emit(Event{Type: EventUsage, Usage: out.Usage})
			}
		case "message_stop":
			return true, nil
		case "error":
			if e := streamError(e.Error); e != nil {
				return false, e
			}
			return false, &APIError{Message: "stream error"}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !done {
		return nil, fmt.Errorf("%w (no message_stop)", ErrIncomplete)
	}
	out.Message = asm.message()
	out.StopReason = anthropicStop(out.RawStopReason, hasToolCalls(out.Message))
	return out, nil
}
