package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// OpenAIResponsesClient speaks the OpenAI Responses API (POST {base}/responses) statelessly: store is false and
// the whole conversation is sent as input items on every call. Reasoning summaries come out as thinking parts;
// thinking parts are not sent back, and stop sequences are not supported by this API.
type OpenAIResponsesClient struct{ cfg Config }

// NewOpenAIResponses returns a Responses client.
func NewOpenAIResponses(cfg Config) *OpenAIResponsesClient { return &OpenAIResponsesClient{cfg: cfg} }

func (c *OpenAIResponsesClient) url() string { return c.cfg.base(DefaultOpenAIBaseURL) + "/responses" }

func (c *OpenAIResponsesClient) headers() map[string]string {
	if c.cfg.APIKey == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + c.cfg.APIKey}
}

type respContent struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
}

func (c *OpenAIResponsesClient) body(req Request, stream bool) map[string]any {
	var input []map[string]any
	for _, m := range req.Messages {
		input = append(input, responsesItems(m)...)
	}
	if input == nil {
		input = []map[string]any{}
	}
	body := map[string]any{"model": req.Model, "input": input, "store": false}
	if req.System != "" {
		body["instructions"] = req.System
	}
	if len(req.Tools) > 0 {
		tools := make([]map[string]any, len(req.Tools))
		for i, t := range req.Tools {
			tools[i] = map[string]any{"type": "function", "name": t.Name, "parameters": schemaOrObject(t.InputSchema), "strict": false}
			if t.Description != "" {
				tools[i]["description"] = t.Description
			}
		}
		body["tools"] = tools
		switch req.ToolChoice {
		case "":
		case ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired:
			body["tool_choice"] = req.ToolChoice
		default:
			body["tool_choice"] = map[string]string{"type": "function", "name": req.ToolChoice}
		}
	}
	if req.MaxTokens > 0 {
		body["max_output_tokens"] = req.MaxTokens
	}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if stream {
		body["stream"] = true
	}
	return body
}

// responsesItems renders one neutral message as input items, keeping the order of its parts.
func responsesItems(m Message) []map[string]any {
	var items []map[string]any
	if m.Role == RoleAssistant {
		for _, p := range m.Parts {
			switch p.Type {
			case PartText:
				if p.Text != "" {
					items = append(items, map[string]any{"role": "assistant", "content": p.Text})
				}
			case PartToolCall:
				if tc := p.ToolCall; tc != nil {
					items = append(items, map[string]any{"type": "function_call", "call_id": tc.ID, "name": tc.Name,
						"arguments": normArgs(tc.Arguments)})
				}
			}
		}
		return items
	}
	var content []respContent
	flush := func() {
		if len(content) > 0 {
			items = append(items, map[string]any{"role": "user", "content": content})
			content = nil
		}
	}
	for _, p := range m.Parts {
		switch p.Type {
		case PartText:
			content = append(content, respContent{Type: "input_text", Text: p.Text})
		case PartImage:
			content = append(content, respContent{Type: "input_image", ImageURL: dataURL(p.MediaType, p.Data)})
		case PartToolResult:
			if tr := p.ToolResult; tr != nil {
				flush()
				items = append(items, map[string]any{"type": "function_call_output", "call_id": tr.CallID, "output": tr.Content})
			}
		}
	}
	flush()
	return items
}

type respItem struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Content   []struct {
		Type    string `json:"type"`
		Text    string `json:"text"`
		Refusal string `json:"refusal"`
	} `json:"content"`
	Summary []struct {
		Text string `json:"text"`
	} `json:"summary"`
}

type respResponse struct {
	ID                string          `json:"id"`
	Model             string          `json:"model"`
	Status            string          `json:"status"`
	Output            []respItem      `json:"output"`
	Usage             *responsesUsage `json:"usage"`
	Error             json.RawMessage `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
}

func (r *respResponse) stop(toolCalls bool) (StopReason, string) {
	raw := r.Status
	if r.IncompleteDetails != nil && r.IncompleteDetails.Reason != "" {
		raw = r.IncompleteDetails.Reason
	}
	switch {
	case toolCalls:
		return StopToolUse, raw
	case raw == "max_output_tokens":
		return StopMaxTokens, raw
	case raw == "content_filter":
		return StopContentFilter, raw
	case raw == "completed" || raw == "":
		return StopEndTurn, raw
	}
	return StopOther, raw
}

// outputMessage converts output items to the assistant message.
func outputMessage(items []respItem) Message {
	msg := Message{Role: RoleAssistant}
	for _, it := range items {
		switch it.Type {
		case "reasoning":
			for _, s := range it.Summary {
				if s.Text != "" {
					msg.Parts = append(msg.Parts, Part{Type: PartThinking, Text: s.Text})
				}
			}
		case "message":
			text := ""
			for _, c := range it.Content {
				text += c.Text + c.Refusal
			}
			if text != "" {
				msg.Parts = append(msg.Parts, TextPart(text))
			}
		case "function_call":
			msg.Parts = append(msg.Parts, ToolCallPart(firstNonEmpty(it.CallID, it.ID), it.Name, normArgs(it.Arguments)))
		}
	}
	return msg
}

func (r *respResponse) failure() *APIError {
	if e := streamError(r.Error); e != nil {
		return e
	}
	if r.Status == "failed" {
		return &APIError{Message: "response failed"}
	}
	return nil
}

// Complete implements Client.
func (c *OpenAIResponsesClient) Complete(ctx context.Context, req Request) (*Response, error) {
	resp, err := c.cfg.post(ctx, c.url(), c.body(req, false), c.headers(), false)
	if err != nil {
		return nil, err
	}
	return c.decode(ctx, resp)
}

// decode reads a whole (non-streamed) response body.
func (c *OpenAIResponsesClient) decode(ctx context.Context, resp *http.Response) (*Response, error) {
	var rr respResponse
	if err := readJSON(ctx, resp, &rr); err != nil {
		return nil, err
	}
	if e := rr.failure(); e != nil {
		return nil, e
	}
	out := &Response{ID: rr.ID, Model: rr.Model, Message: outputMessage(rr.Output), Usage: rr.Usage.usage()}
	out.StopReason, out.RawStopReason = rr.stop(hasToolCalls(out.Message))
	return out, nil
}

type respEvent struct {
	Type        string          `json:"type"`
	OutputIndex int             `json:"output_index"`
	Delta       string          `json:"delta"`
	Arguments   string          `json:"arguments"`
	Item        *respItem       `json:"item"`
	Response    *respResponse   `json:"response"`
	Code        json.RawMessage `json:"code"`
	Message     string          `json:"message"`
}

// Stream implements Client.
func (c *OpenAIResponsesClient) Stream(ctx context.Context, req Request, fn func(Event) error) (*Response, error) {
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
	var final *respResponse
	out := &Response{}
	_, err = streamSSE(ctx, resp, func(ev sseEvent) (bool, error) {
		var e respEvent
		if err := decodeEvent(ev, &e); err != nil {
			return false, err
		}
		if e.Type == "" {
			e.Type = ev.Event
		}
		key := "o" + strconv.Itoa(e.OutputIndex)
		switch e.Type {
		case "response.created", "response.in_progress":
			if e.Response != nil {
				out.ID, out.Model = e.Response.ID, e.Response.Model
			}
		case "response.output_item.added":
			if e.Item != nil && e.Item.Type == "function_call" {
				return false, asm.startCall(key, firstNonEmpty(e.Item.CallID, e.Item.ID), e.Item.Name)
			}
		case "response.output_text.delta", "response.refusal.delta":
			return false, asm.text(key, PartText, e.Delta)
		case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
			return false, asm.text(key, PartThinking, e.Delta)
		case "response.function_call_arguments.delta":
			return false, asm.callArgs(key, e.Delta)
		case "response.function_call_arguments.done":
			asm.setCall(key, "", "", e.Arguments)
		case "response.output_item.done":
			return false, itemDone(asm, key, e.Item)
		case "response.completed", "response.incomplete":
			if e.Response == nil {
				return false, fmt.Errorf("%w: %s without a response", ErrBadResponse, e.Type)
			}
			final = e.Response
			return true, nil
		case "response.failed":
			if e.Response != nil {
				if f := e.Response.failure(); f != nil {
					return false, f
				}
			}
			return false, &APIError{Message: "response failed"}
		case "error":
			return false, &APIError{Type: jsonScalar(e.Code), Message: e.Message}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if final == nil {
		return nil, ErrIncomplete
	}
	out.Message = asm.message()
	if len(out.Message.Parts) == 0 && len(final.Output) > 0 {
		out.Message = outputMessage(final.Output)
	}
	out.ID, out.Model = firstNonEmpty(final.ID, out.ID), firstNonEmpty(final.Model, out.Model)
	out.Usage = final.Usage.usage()
	out.StopReason, out.RawStopReason = final.stop(hasToolCalls(out.Message))
	if err := asm.emit(Event{Type: EventUsage, Usage: out.Usage}); err != nil {
		return nil, err
	}
	return out, nil
}

// itemDone applies a finished output item: its final values win over the deltas, and an item that streamed no
// delta still makes it into the message.
func itemDone(asm *assembler, key string, it *respItem) error {
	if it == nil {
		return nil
	}
	switch it.Type {
	case "function_call":
		if !asm.hasKey(key) {
			if err := asm.startCall(key, firstNonEmpty(it.CallID, it.ID), it.Name); err != nil {
				return err
			}
			return asm.callArgs(key, it.Arguments)
		}
		asm.setCall(key, firstNonEmpty(it.CallID, it.ID), it.Name, it.Arguments)
	case "message":
		if !asm.hasKey(key) {
			m := outputMessage([]respItem{*it})
			return asm.text(key, PartText, m.Text())
		}
	}
	return nil
}

// jsonScalar renders a JSON string or number as text.
func jsonScalar(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return ""
}
